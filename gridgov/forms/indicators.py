"""The vocabulary of indicators: named figures a form can ask for, defined in a data file
(geodata/indicators.csv), not in code, so a city adds indicators without a release.

Each indicator has a code, a kind, Chinese and English names, a definition over the
register, incidents, supplies, sensors and visits, and the other names forms give it. Kinds:
``count``/``sum``/``mean`` are figures for an area and period; ``field`` is a column of a
roster (one row per person); ``key`` identifies a row (a name, an ID number, an area);
``meta`` is about the form itself (row number, who filled it in, remarks).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

FIGURES = frozenset({"count", "sum", "mean"})
KINDS = FIGURES | {"field", "key", "meta"}
# Units and notes in brackets after a field name: 总人口（人）, 补贴金额(元).
_BRACKETS = re.compile(r"[（(][^）)]*[）)]")


@dataclass(frozen=True)
class Indicator:
    """One named figure or column."""

    code: str
    kind: str
    name_zh: str
    name_en: str
    definition: str
    synonyms: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Every name a form may give it, normalised."""
        return tuple(normalise(n) for n in (self.name_zh, self.name_en, *self.synonyms))


def normalise(name: str) -> str:
    """A field name without spaces, units in brackets or trailing colons.

    >>> normalise(" 总人口（人）："), normalise("补贴金额(元)")
    ('总人口', '补贴金额')
    """
    text = _BRACKETS.sub("", name)
    return re.sub(r"\s+", "", text).rstrip(":：").lower()


def load_indicators(path: Path | str) -> list[Indicator]:
    """The vocabulary file: code, kind, name_zh, name_en, definition, synonyms (| between)."""
    with Path(path).open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    indicators = []
    for line, row in enumerate(rows, start=2):
        if row["kind"] not in KINDS:
            raise ValueError(f"{path}: row {line}: kind {row['kind']!r} is not one of {KINDS}")
        synonyms = tuple(s.strip() for s in (row.get("synonyms") or "").split("|") if s.strip())
        indicators.append(
            Indicator(
                code=row["code"].strip(),
                kind=row["kind"],
                name_zh=row["name_zh"].strip(),
                name_en=row["name_en"].strip(),
                definition=(row.get("definition") or "").strip(),
                synonyms=synonyms,
            )
        )
    return indicators
