"""Indicators computed from the database for an area (grid up to city) and a month.

``figure(session, definition=..., place=..., period=...)`` turns one parsed definition into
one SQL statement over its source, restricted to the place and the period;
``figures_by_place`` answers the same figure for many sub-areas at once (one statement,
grouped by the sub-areas' codes). Counts over people and households below ``SMALL_COUNT``
are suppressed unless the caller may see the people behind them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from rapidfuzz import process
from sqlalchemy import ColumnElement, and_, cast, distinct, false, func, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.types import Numeric

from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.levels import Level
from gridgov.boundaries.models import Area, Grid
from gridgov.errors import FieldError
from gridgov.forms.indicators import FIGURES, Indicator, normalise
from gridgov.reports.definitions import Condition, Definition, DefinitionError, parse
from gridgov.reports.sources import (
    Field,
    Period,
    Place,
    Source,
    SourceUnavailable,
    known_sources,
    source_named,
)

SMALL_COUNT = 5  # counts of people 1..4 leave the register as "<5" (issue #15, privacy)


class Suppressed:
    """A count of people too small to show to this caller."""

    def __repr__(self) -> str:
        return f"<{SMALL_COUNT}"

    __str__ = __repr__


SUPPRESSED = Suppressed()
Value = int | float | None | Suppressed


def suggestions(name: str, choices: Sequence[str], limit: int = 3) -> list[str]:
    """The closest known names (rapidfuzz), best first.

    >>> suggestions("incidnet", ["incident", "stock", "sensor"])
    ['incident']
    """
    found = process.extract(name, list(dict.fromkeys(choices)), limit=limit, score_cutoff=60)
    return [choice for choice, _, _ in found]


# -- places and periods -------------------------------------------------------------------

_COMMUNITIES_UNDER = text(
    """
    WITH RECURSIVE down AS (
        SELECT id, code, level FROM areas WHERE id = :id
        UNION ALL
        SELECT a.id, a.code, a.level FROM areas a JOIN down ON a.parent_id = down.id
    )
    SELECT code FROM down WHERE level = 'community' ORDER BY code
    """
)


def find_place(session: Session, *, code: str) -> Place:
    """The area or grid with this code in the active generation (422 naming ``area``)."""
    generation = active_generation(session)
    if generation is not None:
        area = session.scalar(
            select(Area).where(Area.generation_id == generation.id, Area.code == code)
        )
        if area is not None:
            communities = tuple(session.scalars(_COMMUNITIES_UNDER, {"id": area.id}))
            return Place(area.code, Level(area.level), area.name, communities)
        grid = session.scalar(
            select(Grid).where(Grid.generation_id == generation.id, Grid.code == code)
        )
        if grid is not None:
            return Place(grid.code, Level.GRID, grid.name, (grid.parent.code,))
    raise FieldError("area", "reports.unknown_area", code=code)


def sub_places(session: Session, place: Place) -> list[Place]:
    """The areas (or grids) directly below ``place``, by code."""
    generation = active_generation(session)
    if place.level is Level.GRID or generation is None:
        return []
    parent = session.scalar(
        select(Area).where(Area.generation_id == generation.id, Area.code == place.code)
    )
    if parent is None:
        return []
    if place.level is Level.COMMUNITY:
        grids = session.scalars(select(Grid).where(Grid.parent_id == parent.id).order_by(Grid.code))
        return [Place(g.code, Level.GRID, g.name, (place.code,)) for g in grids]
    children = session.scalars(select(Area).where(Area.parent_id == parent.id).order_by(Area.code))
    return [
        Place(
            a.code, Level(a.level), a.name, tuple(session.scalars(_COMMUNITIES_UNDER, {"id": a.id}))
        )
        for a in children
    ]


_AREAS_UNDER = text(
    """
    WITH RECURSIVE down AS (
        SELECT id, code, name, level FROM areas WHERE id = :id
        UNION ALL
        SELECT a.id, a.code, a.name, a.level FROM areas a JOIN down ON a.parent_id = down.id
    )
    SELECT id, code, name FROM down WHERE level = :level ORDER BY code
    """
)


def places_at(session: Session, place: Place, level: Level) -> list[Place]:
    """Every area (or grid) of ``level`` inside ``place``, by code: the 136 communities of
    the city, the grids of a street."""
    if level is place.level:
        return [place]
    if level.value not in [lv.value for lv in place.level.below()]:
        return []
    generation = active_generation(session)
    if generation is None:
        return []
    parent = session.scalar(
        select(Area).where(Area.generation_id == generation.id, Area.code == place.code)
    )
    if parent is None:
        return []
    if level is Level.GRID:
        communities = session.execute(_AREAS_UNDER, {"id": parent.id, "level": "community"}).all()
        codes = {row.id: row.code for row in communities}
        grids = session.scalars(
            select(Grid).where(Grid.parent_id.in_(list(codes))).order_by(Grid.code)
        )
        return [Place(g.code, Level.GRID, g.name, (codes[g.parent_id],)) for g in grids]
    rows = session.execute(_AREAS_UNDER, {"id": parent.id, "level": level.value}).all()
    return [
        Place(r.code, level, r.name, tuple(session.scalars(_COMMUNITIES_UNDER, {"id": r.id})))
        for r in rows
    ]


def month_period(text_: str, *, timezone: str, now: datetime | None = None) -> Period:
    """The month ``YYYY-MM`` in the city's zone; a month that has not begun is refused.

    >>> p = month_period("2026-11", timezone="Asia/Shanghai",
    ...                  now=datetime(2026, 12, 5, tzinfo=UTC))
    >>> p.start.isoformat(), p.last_day.isoformat()
    ('2026-11-01T00:00:00+08:00', '2026-11-30')
    """
    zone = ZoneInfo(timezone)
    try:
        year, month = (int(part) for part in text_.strip().split("-"))
        start = datetime(year, month, 1, tzinfo=zone)
    except ValueError as exc:
        raise FieldError("period", "reports.bad_period", period=text_) from exc
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    now = now or datetime.now(UTC)
    if start > now:
        raise FieldError("period", "reports.period_in_future", period=text_)
    return Period(f"{year:04d}-{month:02d}", start, end, min(end, now.astimezone(zone)))


# -- indicators by name ---------------------------------------------------------------------


class IndicatorError(FieldError):
    """A name or definition that cannot be computed, with the closest known names."""

    def __init__(self, name: str, key: str, suggested: Sequence[str] = (), **params: object):
        self.name = name
        self.suggested = list(suggested)
        super().__init__(
            "indicator", key, name=name, suggestions=", ".join(self.suggested) or "-", **params
        )


class Vocabulary:
    """The indicators a template may name: by code, Chinese or English name, or synonym."""

    def __init__(self, indicators: Sequence[Indicator]) -> None:
        self.indicators = list(indicators)
        self._by_name: dict[str, Indicator] = {}
        for indicator in self.indicators:
            for name in (indicator.code.lower(), *indicator.names):
                self._by_name.setdefault(name, indicator)

    def find(self, name: str) -> Indicator | None:
        """The indicator a cell names, or None."""
        return self._by_name.get(normalise(name))

    def definition(self, name: str) -> Definition:
        """The definition a placeholder stands for: an inline definition (``count(...)``) or
        a figure indicator's; IndicatorError with suggestions otherwise."""
        if "(" in name:
            return checked(name)
        indicator = self.find(name)
        if indicator is None or indicator.kind not in FIGURES:
            names = [i.code for i in self.indicators if i.kind in FIGURES] + [
                i.name_zh for i in self.indicators if i.kind in FIGURES
            ]
            raise IndicatorError(name, "reports.unknown_indicator", suggestions(name, names))
        return checked(indicator.definition)


