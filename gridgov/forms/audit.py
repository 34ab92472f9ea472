"""Which forms are really needed (Nanhua's 2,142 -> 320): read a folder of the XLSX forms that
departments send down, map each field to an indicator, and say which forms fill themselves,
which ask for nearly the same figures (candidates to merge), and what no indicator covers.

A field maps by its exact name, then by a synonym, then by fuzzy matching of the Chinese
name (rapidfuzz's ratio; the confidence is shown). Row keys (name, ID number, area) and
form matter (row number, remarks) are recognised but not counted as content.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from rapidfuzz import fuzz, process

from gridgov.errors import Refusal
from gridgov.forms.indicators import FIGURES, Indicator, normalise

FUZZY_CUTOFF = 80.0
# Two forms are candidates to merge when they share at least this many content fields, and
# the shared ones are at least this share of the smaller form's.
MERGE_MIN_SHARED = 3
MERGE_MIN_SHARE = 0.6
# Header cells of forms whose fields run down the first column.
ROW_HEADERS = frozenset({"项目", "项目名称", "指标", "指标名称", "内容"})
TOTAL_ROWS = frozenset({"合计", "总计", "小计"})


class FormError(Refusal):
    """A form that cannot be read (corrupt, password-protected, no header): names the file."""


@dataclass(frozen=True)
class Match:
    """One field of a form and the indicator it maps to (None: nothing covers it)."""

    field: str
    indicator: Indicator | None
    method: str  # exact, synonym, fuzzy or none
    score: float

    @property
    def content(self) -> bool:
        """Whether the field asks for a figure or a roster column (not a key or form matter)."""
        return self.indicator is None or self.indicator.kind in FIGURES | {"field"}


@dataclass(frozen=True)
class FormAudit:
    """One form: its file, title and fields, each mapped."""

    name: str
    title: str
    matches: list[Match]

    @property
    def uncovered(self) -> list[str]:
        return [m.field for m in self.matches if m.indicator is None]

    @property
    def automatic(self) -> bool:
        """Every field is covered: the form fills itself."""
        return not self.uncovered

    @property
    def content(self) -> frozenset[str]:
        """The codes of the indicators the form asks for (keys and form matter left out)."""
        return frozenset(m.indicator.code for m in self.matches if m.indicator and m.content)


@dataclass(frozen=True)
class MergeCandidate:
    """Forms that ask for mostly the same figures, and the figures they share."""

    forms: tuple[str, ...]
    shared: tuple[str, ...]


@dataclass
class Audit:
    """The whole folder."""

    forms: list[FormAudit]
    merges: list[MergeCandidate] = field(default_factory=list)

    @property
    def automatic(self) -> list[str]:
        return [f.name for f in self.forms if f.automatic]

    @property
    def uncovered(self) -> dict[str, list[str]]:
        """Each field no indicator covers, with the forms that ask for it."""
        found: dict[str, list[str]] = {}
        for form in self.forms:
            for name in form.uncovered:
                found.setdefault(name, []).append(form.name)
        return found


def read_form_fields(path: Path) -> tuple[str, list[str]]:
    """The title and the field names of the first sheet of a form."""
    try:
        book = load_workbook(path, read_only=True, data_only=False)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        reason = "encrypted or not an .xlsx file" if isinstance(exc, zipfile.BadZipFile) else exc
        raise FormError("forms.unreadable", path=path, detail=reason) from exc
    try:
        sheet = book.worksheets[0]
        rows = [
            [str(v).strip() if isinstance(v, str) else v for v in row]
            for row in sheet.iter_rows(max_row=60, values_only=True)
        ]
    finally:
        book.close()
    texts = [[c for c in row if isinstance(c, str) and c] for row in rows[:12]]
    if not texts or max(len(t) for t in texts) < 2:
        raise FormError("forms.no_header", path=path)
    header_at = max(range(len(texts)), key=lambda i: (len(texts[i]), -i))
    title = next((t[0] for t in texts[:header_at] if t), path.stem)
    header = texts[header_at]
    if normalise(header[0]) in ROW_HEADERS:
        fields = []
        for row in rows[header_at + 1 :]:
            first = row[0] if row else None
            if not isinstance(first, str) or not first or normalise(first) in TOTAL_ROWS:
                break
            fields.append(first)
        return title, fields
    return title, header


class Vocabulary:
    """The indicators, ready to match field names against."""

    def __init__(self, indicators: list[Indicator]) -> None:
        self.by_name: dict[str, tuple[Indicator, str]] = {}
        for indicator in indicators:
            for position, name in enumerate(indicator.names):
                method = "exact" if position == 0 else "synonym"
                self.by_name.setdefault(name, (indicator, method))
        self.choices = list(self.by_name)

    def match(self, field_name: str) -> Match:
        """The indicator a field asks for: exact name, synonym, then the closest name."""
        key = normalise(field_name)
        if key in self.by_name:
            indicator, method = self.by_name[key]
            return Match(field_name, indicator, method, 100.0)
        best = process.extractOne(key, self.choices, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
        if best is None:
            return Match(field_name, None, "none", 0.0)
        name, score, _ = best
        return Match(field_name, self.by_name[name][0], "fuzzy", round(float(score), 1))


def audit_forms(folder: Path, indicators: list[Indicator]) -> Audit:
    """Audit every .xlsx form in ``folder`` (sorted by name)."""
    vocabulary = Vocabulary(indicators)
    paths = sorted(p for p in folder.glob("*.xlsx") if not p.name.startswith("~$"))
    if not paths:
        raise FormError("forms.none", folder=folder)
    forms = []
    for path in paths:
        title, fields = read_form_fields(path)
        forms.append(FormAudit(path.stem, title, [vocabulary.match(f) for f in fields]))
    return Audit(forms=forms, merges=merge_candidates(forms))


def merge_candidates(forms: list[FormAudit]) -> list[MergeCandidate]:
    """Groups of forms linked by pairs that share most of their content fields."""
    linked: dict[str, set[str]] = {f.name: {f.name} for f in forms}
    content = {f.name: f.content for f in forms}
    for a, b in combinations(sorted(content), 2):
        shared = content[a] & content[b]
        smaller = min(len(content[a]), len(content[b]))
        if len(shared) >= MERGE_MIN_SHARED and len(shared) / smaller >= MERGE_MIN_SHARE:
            group = linked[a] | linked[b]
            for name in group:
                linked[name] = group
    groups = {tuple(sorted(g)) for g in linked.values() if len(g) > 1}
    return [
        MergeCandidate(group, tuple(sorted(frozenset.intersection(*(content[n] for n in group)))))
        for group in sorted(groups)
    ]
