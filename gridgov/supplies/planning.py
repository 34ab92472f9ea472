"""Which stockpiles to draw from (no database).

One item: stockpiles in order of distance with a running total, up to the one that covers
the request. Several items: a greedy plan that first favours the stockpile covering the most
of what is still missing (so that few stockpiles are needed), then the nearest; it says
plainly what cannot be covered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gridgov.errors import FieldError

DEMAND = re.compile(r"^(?P<item>[a-z0-9_]+)(?::(?P<quantity>\d+))?$")


@dataclass(frozen=True)
class Candidate:
    """A stockpile that can give something now, and how far away it is."""

    stockpile_id: int
    distance_m: float
    available: Mapping[str, int]


@dataclass(frozen=True)
class Pick:
    """Take these quantities from this stockpile."""

    candidate: Candidate
    take: dict[str, int]


@dataclass(frozen=True)
class Plan:
    """The stockpiles to draw from and what is left uncovered."""

    picks: list[Pick] = field(default_factory=list)
    shortfall: dict[str, int] = field(default_factory=dict)

    @property
    def covered(self) -> bool:
        return not self.shortfall


def parse_demand(values: Sequence[str], quantity: int | None = None) -> dict[str, int]:
    """``["tent:500", "water:2000"]`` (or one item and a separate quantity) -> demand.

    >>> parse_demand(["tent:500", "water:2000"])
    {'tent': 500, 'water': 2000}
    >>> parse_demand(["tent"], quantity=20)
    {'tent': 20}
    """
    if not values:
        raise FieldError("item", "supplies.item_required")
    demand: dict[str, int] = {}
    for value in values:
        match = DEMAND.match(value.strip().lower())
        if match is None:
            raise FieldError("item", "supplies.item_format", value=value)
        amount = match["quantity"]
        needed = int(amount) if amount is not None else quantity
        if needed is None:
            raise FieldError("quantity", "supplies.quantity_required", item=match["item"])
        if needed <= 0:
            raise FieldError("quantity", "supplies.quantity_positive", item=match["item"])
        if match["item"] in demand:
            raise FieldError("item", "supplies.item_twice", item=match["item"])
        demand[match["item"]] = needed
    return demand


def running_totals(
    candidates: Sequence[Candidate], item: str, quantity: int
) -> tuple[list[tuple[Candidate, int]], int | None]:
    """Candidates (nearest first) with the running total of ``item``, and the index of the
    one where the total first reaches ``quantity`` (None if it never does).

    >>> c = [Candidate(1, 10.0, {"tent": 3}), Candidate(2, 20.0, {"tent": 4})]
    >>> running_totals(c, "tent", 5)[1]
    1
    """
    ordered = sorted(candidates, key=lambda c: (c.distance_m, c.stockpile_id))
    total, rows, covered_at = 0, [], None
    for index, candidate in enumerate(ordered):
        total += candidate.available.get(item, 0)
        rows.append((candidate, total))
        if covered_at is None and total >= quantity:
            covered_at = index
    return rows, covered_at


def plan_supplies(candidates: Sequence[Candidate], demand: Mapping[str, int]) -> Plan:
    """Greedy cover: take from the stockpile that covers the most of what is missing
    (items fully covered first, then the share of the demand), the nearest on ties.

    >>> near = Candidate(1, 100.0, {"tent": 5})
    >>> far = Candidate(2, 900.0, {"tent": 5, "water": 9})
    >>> plan = plan_supplies([near, far], {"tent": 5, "water": 9})
    >>> [p.candidate.stockpile_id for p in plan.picks]
    [2]
    """
    remaining = {item: qty for item, qty in demand.items() if qty > 0}
    pool = sorted(candidates, key=lambda c: (c.distance_m, c.stockpile_id))
    picks: list[Pick] = []
    while remaining and pool:
        best = max(pool, key=lambda c: (*_gain(c, remaining, demand), -c.distance_m))
        if _gain(best, remaining, demand) == (0, 0.0):
            break
        take = {
            item: min(best.available.get(item, 0), need)
            for item, need in remaining.items()
            if best.available.get(item, 0) > 0
        }
        picks.append(Pick(best, take))
        for item, amount in take.items():
            remaining[item] -= amount
        remaining = {item: need for item, need in remaining.items() if need > 0}
        pool.remove(best)
    picks.sort(key=lambda p: (p.candidate.distance_m, p.candidate.stockpile_id))
    return Plan(picks=picks, shortfall=remaining)


def _gain(
    candidate: Candidate, remaining: Mapping[str, int], demand: Mapping[str, int]
) -> tuple[int, float]:
    fully = sum(1 for item, need in remaining.items() if candidate.available.get(item, 0) >= need)
    share = sum(
        min(candidate.available.get(item, 0), need) / demand[item]
        for item, need in remaining.items()
    )
    return fully, round(share, 12)
