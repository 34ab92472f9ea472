"""Counts that leave the register (exports, map layers, reports) hide small numbers.

A count below ``SMALL`` (5) names almost nobody: "2 people on the allowance in grid G" tells
a neighbour who. Such counts are suppressed (None) unless the caller may see the people
behind them anyway (a grid head their own grid's, civil affairs their allowance cases).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.register.access import AGGREGATES, PEOPLE, Reader, Where, may_read
from gridgov.register.models import House, Household, Person, PersonTag
from gridgov.register.reading import reach_filter

SMALL = 5
K = TypeVar("K", bound=Hashable)


def suppress(count: int, *, may_see: bool) -> int | None:
    """``count``, or None when it is small (1-4) and the caller may not see those people.

    >>> suppress(3, may_see=False), suppress(3, may_see=True), suppress(0, may_see=False)
    (None, 3, 0)
    >>> suppress(5, may_see=False)
    5
    """
    if 0 < count < SMALL and not may_see:
        return None
    return count


def suppressed(counts: Mapping[K, int], may_see: Callable[[K], bool]) -> dict[K, int | None]:
    """Every count of ``counts`` passed through ``suppress`` with its own permission.

    >>> suppressed({"G1": 2, "G2": 9}, lambda grid: grid == "G1")
    {'G1': 2, 'G2': 9}
    >>> suppressed({"G1": 2, "G2": 3}, lambda grid: False)
    {'G1': None, 'G2': None}
    """
    return {key: suppress(count, may_see=may_see(key)) for key, count in counts.items()}


def tag_counts_by_grid(session: Session, *, reader: Reader, tag: str) -> dict[str, int | None]:
    """People carrying ``tag`` per grid, over the grids the reader may count in; small
    counts suppressed where the reader may not see those people."""
    query = (
        select(House.grid_code, House.community_code, House.street_code, House.district_code,
               House.city_code, func.count())
        .join(Household, Household.house_id == House.id)
        .join(Person, Person.household_id == Household.id)
        .join(PersonTag, PersonTag.person_id == Person.id)
        .where(PersonTag.tag == tag, House.grid_code.is_not(None))
        .where(reach_filter(reader, House, AGGREGATES))
        .group_by(House.grid_code, House.community_code, House.street_code,
                  House.district_code, House.city_code)
    )  # fmt: skip
    counts: dict[str, int] = {}
    places: dict[str, Where] = {}
    for grid, *areas, count in session.execute(query):
        if grid is None:
            continue
        counts[grid] = count
        places[grid] = Where(grid, frozenset(a for a in areas if a))
    return suppressed(counts, lambda grid: may_read(reader, PEOPLE, places[grid], [tag]))
