"""Per grid and month: the share of its houses visited (passed on a patrol or one of their
households visited at the door) and the red households nobody saw (their house not passed,
the household not visited). Months are the city's local calendar months.

Houses counted are every house of the grid (dwellings and shops alike). The number of red
households is a count of people's circumstances: it is hidden below 5 unless the reader may
read the people there, and only such a reader gets the list of those not seen.

The rule of "seen" is ``house_seen``; ``houses_seen`` counts it for many grids in one
statement (the grid heads' month, gridgov/reports/grid_heads.py).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, func, or_, select, true
from sqlalchemy.orm import Session

from gridgov.errors import FieldError, OutOfScope
from gridgov.register.access import AGGREGATES, PEOPLE, Reach, Reader, Where, may_read, reach_of
from gridgov.register.aggregates import suppress
from gridgov.register.models import House, Household, HouseholdVisit, PatrolPass
from gridgov.register.reading import reach_filter
from gridgov.register.tier_views import grid_where
from gridgov.register.tiers import add_months
from gridgov.users.scope import codes_above


@dataclass(frozen=True)
class RedHousehold:
    """A red household not seen in the month."""

    id: int
    code: str
    address: str


@dataclass(frozen=True)
class GridCoverage:
    """One grid's month."""

    grid: str
    houses: int
    visited: int
    red: int | None
    red_not_seen: int | None
    not_seen: list[RedHousehold] = field(default_factory=list)

    @property
    def share(self) -> float:
        return share_of(self.visited, self.houses) or 0.0


def share_of(seen: int, houses: int) -> float | None:
    """Houses seen as a share of the grid's houses, to 4 places (the API's and the grid
    heads' month alike); None for a grid without houses.

    >>> share_of(4, 7), share_of(0, 0)
    (0.5714, None)
    """
    return round(seen / houses, 4) if houses else None


def coverage(
    session: Session,
    *,
    reader: Reader | None,
    month: date,
    timezone: str,
    grid_code: str | None = None,
    area_code: str | None = None,
) -> list[GridCoverage]:
    """Every grid of ``grid_code``, or under ``area_code``, that the reader may count in
    (None: a trusted caller, the command line), for the month beginning ``month``."""
    if (grid_code is None) == (area_code is None):
        raise FieldError("grid", "register.coverage_place")
    if reader is not None:
        asked = (
            grid_where(session, grid_code)
            if grid_code is not None
            else Where(None, codes_above(session, code=str(area_code)))
        )
        if not may_read(reader, AGGREGATES, asked):
            raise OutOfScope("scope.register_coverage", code=grid_code or area_code)
    zone = ZoneInfo(timezone)
    first = month.replace(day=1)
    after = add_months(first, 1)
    start, end = (datetime(d.year, d.month, d.day, tzinfo=zone) for d in (first, after))
    if grid_code is not None:
        place = House.grid_code == grid_code
    else:
        place = or_(*(getattr(House, c) == area_code for c in
                      ("community_code", "street_code", "district_code", "city_code")))  # fmt: skip
    allowed = reach_filter(reader, House, AGGREGATES) if reader is not None else true()
    seen = house_seen(start=start, end=end)
    rows = session.execute(
        select(
            House.grid_code,
            House.community_code,
            House.street_code,
            House.district_code,
            House.city_code,
            func.count(),
            func.count().filter(seen),
        )
        .where(place, allowed, House.grid_code.is_not(None))
        .group_by(House.grid_code, House.community_code, House.street_code,
                  House.district_code, House.city_code)
    ).all()  # fmt: skip
    totals: dict[str, list[int]] = {}
    wheres: dict[str, Where] = {}
    for grid, *areas, houses, visited in rows:
        if grid is None:
            continue
        found = totals.setdefault(grid, [0, 0])
        found[0] += houses
        found[1] += visited
        wheres[grid] = Where(grid, frozenset(a for a in areas if a))
    red_rows = session.execute(
        select(
            House.grid_code,
            Household.id,
            Household.code,
            House.address,
            House.building,
            House.unit,
            House.room,
            or_(_passed(start, end), _door_of(Household.id, start, end)),
        )
        .join(House, House.id == Household.house_id)
        .where(Household.tier == "red", House.grid_code.in_(list(totals)))
        .order_by(House.grid_code, House.address, Household.id)
    ).all()
    reds: dict[str, list[tuple[RedHousehold, bool]]] = {}
    for grid, hid, code, address, building, unit, room, was_seen in red_rows:
        if grid is None:
            continue
        text = " ".join(p for p in (address, building, unit, room) if p)
        reds.setdefault(grid, []).append((RedHousehold(hid, code, text), bool(was_seen)))
    out = []
    for grid, (houses, visited) in sorted(totals.items()):
        sees = reader is None or _sees_people(reader, wheres[grid])
        mine = reds.get(grid, [])
        unseen = [r for r, was_seen in mine if not was_seen]
        out.append(
            GridCoverage(
                grid=grid,
                houses=houses,
                visited=visited,
                red=suppress(len(mine), may_see=sees),
                red_not_seen=suppress(len(unseen), may_see=sees),
                not_seen=unseen if sees else [],
            )
        )
    return out


def house_seen(*, start: datetime, end: datetime) -> ColumnElement[bool]:
    """A house (``House``) was seen between the city's local midnights ``start`` and ``end``:
    a patrol passed it on one of those days, or one of its households was visited at the
    door."""
    any_door = exists().where(Household.house_id == House.id, _door_of(Household.id, start, end))
    return or_(_passed(start, end), any_door)


def houses_seen(
    session: Session, *, grids: Collection[str], start: datetime, end: datetime
) -> dict[str, tuple[int, int]]:
    """Per grid of ``grids`` with houses: (houses, houses seen) between the city's local
    midnights ``start`` and ``end``, in one grouped statement. No reader: the caller decides
    who sees it (counts of buildings, not of people: nothing to suppress)."""
    rows = session.execute(
        select(House.grid_code, func.count(), func.count().filter(house_seen(start=start, end=end)))
        .where(House.grid_code.in_(list(grids)))
        .group_by(House.grid_code)
    )
    return {str(grid): (int(houses), int(seen)) for grid, houses, seen in rows}


def _passed(start: datetime, end: datetime) -> ColumnElement[bool]:
    return exists().where(
        PatrolPass.entity == "house",
        PatrolPass.entity_id == House.id,
        PatrolPass.passed_on >= start.date(),
        PatrolPass.passed_on < end.date(),
    )


def _door_of(household: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    return exists().where(
        HouseholdVisit.household_id == household,
        HouseholdVisit.visited_at >= start,
        HouseholdVisit.visited_at < end,
    )


def _sees_people(reader: Reader, where: Where) -> bool:
    reach = reach_of(reader, PEOPLE)
    return reach is not None and reach is not Reach.TAGGED and may_read(reader, PEOPLE, where)
