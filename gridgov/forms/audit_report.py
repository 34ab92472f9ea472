"""The forms audit as a terminal table and as an XLSX workbook, in the caller's language."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from gridgov.forms.audit import Audit
from gridgov.i18n import t


def _indicator_name(name_zh: str, name_en: str, lang: str) -> str:
    return name_zh if lang == "zh" else name_en


def render_text(audit: Audit, lang: str = "zh") -> str:
    """Every form with its verdict, then the merge candidates and the uncovered fields."""
    lines = [t("forms.audit.summary", lang, forms=len(audit.forms), automatic=len(audit.automatic))]
    for form in audit.forms:
        verdict = t("forms.audit.automatic" if form.automatic else "forms.audit.partial", lang)
        lines.append(f"  {form.name}  {verdict}  ({len(form.matches)})")
        for match in form.matches:
            if match.indicator is None:
                target = t("forms.audit.uncovered_field", lang)
            else:
                target = _indicator_name(match.indicator.name_zh, match.indicator.name_en, lang)
            method = t("forms.audit.method." + match.method, lang)
            lines.append(f"      {match.field} -> {target}  [{method} {match.score:.0f}]")
    lines.append(t("forms.audit.merges", lang, count=len(audit.merges)))
    for merge in audit.merges:
        lines.append(f"  {' + '.join(merge.forms)}: {', '.join(merge.shared)}")
    uncovered = audit.uncovered
    lines.append(t("forms.audit.uncovered", lang, count=len(uncovered)))
    for name, forms in uncovered.items():
        lines.append(f"  {name}: {', '.join(forms)}")
    return "\n".join(lines)


def write_workbook(audit: Audit, path: Path, lang: str = "zh") -> None:
    """Four sheets: forms, field mapping, merge candidates, uncovered fields. (openpyxl, the
    project's XLSX library already, writes a new workbook as well as it edits a template.)"""
    book = Workbook()
    forms = book.active
    assert forms is not None
    forms.title = t("forms.sheet.forms", lang)
    _rows(forms, ["form", "title", "fields", "uncovered", "automatic"], lang, [
        [f.name, f.title, len(f.matches), len(f.uncovered), "✓" if f.automatic else ""]
        for f in audit.forms
    ])  # fmt: skip
    mapping = book.create_sheet(t("forms.sheet.mapping", lang))
    _rows(mapping, ["form", "field", "indicator", "method", "confidence"], lang, [
        [f.name, m.field, m.indicator.code if m.indicator else "",
         t("forms.audit.method." + m.method, lang), m.score]
        for f in audit.forms for m in f.matches
    ])  # fmt: skip
    merges = book.create_sheet(t("forms.sheet.merges", lang))
    _rows(merges, ["forms", "shared"], lang, [
        ["、".join(m.forms), "、".join(m.shared)] for m in audit.merges
    ])  # fmt: skip
    uncovered = book.create_sheet(t("forms.sheet.uncovered", lang))
    _rows(uncovered, ["field", "forms"], lang, [
        [name, "、".join(names)] for name, names in audit.uncovered.items()
    ])  # fmt: skip
    book.save(path)


def _rows(sheet: Worksheet, columns: list[str], lang: str, rows: list[list[object]]) -> None:
    sheet.append([t("forms.column." + c, lang) for c in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
