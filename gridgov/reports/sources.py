"""What each source of an indicator is in the database: its rows, where they lie, when they
happened, which fields a condition may compare and which named conditions it knows.

One table, ``SOURCES``; a source of the register (people, households, houses, enterprises,
things, tags) is listed in ``REGISTER_SOURCES`` with the model it needs, and answers "source
not available" until that model exists. Rows lie in an area by their own chain of area codes
(incidents, stockpiles, sensors carry them from where they were first located), by their
sensor's (alerts) or by the communities they go to (visits).

Period: flows (incidents by ``reported_at``, alerts by ``opened_at``, visits by the days they
cover) count what happened in the period; stocks (stockpiles, stock lots, sensors) are counted
as they stand when the form is filled. Statuses are the incidents' statuses now; deadlines
are judged as of the end of the period (or now, if that comes first).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache

from sqlalchemy import ColumnElement, FromClause, and_, false, func, or_, true

from gridgov.boundaries.levels import Level
from gridgov.incidents.models import Incident
from gridgov.sensors.models import Alert, Sensor
from gridgov.supplies.models import StockLot, Stockpile
from gridgov.visits.models import VisitPlace, VisitRegistration


@dataclass(frozen=True)
class Place:
    """An area or a grid of the active generation, with the communities it lies in or holds."""

    code: str
    level: Level
    name: str
    communities: tuple[str, ...] = ()


@dataclass(frozen=True)
class Period:
    """A half-open span of time in the city's zone; ``as_of`` is its end or now if earlier."""

    label: str
    start: datetime
    end: datetime
    as_of: datetime

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()


@dataclass(frozen=True)
class Field:
    """A field a condition compares: numeric fields compare as numbers; a ``prefix`` field
    matches a value and everything under it (category 06 holds 0601 ... 0611). A field that
    depends on the period (a person's age at its end) is a function of the period."""

    column: ColumnElement | Callable[[Period], ColumnElement]
    numeric: bool = False
    prefix: bool = False
    # A field that tests membership itself (a person's tags): values -> the clause.
    test: Callable[[tuple[str, ...], Period], ColumnElement[bool]] | None = None

    def at(self, period: Period) -> ColumnElement:
        """The column for ``period``."""
        return self.column(period) if callable(self.column) else self.column


Flag = Callable[[Period, tuple[str, ...]], ColumnElement[bool]]


@dataclass(frozen=True)
class Source:
    """One kind of row an indicator counts, sums or averages."""

    name: str
    rows: FromClause
    place: Callable[[Level], ColumnElement | None]
    fields: dict[str, Field]
    # Named conditions: a pattern (numbers as (\d+)) -> the clause, given its numbers.
    flags: dict[str, Flag] = field(default_factory=dict)
    in_period: Callable[[Period], ColumnElement[bool]] | None = None
    by_community: ColumnElement | None = None  # sources placed by community code only
    personal: bool = False  # counts of people: small ones are suppressed
    base: ColumnElement[bool] = field(default_factory=true)

    def flag(self, phrase: str) -> tuple[Flag, tuple[str, ...]] | None:
        """The named condition ``phrase`` is, with the numbers in it; None if unknown."""
        for pattern, make in self.flags.items():
            found = re.fullmatch(pattern, phrase)
            if found:
                return make, found.groups()
        return None

    @property
    def vocabulary(self) -> list[str]:
        """Every field and named condition, for suggestions."""
        return [*self.fields, *(re.sub(r"\(\\d\+\)", "N", p) for p in self.flags)]