def checked(definition: str) -> Definition:
    """A definition parsed and checked against its source's fields (without a database)."""
    try:
        parsed = parse(definition)
    except DefinitionError as exc:
        raise IndicatorError(definition, "reports.bad_definition", column=exc.column) from exc
    source = _source(parsed.source)
    for condition in parsed.conditions:
        if condition.op is None and source.flag(condition.field) is None:
            _unknown_field(source, condition.field)
        if condition.op is not None and condition.field not in source.fields:
            _unknown_field(source, condition.field)
    for name in (parsed.measure,) if parsed.measure else ():
        if name not in source.fields:
            _unknown_field(source, name)
    if parsed.function in ("sum", "mean") and not parsed.measure:
        raise IndicatorError(definition, "reports.measure_required")
    return parsed


def _source(name: str) -> Source:
    try:
        return source_named(name)
    except SourceUnavailable as exc:
        raise IndicatorError(name, "reports.source_unavailable") from exc
    except KeyError as exc:
        raise IndicatorError(
            name, "reports.unknown_source", suggestions(name, known_sources())
        ) from exc


def _unknown_field(source: Source, name: str) -> None:
    raise IndicatorError(
        name, "reports.unknown_field", suggestions(name, source.vocabulary), source=source.name
    )


# -- SQL ------------------------------------------------------------------------------------


