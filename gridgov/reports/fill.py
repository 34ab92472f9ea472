"""Fill a department's XLSX form from the database (帮我填), keeping everything else of it.

What a template may hold (docs/REPORTS.md has examples):

- ``{{name}}`` in a cell: the figure an indicator names (code, Chinese or English name or a
  synonym from geodata/indicators.csv) or an inline definition ``{{count(incident,
  status = closed)}}``, for the whole area and period. Inside other text it is replaced as
  text, as are ``{{area_name}}``, ``{{area_code}}``, ``{{period}}`` and ``{{filled_on}}``.
- A pattern row: one cell holds ``{{each sub_area}}`` (the areas directly below),
  ``{{each community}}`` (every community inside; also district, street, grid),
  ``{{each category}}`` (``{{each category: 06}}`` for one class's sub-classes),
  ``{{each status}}``, ``{{each age_band: 0-59, 60-79, 80-}}`` or ``{{each FIELD: a, b}}``.
  The row is repeated once per member (the marker becomes the member's name); its figures
  are narrowed to the member; an empty cell of the row whose column header (up to three
  rows above) names an indicator is filled too.
  ``{{each person: age >= 80}}`` (or ``{{each household: tier = red}}``) is a roster: one
  row per person (household) matching the conditions, numbered in the marker's cell, its
  columns the ``field``/``key`` indicators placed in the row or named by the headers above
  it (gridgov.reports.rosters: the register's read table decides, its access log records).
- A pattern column: a header cell holds ``{{across status: dispatched, closed}}`` (the same
  members as ``each``, rosters excepted). The column is repeated rightwards once per member
  (the marker becomes its name; widths, merged cells and formulas follow, a ``SUM`` ending
  on it grows) and every figure below it in the column is narrowed to the member: with a
  pattern row below, a cross table (categories down, statuses across). Places may be
  members down or across, not both. As in Excel, the whole column is repeated, top to
  bottom: a sheet's other parts keep out of it (or go on a sheet of their own).
- A cell naming an indicator, outside the headers of a pattern row, with an empty cell on
  its right: the figure goes into that cell (``总人口（人）`` | ``____``).

Nothing is written until every name in the template is understood: unknown ones are listed
with their cell and the closest known names (``TemplateRefused``).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import Cell, MergedCell
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.boundaries.levels import Level
from gridgov.errors import FieldError
from gridgov.forms.indicators import Indicator
from gridgov.i18n import t
from gridgov.incidents.models import STATUSES
from gridgov.reports.definitions import Condition, Definition
from gridgov.reports.indicators import (
    SUPPRESSED,
    IndicatorError,
    Value,
    Vocabulary,
    figure,
    figures_by_place,
    places_at,
    sub_places,
)
from gridgov.reports.rosters import (
    ROSTERS,
    RosterReader,
    RosterRow,
    check_roster,
    field_path,
    field_value,
    known_field,
    roster_rows,
)
from gridgov.reports.rows import repeat_column, repeat_row
from gridgov.reports.sources import Period, Place
from gridgov.responsibilities.models import Category

PLACEHOLDER = re.compile(r"\{\{\s*(.+?)\s*\}\}")
EACH = re.compile(r"^each\s+(\w+)\s*(?::\s*(.*))?$", re.DOTALL)
ACROSS = re.compile(r"^across\s+(\w+)\s*(?::\s*(.*))?$", re.DOTALL)
MAX_COLUMNS = 500  # members of one pattern column
CONTEXT_NAMES = ("area_name", "area_code", "period", "filled_on")
HEADER_ROWS = 3  # how far above a pattern row its column headers may sit
MAX_ROWS = 5000  # members of one pattern row (a roster of a whole city is not a form)
# Encrypted OOXML is an OLE compound file holding an "EncryptionInfo" stream.
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptionInfo".encode("utf-16-le")


@dataclass(frozen=True)
class CellProblem:
    """A name in a template cell that cannot be filled, and why."""

    sheet: str
    cell: str
    name: str
    key: str
    suggested: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)

    def reason(self, lang: str) -> str:
        params = {"name": self.name, "suggestions": ", ".join(self.suggested) or "-"}
        return t(self.key, lang, **{**params, **self.params})


class TemplateRefused(FieldError):
    """The template names things that cannot be filled; nothing was written."""

    def __init__(self, problems: Sequence[CellProblem]) -> None:
        self.problems = list(problems)
        super().__init__("template", "reports.template_refused", count=len(self.problems))


class TemplateUnreadable(FieldError):
    """Not an XLSX gridgov can open (corrupt, password-protected, old .xls)."""

    def __init__(self, key: str) -> None:
        super().__init__("template", key)


@dataclass
class Member:
    """One row of a pattern: a label, and the place or conditions that narrow its figures."""

    label: str | int
    conditions: tuple[Condition, ...] = ()
    place: Place | None = None
    row: RosterRow | None = None  # a roster's person (or household)


@dataclass
class Pattern:
    """A pattern row of a sheet and what it is repeated over."""

    row: int
    marker: Cell
    dimension: str
    argument: str
    cells: dict[int, Definition] = field(default_factory=dict)  # column -> figure
    fields: dict[int, Indicator] = field(default_factory=dict)  # column -> roster field
    members: list[Member] = field(default_factory=list)
    values: list[dict[int, Value]] = field(default_factory=list)


@dataclass
class SheetPlan:
    """Everything a sheet asks for."""

    sheet: Worksheet
    figures: dict[str, Definition] = field(default_factory=dict)  # coordinate -> figure
    texts: dict[str, str] = field(default_factory=dict)  # coordinate -> text with {{}}
    fields: dict[str, Indicator] = field(default_factory=dict)  # coordinate -> roster field
    patterns: list[Pattern] = field(default_factory=list)
    across: list[Pattern] = field(default_factory=list)  # pattern columns, before expansion
    columns: dict[int, Member] = field(default_factory=dict)  # column -> its member, after


@dataclass(frozen=True)
class FillContext:
    """Where, when and for whom a template is filled."""

    place: Place
    period: Period
    lang: str = "zh"
    today: date | None = None
    may_see_people: bool = False
    # Who fills rosters (None: no roster can be filled, e.g. the command line without --as).
    roster: RosterReader | None = None


Progress = Callable[[int, int], None]


def open_template(data: bytes) -> Workbook:
    """The template as a workbook; TemplateUnreadable saying why it cannot be opened."""
    if data.startswith(_OLE):
        key = "reports.template_encrypted" if _ENCRYPTED in data else "reports.template_xls"
        raise TemplateUnreadable(key)
    try:
        return load_workbook(io.BytesIO(data))
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise TemplateUnreadable("reports.template_corrupt") from exc
    except Exception as exc:  # openpyxl raises many other kinds on a damaged XML part
        raise TemplateUnreadable("reports.template_corrupt") from exc


# -- reading what the template asks ------------------------------------------------------


def _cell_text(cell: Cell) -> str | None:
    return cell.value if isinstance(cell.value, str) and cell.data_type != "f" else None


def _merged_value(sheet: Worksheet) -> dict[tuple[int, int], object]:
    """Every cell of a merged range mapped to the range's value (kept in its top-left)."""
    values: dict[tuple[int, int], object] = {}
    for merged in sheet.merged_cells.ranges:
        top = sheet.cell(merged.min_row, merged.min_col).value
        for r in range(merged.min_row, merged.max_row + 1):
            for c in range(merged.min_col, merged.max_col + 1):
                values[(r, c)] = top
    return values


