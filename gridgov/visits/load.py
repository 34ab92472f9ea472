"""How busy a community is with visiting units in a month, and what is quieter (no database).

Yunnan's rule: more than 30 distinct units in a month is a yellow warning, more than 35 a
red one. A unit registering into a red community is shown the nearest communities that are
still green and the weeks with the fewest units.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class Load(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


@dataclass(frozen=True)
class Thresholds:
    """Distinct units in a month above which a community is yellow, and red."""

    yellow_above: int = 30
    red_above: int = 35


def load_level(units: int, thresholds: Thresholds = Thresholds()) -> Load:
    """Green up to the yellow threshold, yellow up to the red one, red above.

    >>> [load_level(n).value for n in (30, 31, 35, 36)]
    ['green', 'yellow', 'yellow', 'red']
    """
    if units > thresholds.red_above:
        return Load.RED
    if units > thresholds.yellow_above:
        return Load.YELLOW
    return Load.GREEN


def months_of(starts_on: date, ends_on: date) -> list[date]:
    """The first day of every month a visit touches.

    >>> months_of(date(2026, 11, 28), date(2026, 12, 2))
    [datetime.date(2026, 11, 1), datetime.date(2026, 12, 1)]
    """
    months, month = [], starts_on.replace(day=1)
    while month <= ends_on:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def weeks_of(month: date) -> list[date]:
    """The Mondays of the weeks that overlap a month."""
    first = month - timedelta(days=month.weekday())
    end = (month + timedelta(days=32)).replace(day=1)
    return [first + timedelta(weeks=n) for n in range(6) if first + timedelta(weeks=n) < end]


def quieter_weeks(
    visits: Iterable[tuple[str, date, date]],
    month: date,
    count: int = 3,
    not_before: date | None = None,
) -> list[tuple[date, int]]:
    """The weeks of ``month`` with the fewest distinct units, fewest first (then earliest);
    weeks over before ``not_before`` (today: a visit cannot be moved into the past) are left out.

    ``visits`` are (unit, starts_on, ends_on) at one community.
    >>> first, second = date(2026, 12, 1), date(2026, 12, 8)
    >>> visits = [("A", first, first + timedelta(days=1)), ("B", second, second)]
    >>> quieter_weeks(visits, date(2026, 12, 1), count=2)
    [(datetime.date(2026, 12, 14), 0), (datetime.date(2026, 12, 21), 0)]
    >>> quieter_weeks(visits, date(2026, 12, 1), count=5, not_before=date(2026, 12, 27))
    [(datetime.date(2026, 12, 21), 0), (datetime.date(2026, 12, 28), 0)]
    """
    visits = list(visits)
    loads = []
    for monday in weeks_of(month):
        sunday = monday + timedelta(days=6)
        if not_before is not None and sunday < not_before:
            continue
        units = {unit for unit, start, end in visits if start <= sunday and end >= monday}
        loads.append((monday, len(units)))
    return sorted(loads, key=lambda week: (week[1], week[0]))[:count]


def nearest_quieter(
    distances_m: Mapping[str, float],
    loads: Mapping[str, int],
    thresholds: Thresholds = Thresholds(),
    count: int = 3,
) -> list[tuple[str, float, int]]:
    """The nearest communities that are green: (code, metres, units), nearest first."""
    green = [
        (code, metres, loads.get(code, 0))
        for code, metres in distances_m.items()
        if load_level(loads.get(code, 0), thresholds) is Load.GREEN
    ]
    return sorted(green, key=lambda c: (c[1], c[0]))[:count]