def _compare(field: Field, op: str, values: tuple[str, ...], period: Period) -> ColumnElement[bool]:
    if field.test is not None and op in ("=", "!="):
        hit = field.test(values, period)
        return hit if op == "=" else ~hit
    column = field.at(period)
    if field.numeric:
        try:
            numbers = [float(v) for v in values]
        except ValueError as exc:
            raise IndicatorError(",".join(values), "reports.not_a_number") from exc
        column, values_ = cast(column, Numeric), numbers
    else:
        values_ = list(values)  # type: ignore[arg-type]
    if op in ("=", "!="):
        if field.prefix:
            hit = or_(*(column.startswith(str(v), autoescape=True) for v in values_))
        else:
            hit = column.in_(values_)
        return hit if op == "=" else ~hit
    if len(values_) != 1:
        raise IndicatorError("|".join(values), "reports.one_value", op=op)
    value = values_[0]
    return {
        ">": column > value,
        ">=": column >= value,
        "<": column < value,
        "<=": column <= value,
    }[op]


def conditions_sql(
    source: Source, conditions: Sequence[Condition], period: Period
) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a definition's conditions."""
    clauses = []
    for condition in conditions:
        if condition.op is None:
            flag = source.flag(condition.field)
            assert flag is not None  # checked() refused unknown names
            make, numbers = flag
            clauses.append(make(period, numbers))
        else:
            field = source.fields[condition.field]
            clauses.append(_compare(field, condition.op, condition.values, period))
    return clauses


def in_place(source: Source, place: Place) -> ColumnElement[bool]:
    if source.by_community is not None:
        return source.by_community.in_(place.communities) if place.communities else false()
    column = source.place(place.level)
    return false() if column is None else column == place.code


def _measure(source: Source, definition: Definition, period: Period) -> ColumnElement:
    if definition.function == "count":
        if definition.distinct and definition.measure:
            return func.count(distinct(source.fields[definition.measure].at(period)))
        return func.count()
    assert definition.measure is not None
    column = source.fields[definition.measure].at(period)
    if definition.function == "sum":
        return func.coalesce(func.sum(column), 0)
    return func.avg(column)


def _shaped(raw: Any, definition: Definition, personal: bool, may_see_people: bool) -> Value:
    if raw is None:
        return None
    value: int | float = float(raw) if definition.function == "mean" else int(raw)
    if isinstance(value, float):
        value = round(value, 2)
    if (
        personal
        and not may_see_people
        and definition.function == "count"
        and 0 < value < SMALL_COUNT
    ):
        return SUPPRESSED
    return value


def figure(
    session: Session,
    *,
    definition: Definition,
    place: Place,
    period: Period,
    may_see_people: bool = False,
) -> Value:
    """One figure for one place and period."""
    source = _source(definition.source)
    where = [
        source.base,
        in_place(source, place),
        *conditions_sql(source, definition.conditions, period),
    ]
    if source.in_period is not None:
        where.append(source.in_period(period))
    raw = session.scalar(
        select(_measure(source, definition, period)).select_from(source.rows).where(*where)
    )
    return _shaped(raw, definition, source.personal, may_see_people)


def figures_by_place(
    session: Session,
    *,
    definition: Definition,
    places: Sequence[Place],
    period: Period,
    may_see_people: bool = False,
) -> dict[str, Value]:
    """The same figure for several places of one level, grouped in one statement where the
    source carries the level's codes (else one statement per place)."""
    source = _source(definition.source)
    levels = {p.level for p in places}
    column = source.place(levels.pop()) if len(levels) == 1 else None
    if column is None or source.by_community is not None:
        return {
            p.code: figure(
                session,
                definition=definition,
                place=p,
                period=period,
                may_see_people=may_see_people,
            )
            for p in places
        }
    codes = [p.code for p in places]
    where = [source.base, column.in_(codes), *conditions_sql(source, definition.conditions, period)]
    if source.in_period is not None:
        where.append(source.in_period(period))
    rows = session.execute(
        select(column, _measure(source, definition, period))
        .select_from(source.rows)
        .where(and_(*where))
        .group_by(column)
    ).all()
    found = {code: raw for code, raw in rows}
    empty = None if definition.function == "mean" else 0
    return {
        code: _shaped(found.get(code, empty), definition, source.personal, may_see_people)
        for code in codes
    }