def _rows_above(sheet: Worksheet, merged: dict[tuple[int, int], object], row: int) -> list[int]:
    """The header rows of a pattern row: up to HEADER_ROWS rows right above it, stopping at
    an empty row (what lies beyond it is another part of the form)."""
    found = []
    for above in range(row - 1, max(row - 1 - HEADER_ROWS, 0), -1):
        values = [merged.get((above, c.column), c.value) for c in sheet[above]]
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            break
        found.append(above)
    return found


def _header(sheet: Worksheet, merged: dict[tuple[int, int], object], row: int, column: int):
    for above in _rows_above(sheet, merged, row):
        value = merged.get((above, column), sheet.cell(above, column).value)
        if isinstance(value, str) and value.strip():
            return value
    return None


def plan_sheet(sheet: Worksheet, vocabulary: Vocabulary, problems: list[CellProblem]) -> SheetPlan:
    """Find the placeholders, pattern rows, headers and labels of one sheet."""
    plan = SheetPlan(sheet)

    def definition(cell: Cell, name: str) -> Definition | None:
        try:
            return vocabulary.definition(name)
        except IndicatorError as exc:
            problems.append(
                CellProblem(
                    sheet.title, cell.coordinate, name, exc.key, tuple(exc.suggested), exc.params
                )
            )
            return None

    pattern_rows: dict[int, Pattern] = {}
    for line in sheet.iter_rows():
        for cell in line:
            text = _cell_text(cell)
            if not text or "{{" not in text:
                continue
            found = PLACEHOLDER.findall(text)
            each = EACH.match(found[0]) if len(found) == 1 else None
            across = ACROSS.match(found[0]) if len(found) == 1 else None
            if across:
                argument = (across.group(2) or "").strip()
                plan.across.append(Pattern(cell.row, cell, across.group(1), argument))
            elif each:
                if cell.row in pattern_rows:
                    problems.append(
                        CellProblem(sheet.title, cell.coordinate, found[0], "reports.two_patterns")
                    )
                    continue
                pattern_rows[cell.row] = Pattern(
                    cell.row, cell, each.group(1), (each.group(2) or "").strip()
                )
            elif (
                found[0] not in CONTEXT_NAMES  # {{area_name}} alone in a cell is the area's
                and _roster_field(vocabulary, found[0])
                and PLACEHOLDER.fullmatch(text.strip())
            ):
                plan.fields[cell.coordinate] = _roster_field(vocabulary, found[0])  # type: ignore[assignment]
            elif PLACEHOLDER.fullmatch(text.strip()) and found[0] not in CONTEXT_NAMES:
                made = definition(cell, found[0])
                if made is not None:
                    plan.figures[cell.coordinate] = made
            else:
                for name in found:
                    if name not in CONTEXT_NAMES:
                        made = definition(cell, name)
                        if made is not None:
                            plan.figures.setdefault(f"text:{cell.coordinate}:{name}", made)
                plan.texts[cell.coordinate] = text
    merged = _merged_value(sheet)
    header_rows = {h for r in pattern_rows for h in _rows_above(sheet, merged, r)}
    for pattern in pattern_rows.values():
        for cell in sheet[pattern.row]:
            if isinstance(cell, MergedCell) or cell is pattern.marker:
                continue
            if cell.coordinate in plan.figures:
                pattern.cells[cell.column] = plan.figures.pop(cell.coordinate)
            elif cell.coordinate in plan.fields:
                pattern.fields[cell.column] = plan.fields.pop(cell.coordinate)
            elif cell.value is None:
                header = _header(sheet, merged, pattern.row, cell.column)
                indicator = vocabulary.find(header) if header else None
                if (
                    indicator is not None
                    and indicator.kind in ("field", "key")
                    and pattern.dimension in ROSTERS
                    and indicator.definition.startswith("field(")
                ):
                    pattern.fields[cell.column] = indicator
                elif indicator is not None and indicator.kind in ("count", "sum", "mean"):
                    made = definition(cell, indicator.code)
                    if made is not None:
                        pattern.cells[cell.column] = made
        plan.patterns.append(pattern)
    for coordinate, indicator in plan.fields.items():
        problems.append(
            CellProblem(sheet.title, coordinate, indicator.name_zh, "reports.field_outside_roster")
        )
    for pattern in plan.patterns:
        for column, indicator in pattern.fields.items():
            coordinate = sheet.cell(pattern.row, column).coordinate
            if pattern.dimension not in ROSTERS:
                key = "reports.field_outside_roster"
            elif not known_field(field_path(indicator.definition)):
                key = "reports.unknown_roster_field"
            else:
                continue
            problems.append(CellProblem(sheet.title, coordinate, indicator.name_zh, key))
    for line in sheet.iter_rows():
        for cell in line:
            text = _cell_text(cell)
            if not text or "{{" in text or cell.row in header_rows or cell.row in pattern_rows:
                continue
            indicator = vocabulary.find(text)
            if indicator is None or indicator.kind not in ("count", "sum", "mean", "key"):
                continue
            right = sheet.cell(cell.row, cell.column + 1)
            if isinstance(right, MergedCell) or right.value is not None:
                continue
            if indicator.kind == "key":
                if indicator.code == "area_name":
                    plan.texts[right.coordinate] = "{{area_name}}"
                continue
            made = definition(right, indicator.code)
            if made is not None:
                plan.figures[right.coordinate] = made
    plan.patterns.sort(key=lambda p: p.row)
    return plan