class SourceUnavailable(LookupError):
    """A source the register will provide, whose tables are not in this build yet."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"source {name!r} is not available yet (the register is not installed)")


def _chain(table: FromClause) -> Callable[[Level], ColumnElement | None]:
    return lambda level: table.c[f"{level.value}_code"]


def _as_of_day(period: Period) -> date:
    return period.as_of.date()


# -- incidents --------------------------------------------------------------------------

_incidents = Incident.__table__


def _within_deadline(period: Period, _: tuple[str, ...]) -> ColumnElement[bool]:
    resolved = _incidents.c.resolved_at
    return and_(
        resolved.is_not(None),
        resolved <= period.as_of,
        or_(_incidents.c.deadline_at.is_(None), resolved <= _incidents.c.deadline_at),
    )


def _overdue(period: Period, _: tuple[str, ...]) -> ColumnElement[bool]:
    """The deadline passed before the incident was resolved (or before the period ended)."""
    resolved = func.coalesce(_incidents.c.resolved_at, period.as_of)
    return and_(
        _incidents.c.deadline_at.is_not(None),
        _incidents.c.deadline_at < func.least(resolved, period.as_of),
    )


INCIDENT = Source(
    name="incident",
    rows=_incidents,
    place=_chain(_incidents),
    fields={
        "status": Field(_incidents.c.status),
        "category": Field(_incidents.c.category_code, prefix=True),
        "level": Field(_incidents.c.level),
        "department": Field(_incidents.c.department_code),
        "source": Field(_incidents.c.source),
        "rating": Field(_incidents.c.rating, numeric=True),
        "reopen_count": Field(_incidents.c.reopen_count, numeric=True),
    },
    flags={
        r"resolved within deadline": _within_deadline,
        r"overdue": _overdue,
        r"rated": lambda p, _: _incidents.c.rating.is_not(None),
        r"reopened": lambda p, _: _incidents.c.reopen_count > 0,
    },
    in_period=lambda p: and_(_incidents.c.reported_at >= p.start, _incidents.c.reported_at < p.end),
)

# -- supplies ---------------------------------------------------------------------------

_stockpiles = Stockpile.__table__
_lots = StockLot.__table__

STOCKPILE = Source(
    name="stockpile",
    rows=_stockpiles,
    place=_chain(_stockpiles),
    fields={
        "kind": Field(_stockpiles.c.kind),
        "owner": Field(_stockpiles.c.owner_department),
    },
)


def _expires_within(period: Period, numbers: tuple[str, ...]) -> ColumnElement[bool]:
    day = _as_of_day(period)
    expires = _lots.c.expires_on
    return and_(expires >= day, expires < day + timedelta(days=int(numbers[0])))


STOCK = Source(
    name="stock",
    rows=_lots.join(_stockpiles, _stockpiles.c.id == _lots.c.stockpile_id),
    place=_chain(_stockpiles),
    fields={
        "item": Field(_lots.c.item_code),
        "quantity": Field(_lots.c.quantity, numeric=True),
        "reserved": Field(_lots.c.reserved, numeric=True),
        "available": Field(_lots.c.quantity - _lots.c.reserved, numeric=True),
        "kind": Field(_stockpiles.c.kind),
        "owner": Field(_stockpiles.c.owner_department),
    },
    flags={
        r"expires within (\d+) days": _expires_within,
        r"expired": lambda p, _: _lots.c.expires_on < _as_of_day(p),
    },
)

# -- sensors and alerts -----------------------------------------------------------------

_sensors = Sensor.__table__
_alerts = Alert.__table__

SENSOR = Source(
    name="sensor",
    rows=_sensors,
    place=_chain(_sensors),
    fields={"kind": Field(_sensors.c.kind), "owner": Field(_sensors.c.owner_department)},
)

ALERT = Source(
    name="alert",
    rows=_alerts.join(_sensors, _sensors.c.id == _alerts.c.sensor_id),
    place=_chain(_sensors),
    fields={
        "kind": Field(_sensors.c.kind),
        "owner": Field(_sensors.c.owner_department),
        "sensor": Field(_sensors.c.code),
    },
    flags={
        r"open": lambda p, _: or_(_alerts.c.cleared_at.is_(None), _alerts.c.cleared_at > p.as_of),
        r"with incident": lambda p, _: _alerts.c.incident_id.is_not(None),
    },
    in_period=lambda p: and_(_alerts.c.opened_at >= p.start, _alerts.c.opened_at < p.end),
    # A withdrawn alert is no part of the history (late readings showed it did not happen).
    base=_alerts.c.withdrawn_at.is_(None),
)

# -- visits -----------------------------------------------------------------------------

_visits = VisitRegistration.__table__
_visit_places = VisitPlace.__table__

VISIT = Source(
    name="visit",
    rows=_visits.join(_visit_places, _visit_places.c.registration_id == _visits.c.id),
    place=lambda level: None,
    fields={
        "unit": Field(_visits.c.unit),
        "purpose": Field(_visits.c.purpose),
        "community": Field(_visit_places.c.community_code),
    },
    in_period=lambda p: and_(_visits.c.starts_on <= p.last_day, _visits.c.ends_on >= p.first_day),
    by_community=_visit_places.c.community_code,
)

SOURCES: dict[str, Source] = {s.name: s for s in (INCIDENT, STOCKPILE, STOCK, SENSOR, ALERT, VISIT)}

# The register's sources (issue #15): the model each needs, and a builder of the Source
# from that module once it exists. ``people`` sources suppress small counts.
REGISTER_SOURCES: dict[str, str] = {
    "person": "gridgov.register.models",
    "household": "gridgov.register.models",
    "house": "gridgov.register.models",
    "enterprise": "gridgov.register.models",
    "thing": "gridgov.register.models",
    "tag": "gridgov.register.models",
}
PERSONAL = frozenset({"person", "household", "tag"})


@cache
def register_sources() -> dict[str, Source]:
    """The register's sources, when its models are installed (else empty)."""
    from gridgov.reports import register_sources as register

    try:
        return register.build()
    except ImportError:  # no gridgov.register.models in this build
        return {}


def source_named(name: str) -> Source:
    """The source called ``name``; SourceUnavailable for a register source not built in;
    KeyError for a name no table knows."""
    if name in SOURCES:
        return SOURCES[name]
    if name in REGISTER_SOURCES:
        found = register_sources().get(name)
        if found is None:
            raise SourceUnavailable(name)
        return found
    raise KeyError(name)


def known_sources() -> list[str]:
    """Every source name, available or not."""
    return [*SOURCES, *REGISTER_SOURCES]


def never() -> ColumnElement[bool]:
    """A clause that holds for no row (an empty list of communities)."""
    return false()
