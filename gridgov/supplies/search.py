"""The nearest stockpiles that together hold what is needed.

PostGIS KNN (``<->`` on geography, with the GiST index over (item_code, position)) walks
stock lots of one item nearest first, skipping expired and fully reserved lots; no scan.
Candidates are fetched in growing batches until the demand is covered (or ``max_km`` or the
stock runs out). By road, candidates keep coming in straight-line order until the next one
could not beat, even along a perfectly straight road, the road distance that already covers
the demand: road distance is never shorter than the straight line.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridgov.errors import FieldError
from gridgov.supplies.models import Item, Stockpile
from gridgov.supplies.planning import Candidate, Plan, plan_supplies, running_totals
from gridgov.supplies.roads import RoadNetwork

FIRST_BATCH = 32
MAX_CANDIDATES = 20_000

_AVAILABLE = text(
    """
    SELECT stockpile_id, item_code, sum(quantity - reserved)::int AS free
    FROM stock_lots
    WHERE stockpile_id = ANY(:ids) AND item_code = ANY(:items)
      AND (expires_on IS NULL OR expires_on >= :today)
    GROUP BY stockpile_id, item_code
    """
)
# The distance limit stays outside the KNN walk: inside, the planner may trade the index
# order for a bitmap scan and a sort over every lot of the item.
_KNN = text(
    """
    WITH nearest AS (
        SELECT stockpile_id, quantity - reserved AS free,
               position <-> CAST(:point AS geography) AS d
        FROM stock_lots
        WHERE item_code = :item
          AND quantity > reserved
          AND (expires_on IS NULL OR expires_on >= :today)
        ORDER BY position <-> CAST(:point AS geography)
        LIMIT :k
    )
    SELECT n.stockpile_id, sum(n.free)::int AS free,
           ST_Distance(s.position::geography, CAST(:point AS geography)) AS distance_m,
           ST_X(s.position) AS lon, ST_Y(s.position) AS lat, count(*) AS lots,
           max(n.d) AS farthest
    FROM nearest n JOIN stockpiles s ON s.id = n.stockpile_id
    GROUP BY n.stockpile_id, s.position
    """
)


@dataclass(frozen=True)
class Ranked:
    """One stockpile in the answer: how far, what it can give, the running totals."""

    stockpile: Stockpile
    distance_m: float
    straight_m: float
    available: dict[str, int]
    running_total: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchResult:
    """Stockpiles by distance with running totals, and the plan that covers the demand."""

    demand: dict[str, int]
    distance_kind: str  # "straight" or "road"
    road_requested: bool
    ranked: list[Ranked]
    covered_at: dict[str, int | None]  # item -> index in ``ranked`` where it is covered
    plan: Plan
    plan_stockpiles: dict[int, Stockpile]


def check_items(session: Session, demand: Collection[str]) -> None:
    """Unknown item codes are bad input."""
    known = set(session.scalars(select(Item.code).where(Item.code.in_(demand))))
    for item in demand:
        if item not in known:
            raise FieldError("item", "supplies.unknown_item", item=item)


@dataclass(frozen=True)
class _Row:
    free: int
    straight_m: float
    lon: float
    lat: float


Found = dict[str, dict[int, _Row]]  # item -> stockpile id -> what it holds of the item


def _fetch(
    session: Session, *, point: str, item: str, today: date, max_m: float, k: int
) -> tuple[dict[int, _Row], bool]:
    """Up to k nearest lots of one item, grouped by stockpile; and whether k was reached."""
    rows = session.execute(_KNN, {"point": point, "item": item, "today": today, "k": k}).all()
    lots = sum(int(r.lots) for r in rows)
    farthest = max((float(r.farthest) for r in rows), default=0.0)
    grouped = {
        int(r.stockpile_id): _Row(int(r.free), float(r.distance_m), float(r.lon), float(r.lat))
        for r in rows
        if r.distance_m <= max_m
    }
    return grouped, lots >= k and farthest <= max_m


def find_supplies(
    session: Session,
    *,
    lon: float,
    lat: float,
    demand: Mapping[str, int],
    today: date,
    max_km: float = 50.0,
    limit: int = 10,
    network: RoadNetwork | None = None,
    by_road: bool = False,
) -> SearchResult:
    """Nearest stockpiles holding the demand, by straight line or (with a network) by road."""
    point = f"SRID=4326;POINT({lon} {lat})"
    max_m = max_km * 1000
    use_road = by_road and network is not None
    found: Found = {}
    k = FIRST_BATCH
    while True:
        more_exist = False
        for item in demand:
            found[item], full = _fetch(
                session, point=point, item=item, today=today, max_m=max_m, k=k
            )
            more_exist |= full
        if k == FIRST_BATCH and not all(found.values()):
            # An unknown item finds no stock: the catalogue is asked only then, not for
            # every search (one round trip fewer for the usual one).
            check_items(session, [item for item in demand if not found[item]])
        candidates = _candidates(found, lon, lat, network if use_road else None, max_m)
        if not more_exist or k >= MAX_CANDIDATES or _settled(candidates, found, demand, use_road):
            break
        k *= 4
    candidates = _complete(session, candidates, demand, today)
    return _answer(session, candidates, demand, limit, use_road, by_road)


def _complete(
    session: Session,
    candidates: list[tuple[Candidate, float]],
    demand: Mapping[str, int],
    today: date,
) -> list[tuple[Candidate, float]]:
    """Exact availability of every demanded item at every candidate (a stockpile found for
    one item may hold others, and a batch may have cut its lots short)."""
    ids = [c.stockpile_id for c, _ in candidates]
    rows = session.execute(_AVAILABLE, {"ids": ids, "items": list(demand), "today": today})
    available: dict[int, dict[str, int]] = {}
    for row in rows:
        if row.free > 0:
            available.setdefault(int(row.stockpile_id), {})[row.item_code] = int(row.free)
    return [
        (Candidate(c.stockpile_id, c.distance_m, available.get(c.stockpile_id, {})), straight)
        for c, straight in candidates
    ]


def _candidates(
    found: Found, lon: float, lat: float, network: RoadNetwork | None, max_m: float
) -> list[tuple[Candidate, float]]:
    """Candidates with their distance (road or straight), and their straight distance."""
    rows: dict[int, _Row] = {}
    available: dict[int, dict[str, int]] = {}
    for item, by_stockpile in found.items():
        for stockpile_id, row in by_stockpile.items():
            rows[stockpile_id] = row
            available.setdefault(stockpile_id, {})[item] = row.free
    ids = sorted(rows)
    distance = {i: rows[i].straight_m for i in ids}
    if network is not None and ids:
        targets = [(rows[i].lon, rows[i].lat) for i in ids]
        distance = dict(zip(ids, network.distances((lon, lat), targets), strict=True))
    return [
        (Candidate(i, distance[i], available[i]), rows[i].straight_m)
        for i in ids
        if distance[i] <= max_m
    ]


def _settled(
    candidates: list[tuple[Candidate, float]],
    found: Found,
    demand: Mapping[str, int],
    use_road: bool,
) -> bool:
    """Whether fetching more could not change the answer."""
    plain = [c for c, _ in candidates]
    reach = 0.0
    for item, quantity in demand.items():
        rows, covered_at = running_totals([c for c in plain if item in c.available], item, quantity)
        if covered_at is None:
            return False
        reach = max(reach, rows[covered_at][0].distance_m)
    if not use_road:
        return True
    # Anything not fetched yet is at least this far in a straight line, so at least as far
    # by road: if that is beyond the covering road distance, nothing unseen can help.
    farthest = min(
        max((r.straight_m for r in rows.values()), default=0.0) for rows in found.values()
    )
    return farthest >= reach


def _answer(
    session: Session,
    candidates: list[tuple[Candidate, float]],
    demand: Mapping[str, int],
    limit: int,
    use_road: bool,
    by_road: bool,
) -> SearchResult:
    ordered = sorted(candidates, key=lambda cs: (cs[0].distance_m, cs[0].stockpile_id))
    plan = plan_supplies([c for c, _ in ordered], demand)
    covered_at: dict[str, int | None] = {}
    totals = dict.fromkeys(demand, 0)
    shown = ordered[:limit]
    for item, quantity in demand.items():
        # Where the list as answered covers the item (None: not within it; the plan may
        # still cover it from stockpiles the limit left out).
        _, covered_at[item] = running_totals([c for c, _ in shown], item, quantity)
    ids = {c.stockpile_id for c, _ in shown} | {p.candidate.stockpile_id for p in plan.picks}
    stockpiles = {s.id: s for s in session.scalars(select(Stockpile).where(Stockpile.id.in_(ids)))}
    ranked = []
    for candidate, straight in shown:
        for item in demand:
            totals[item] += candidate.available.get(item, 0)
        ranked.append(
            Ranked(
                stockpile=stockpiles[candidate.stockpile_id],
                distance_m=candidate.distance_m,
                straight_m=straight,
                available=dict(candidate.available),
                running_total=dict(totals),
            )
        )
    return SearchResult(
        demand=dict(demand),
        distance_kind="road" if use_road else "straight",
        road_requested=by_road,
        ranked=ranked,
        covered_at=covered_at,
        plan=plan,
        plan_stockpiles={i: stockpiles[i] for i in ids if i in stockpiles},
    )