def _roster_field(vocabulary: Vocabulary, name: str) -> Indicator | None:
    """The roster column (a person's name, ID number ...) a placeholder names, if it does."""
    indicator = vocabulary.find(name)
    return indicator if indicator is not None and indicator.kind in ("field", "key") else None


# -- members of a pattern row ------------------------------------------------------------


def _age_bands(argument: str, lang: str) -> list[Member]:
    members = []
    for band in (b.strip() for b in argument.split(",") if b.strip()):
        low, _, high = band.partition("-")
        conditions = [Condition("age", ">=", (low.strip(),))]
        if high.strip():
            conditions.append(Condition("age", "<=", (high.strip(),)))
            label = t("reports.age_band", lang, low=low.strip(), high=high.strip())
        else:
            label = t("reports.age_band_open", lang, low=low.strip())
        members.append(Member(label, tuple(conditions)))
    return members


def members_of(session: Session, pattern: Pattern, context: FillContext) -> list[Member]:
    """What a pattern row is repeated over."""
    lang, argument = context.lang, pattern.argument
    if pattern.dimension == "sub_area":
        return [Member(p.name, place=p) for p in sub_places(session, context.place)]
    if pattern.dimension in ("district", "street", "community", "grid"):
        return [
            Member(p.name, place=p)
            for p in places_at(session, context.place, Level(pattern.dimension))
        ]
    if pattern.dimension == "category":
        query = select(Category).order_by(Category.code)
        query = (
            query.where(Category.parent_code == argument)
            if argument
            else query.where(Category.parent_code.is_(None))
        )
        return [
            Member(
                c.name_zh if lang == "zh" else c.name_en, (Condition("category", "=", (c.code,)),)
            )
            for c in session.scalars(query)
        ]
    if pattern.dimension == "status":
        chosen = [s.strip() for s in argument.split(",") if s.strip()] or list(STATUSES)
        return [Member(t("status." + s, lang), (Condition("status", "=", (s,)),)) for s in chosen]
    if pattern.dimension == "age_band":
        return _age_bands(argument, lang)
    if pattern.dimension in ROSTERS:
        rows = roster_rows(
            session,
            dimension=pattern.dimension,
            argument=argument,
            place=context.place,
            period=context.period,
            roster=context.roster,
            limit=MAX_ROWS,
        )
        return [Member(number, row=row) for number, row in enumerate(rows, start=1)]
    values = [v.strip() for v in argument.split(",") if v.strip()]
    return [Member(v, (Condition(pattern.dimension, "=", (v,)),)) for v in values]


# -- filling ---------------------------------------------------------------------------


def _cell_value(value: Value) -> object:
    return str(SUPPRESSED) if value is SUPPRESSED else value


def _context_text(name: str, context: FillContext) -> str:
    place, period = context.place, context.period
    return {
        "area_name": place.name,
        "area_code": place.code,
        "period": t(
            "reports.period_label", context.lang, year=period.label[:4], month=int(period.label[5:])
        ),
        "filled_on": (context.today or period.as_of.date()).isoformat(),
    }[name]


def _problem(plan: SheetPlan, pattern: Pattern, exc: IndicatorError) -> CellProblem:
    cell = pattern.marker.coordinate
    return CellProblem(plan.sheet.title, cell, exc.name, exc.key, tuple(exc.suggested), exc.params)


def _check_patterns(
    session: Session, plans: list[SheetPlan], context: FillContext, problems: list[CellProblem]
) -> None:
    """Members of every pattern row and column but the rosters (checked, not read yet)."""
    for plan in plans:
        for pattern, limit in [(p, MAX_ROWS) for p in plan.patterns] + [
            (p, MAX_COLUMNS) for p in plan.across
        ]:
            try:
                if pattern.dimension in ROSTERS and pattern in plan.across:
                    raise IndicatorError(pattern.dimension, "reports.roster_across")
                if pattern.dimension in ROSTERS:
                    check_roster(pattern.dimension, pattern.argument, context.roster)
                else:
                    pattern.members = members_of(session, pattern, context)
                if len(pattern.members) > limit:
                    raise IndicatorError(pattern.dimension, "reports.too_many_rows", limit=limit)
            except IndicatorError as exc:
                problems.append(_problem(plan, pattern, exc))
        places_across = [p for p in plan.across if any(m.place for m in p.members)]
        places_down = [p for p in plan.patterns if any(m.place for m in p.members)]
        if places_across and places_down:
            error = IndicatorError(places_across[0].dimension, "reports.places_both_ways")
            problems.append(_problem(plan, places_across[0], error))


def _expand_columns(plan: SheetPlan) -> dict[int, Member]:
    """Repeat each pattern column once per member, left to right; the columns' members."""
    sheet, shift = plan.sheet, 0
    columns: dict[int, Member] = {}
    for pattern in sorted(plan.across, key=lambda p: p.marker.column):
        column, members = pattern.marker.column + shift, pattern.members
        if not members:
            for row in range(pattern.row, sheet.max_row + 1):
                if _cell_text(sheet.cell(row, column)):
                    sheet.cell(row, column).value = None
            continue
        repeat_column(sheet, column, len(members) - 1)
        grown = len(members) - 1
        columns = {c + (grown if c > column else 0): m for c, m in columns.items()}
        for offset, member in enumerate(members):
            columns[column + offset] = member
            sheet.cell(pattern.row, column + offset).value = member.label
        shift += grown
    return columns


def fill_workbook(
    session: Session,
    *,
    workbook: Workbook,
    vocabulary: Vocabulary,
    context: FillContext,
    progress: Progress | None = None,
) -> Workbook:
    """Fill ``workbook`` in place (and return it); TemplateRefused before any change when a
    name cannot be filled."""
    problems: list[CellProblem] = []
    plans = [plan_sheet(sheet, vocabulary, problems) for sheet in workbook.worksheets]
    _check_patterns(session, plans, context, problems)
    if problems:
        raise TemplateRefused(problems)
    for index, plan in enumerate(plans):
        if plan.across:  # the columns are repeated: read the sheet again, rows as they were
            columns = _expand_columns(plan)
            members = {p.row: p.members for p in plan.patterns}
            plans[index] = plan = plan_sheet(plan.sheet, vocabulary, problems)
            plan.columns = columns
            for pattern in plan.patterns:
                pattern.members = members[pattern.row]
    # Rosters are read last: a refused template shows (and logs) nobody.
    for plan in plans:
        for pattern in plan.patterns:
            if pattern.dimension in ROSTERS:
                try:
                    pattern.members = members_of(session, pattern, context)
                except IndicatorError as exc:
                    raise TemplateRefused([_problem(plan, pattern, exc)]) from exc
    total = sum(len(p.figures) for p in plans) + sum(
        len(pattern.cells) * max(len(pattern.members), 1) for p in plans for pattern in p.patterns
    )
    done = 0

    def step(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)

    step(0)  # the plan is understood: the total is known before the first figure

    values: dict[tuple[str, str], Value] = {}
    for plan in plans:
        for key, definition in plan.figures.items():
            across = plan.columns.get(_column_of(key))
            values[(plan.sheet.title, key)] = _figure(
                session,
                definition.narrowed(*across.conditions) if across else definition,
                context,
                problems,
                plan,
                key,
                across.place if across else None,
            )
            step(1)
        for pattern in plan.patterns:
            _fill_pattern(session, pattern, context, problems, plan, step)
    if problems:
        raise TemplateRefused(problems)
    for plan in plans:
        _write(plan, values, context)
    return workbook


def _column_of(key: str) -> int:
    """The column of a figure's key (``C5`` or ``text:C5:name``)."""
    coordinate = key.split(":")[1] if key.startswith("text:") else key
    return column_index_from_string(coordinate_from_string(coordinate)[0])


def _figure(session, definition, context, problems, plan, key, place=None) -> Value:
    try:
        return figure(
            session,
            definition=definition,
            place=place or context.place,
            period=context.period,
            may_see_people=context.may_see_people,
        )
    except IndicatorError as exc:
        cell = key.split(":")[1] if key.startswith("text:") else key
        problems.append(
            CellProblem(plan.sheet.title, cell, exc.name, exc.key, tuple(exc.suggested))
        )
        return None


def _fill_pattern(session, pattern: Pattern, context, problems, plan, step) -> None:
    places = [m.place for m in pattern.members if m.place is not None]
    by_column: dict[int, dict[str, Value]] = {}
    if places and len(places) == len(pattern.members):
        for column, definition in pattern.cells.items():
            across = plan.columns.get(column)
            try:
                by_column[column] = figures_by_place(
                    session,
                    definition=definition.narrowed(*across.conditions) if across else definition,
                    places=places,
                    period=context.period,
                    may_see_people=context.may_see_people,
                )
            except IndicatorError as exc:
                coordinate = f"{pattern.marker.column_letter}{pattern.row}"
                problems.append(
                    CellProblem(
                        plan.sheet.title, coordinate, exc.name, exc.key, tuple(exc.suggested)
                    )
                )
            step(len(places))
        pattern.values = [{c: found.get(p.code) for c, found in by_column.items()} for p in places]
        return
    for member in pattern.members:
        row: dict[int, Value] = {}
        for column, definition in pattern.cells.items():
            across = plan.columns.get(column)
            narrowed = definition.narrowed(
                *member.conditions, *(across.conditions if across else ())
            )
            coordinate = plan.sheet.cell(pattern.row, column).coordinate
            place = across.place if across else None
            row[column] = _figure(session, narrowed, context, problems, plan, coordinate, place)
            step(1)
        pattern.values.append(row)


def _write(plan: SheetPlan, values: dict[tuple[str, str], Value], context: FillContext) -> None:
    sheet = plan.sheet
    for coordinate, text in plan.texts.items():

        def replace(found: re.Match[str], coordinate: str = coordinate) -> str:
            name = found.group(1)
            if name in CONTEXT_NAMES:
                return _context_text(name, context)
            value = values.get((sheet.title, f"text:{coordinate}:{name}"))
            return "" if value is None else str(_cell_value(value))

        sheet[coordinate].value = PLACEHOLDER.sub(replace, text)
    for key, _ in plan.figures.items():
        if not key.startswith("text:"):
            sheet[key].value = _cell_value(values[(sheet.title, key)])
    for pattern in sorted(plan.patterns, key=lambda p: p.row, reverse=True):
        members = pattern.members
        if not members:
            pattern.marker.value = None
            for column in [*pattern.cells, *pattern.fields]:
                sheet.cell(pattern.row, column).value = None
            continue
        repeat_row(sheet, pattern.row, len(members) - 1)
        for offset, (member, row_values) in enumerate(zip(members, pattern.values, strict=True)):
            row = pattern.row + offset
            sheet.cell(row, pattern.marker.column).value = member.label
            for column in pattern.cells:
                sheet.cell(row, column).value = _cell_value(row_values.get(column))
            roster = context.roster
            for column, indicator in pattern.fields.items():
                sheet.cell(row, column).value = (
                    field_value(
                        field_path(indicator.definition),
                        member.row,
                        lang=context.lang,
                        tag_names=roster.tag_names if roster else {},
                    )
                    if member.row is not None
                    else None
                )


def fill_template(
    session: Session,
    *,
    data: bytes,
    vocabulary: Vocabulary,
    context: FillContext,
    progress: Progress | None = None,
) -> bytes:
    """The filled XLSX as bytes (nothing is written anywhere)."""
    workbook = open_template(data)
    fill_workbook(
        session, workbook=workbook, vocabulary=vocabulary, context=context, progress=progress
    )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
