"""Fences and trackers: define them, and run positions through the crossing rules.

A position batch is judged row by row: unknown trackers and impossible coordinates are
refused with reasons and the other rows are processed (a tracker's fix is worth keeping
even if its neighbour in the batch is garbage).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Container, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridgov.boundaries.index import GridIndex
from gridgov.db.arrays import array_text
from gridgov.errors import FieldError, OutOfScope
from gridgov.fences.crossing import Dwell, Fix, Side, step, walk
from gridgov.fences.events import record_crossings
from gridgov.fences.index import FenceIndex, IndexedFence
from gridgov.fences.models import Fence, FenceChange, FenceEvent, Tracker
from gridgov.geo.crs import InputCRS, to_wgs84
from gridgov.i18n import t
from gridgov.responsibilities.models import Category
from gridgov.tables import TimeCache, parse_number
from gridgov.users.models import User
from gridgov.users.roles import Action, Actor, Role, allowed
from gridgov.users.scope import owned_by

MAX_FUTURE = timedelta(minutes=5)
CRS_NAMES = frozenset(c.value for c in InputCRS)


def save_fence(
    session: Session,
    *,
    code: str,
    name: str,
    rule: str,
    geom: BaseGeometry,
    owner_id: int | None = None,
    active_from: time | None = None,
    active_to: time | None = None,
    category_code: str = "0601",
    is_active: bool = True,
    actor: Actor | None = None,
) -> Fence:
    """Add or change a fence (by code) and log the change for every worker's index.

    With an ``actor`` (None: a trusted caller, the command line), an active fence is changed
    only by its owner or an admin (OutOfScope otherwise) and keeps its owner; a new one (or a
    removed one's code) belongs to the actor."""
    if rule not in ("no_entry", "no_exit", "watch"):
        raise FieldError("rule", "fence.bad_rule")
    _check_category(session, category_code)
    multi = MultiPolygon([geom]) if geom.geom_type == "Polygon" else geom
    existing = _changeable(session, code, actor)
    if actor is not None:
        active = existing is not None and existing.is_active
        owner_id = existing.owner_id if existing is not None and active else actor.user_id
    fence = existing or Fence(code=code)
    fence.name, fence.rule, fence.owner_id = name, rule, owner_id
    fence.active_from, fence.active_to = active_from, active_to
    fence.category_code, fence.is_active = category_code, is_active
    fence.geom = from_shape(multi, srid=4326)
    session.add(fence)
    session.flush()
    session.add(FenceChange(fence_id=fence.id))
    session.flush()
    return fence


def _check_category(session: Session, code: str) -> None:
    """A breach opens an incident of the fence's category: refuse one no incident can have
    now rather than fail at the first breach."""
    category = session.get(Category, code)
    if category is None:
        raise FieldError("category_code", "incident.unknown_category", code=code)
    if category.parent_code is None:
        raise FieldError("category_code", "incident.major_class", code=code)


def _changeable(session: Session, code: str, actor: Actor | None) -> Fence | None:
    """The fence with this code, locked; OutOfScope when it is active and ``actor`` is neither
    its owner nor an admin (nobody takes over a fence whose breaches another is told of)."""
    fence = session.scalar(select(Fence).where(Fence.code == code).with_for_update())
    if fence is not None and fence.is_active and not _owns(actor, fence.owner_id):
        raise OutOfScope("fence.taken", code=code)
    return fence


def _owns(actor: Actor | None, owner_id: int | None) -> bool:
    return actor is None or actor.role is Role.ADMIN or actor.user_id == owner_id


def remove_fence(session: Session, *, code: str, actor: Actor | None = None) -> Fence | None:
    """Switch a fence off (its history stays) and log the change for every worker's index;
    None when no active fence has this code. Only its owner or an admin may (``actor``;
    None: a trusted caller)."""
    fence = _changeable(session, code, actor)
    if fence is not None and not fence.is_active:
        fence = None
    if fence is not None:
        fence.is_active = False
        session.add(FenceChange(fence_id=fence.id))
        session.flush()
    return fence


def save_tracker(session: Session, *, code: str, name: str, kind: str, actor: Actor) -> Tracker:
    """Register a tracker owned by ``actor``, or change one: only its owner or an admin may
    (OutOfScope otherwise), and a change never moves its owner."""
    tracker = session.scalar(select(Tracker).where(Tracker.code == code).with_for_update())
    if tracker is None:
        tracker = Tracker(code=code, owner_id=actor.user_id)
    elif not _owns(actor, tracker.owner_id):
        raise OutOfScope("tracker.taken", code=code)
    tracker.name, tracker.kind = name, kind
    session.add(tracker)
    session.flush()
    return tracker


@dataclass(frozen=True)
class PositionProblem:
    row: int
    field: str
    reason: str


@dataclass
class PositionsResult:
    accepted: int = 0
    refused: list[PositionProblem] = field(default_factory=list)
    events: list[FenceEvent] = field(default_factory=list)
    fixes: list[Fix] = field(default_factory=list)  # the good positions, for the patrols


PATROL_KIND = "patrol"  # a grid head's phone on patrol (gridgov/register/patrolling.py)


def reachable_trackers(
    session: Session, *, codes: Iterable[str], actor: Actor | None
) -> tuple[dict[str, int], set[str]]:
    """The trackers with these codes whose positions ``actor`` may post (their owner, or a user
    whose area holds the owner's; a patrol phone also by whoever may patrol with it; None: a
    trusted caller, the command line), by code, and the codes of those that exist but are out
    of reach."""
    found = session.execute(
        select(Tracker.code, Tracker.id, Tracker.owner_id, Tracker.kind, User.area_code)
        .outerjoin(User, User.id == Tracker.owner_id)
        .where(Tracker.code.in_(set(codes)))
    ).all()
    reachable: dict[str, int] = {}
    refused: set[str] = set()
    owners: dict[tuple[int | None, str | None, bool], bool] = {}  # one check per owner
    for code, tracker_id, owner_id, kind, owner_area in found:
        key = (owner_id, owner_area, kind == PATROL_KIND)
        if actor is not None and key not in owners:
            target = owned_by(session, owner_id=owner_id, owner_area=owner_area)
            owners[key] = allowed(actor, Action.INGEST, target) or (
                kind == PATROL_KIND and allowed(actor, Action.PATROL, target)
            )
        if actor is None or owners[key]:
            reachable[code] = tracker_id
        else:
            refused.add(code)
    return reachable, refused


def validate_positions(
    session: Session,
    rows: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    actor: Actor | None = None,
    timezone: str = "Asia/Shanghai",
) -> tuple[list[Fix], list[PositionProblem]]:
    """Good rows as fixes (WGS84), bad rows as problems (a tracker out of ``actor``'s reach
    among them); a time without an offset is the city's (``timezone``)."""
    rows = list(rows)
    codes = {str(r.get("tracker", "")) for r in rows}
    trackers, out_of_reach = reachable_trackers(session, codes=codes, actor=actor)
    fixes: list[Fix] = []
    problems: list[PositionProblem] = []
    times = TimeCache(ZoneInfo(timezone))
    latest = now + MAX_FUTURE
    for n, row in enumerate(rows):
        tracker_id = trackers.get(str(row.get("tracker", "")))
        lon, lat = row.get("lon"), row.get("lat")
        # A float from JSON needs no parsing: the range checks below also refuse NaN and
        # infinities. Anything else (a string, an int, numpy's float64) is parsed.
        if type(lon) is not float:
            lon = parse_number(lon)
        if type(lat) is not float:
            lat = parse_number(lat)
        at = times(row.get("time"))
        # The happy path first (WGS84, the default); any doubt goes through every check.
        if (
            tracker_id is not None
            and lon is not None
            and -180 <= lon <= 180
            and lat is not None
            and -90 <= lat <= 90
            and at is not None
            and at <= latest
            and row.get("crs") is None
        ):
            fixes.append(Fix(tracker_id, at, lon, lat))
            continue
        lon, lat = parse_number(lon), parse_number(lat)
        found = []
        if str(row.get("tracker", "")) in out_of_reach:
            reason = t("scope.tracker", "en", code=row.get("tracker"))
            found.append(PositionProblem(n, "tracker", reason))
        elif tracker_id is None:
            found.append(PositionProblem(n, "tracker", f"unknown tracker {row.get('tracker')!r}"))
        if lon is None or not -180 <= lon <= 180:
            found.append(PositionProblem(n, "lon", f"{row.get('lon')!r} is not a longitude"))
        if lat is None or not -90 <= lat <= 90:
            found.append(PositionProblem(n, "lat", f"{row.get('lat')!r} is not a latitude"))
        crs = str(row.get("crs") or "wgs84").lower()
        if crs not in CRS_NAMES:
            found.append(PositionProblem(n, "crs", f"unknown crs {crs!r}"))
        if at is None:
            found.append(PositionProblem(n, "time", f"{row.get('time')!r} is not an ISO 8601 time"))
        elif at > latest:
            found.append(PositionProblem(n, "time", f"{at.isoformat()} is in the future"))
        if found:
            problems += found
            continue
        assert tracker_id is not None and lon is not None and lat is not None and at is not None
        if crs in ("wgs84", "cgcs2000"):
            fixes.append(Fix(tracker_id, at, lon, lat))
        else:
            wgs = to_wgs84(lon, lat, crs)
            fixes.append(Fix(tracker_id, at, wgs[0], wgs[1]))
    return fixes, problems


def process_positions(
    session: Session,
    *,
    rows: Iterable[Mapping[str, Any]],
    index: FenceIndex,
    grid_index: GridIndex | None = None,
    dwell: Dwell = Dwell(),
    timezone: str = "Asia/Shanghai",
    now: datetime | None = None,
    actor: Actor | None = None,
) -> PositionsResult:
    """Run a batch of positions through every fence they touch, in time order per tracker;
    rows of trackers out of ``actor``'s reach are refused (None: a trusted caller)."""
    now = now or datetime.now(UTC)
    fixes, problems = validate_positions(session, rows, now=now, actor=actor, timezone=timezone)
    result = PositionsResult(accepted=len(fixes), refused=problems, fixes=fixes)
    if not fixes:
        return result
    index.sync(session)
    covers = index.covering_many([f.lon for f in fixes], [f.lat for f in fixes])
    by_tracker: dict[int, list[tuple[Fix, AbstractSet[int]]]] = defaultdict(list)
    for fix, cover in zip(fixes, covers, strict=True):
        by_tracker[fix.tracker_id].append((fix, cover))
    trackers = {
        t.id: t
        for t in session.scalars(
            # In id order: two batches locking the same trackers then queue instead of deadlock.
            select(Tracker).where(Tracker.id.in_(by_tracker)).order_by(Tracker.id).with_for_update()
        )
    }
    sides: dict[int, dict[int, Side]] = defaultdict(dict)  # tracker -> fence -> side
    # Fetched at once (iterating a result fetches row by row) and unpacked as plain tuples.
    for tracker_id, fence_id, *side in session.execute(_SIDES, {"ids": list(by_tracker)}).all():
        sides[tracker_id][fence_id] = Side(*side)
    changed: dict[tuple[int, int], Side] = {}
    crossings: list[tuple[Tracker, IndexedFence, str, Fix]] = []
    for tracker_id, track in by_tracker.items():
        tracker = trackers[tracker_id]
        track.sort(key=lambda item: item[0].at)
        stored = sides[tracker_id]
        moved, found = follow(
            [fix.at for fix, _ in track],
            [cover for _, cover in track],
            _as_of(stored, tracker.last_seen_at),
            last_seen=tracker.last_seen_at,
            fences=index,
            dwell=dwell,
        )
        changed.update(
            {
                (tracker_id, fence_id): side
                for fence_id, side in moved.items()
                if not (_settled_outside(side) and _settled_outside(stored.get(fence_id)))
            }
        )
        for n, fence_id, kind in found:
            fence = index.get(fence_id)
            assert fence is not None
            crossings.append((tracker, fence, kind, track[n][0]))
        latest = track[-1][0].at
        if tracker.last_seen_at is None or latest > tracker.last_seen_at:
            tracker.last_seen_at = latest
    _save_sides(session, changed)
    result.events = record_crossings(session, crossings, grid_index, ZoneInfo(timezone), now)
    return result


def _settled_outside(side: Side | None) -> bool:
    """Outside, with no entry pending: the side of most fences a tracker has ever met."""
    return side is not None and not side.inside and side.candidate_inside is None


def _as_of(sides: dict[int, Side], last_seen: datetime | None) -> dict[int, Side]:
    """The stored sides as they stand when the tracker was last seen.

    A side settled outside only moves its time on with each fix (``walk``), so its time is
    the tracker's last sighting: it is not written again for every batch (a tracker that
    met 75 fences would rewrite 75 rows a batch to say nothing new), and it is read here
    with the tracker's time instead."""
    if last_seen is None:
        return sides
    now_outside = Side(False, last_at=last_seen)  # frozen: shared
    return {
        fence_id: now_outside
        if _settled_outside(side) and (side.last_at is None or side.last_at < last_seen)
        else side
        for fence_id, side in sides.items()
    }


def follow(
    times: Sequence[datetime],
    covers: Sequence[AbstractSet[int]],
    sides: Mapping[int, Side],
    *,
    last_seen: datetime | None,
    fences: Container[int],
    dwell: Dwell,
) -> tuple[dict[int, Side], list[tuple[int, int, str]]]:
    """One tracker's fixes (in time order, with the fences covering each) through the fences
    it has a side of or enters: the sides that changed, and the crossings as (fix number,
    fence id, kind) in the order of the fixes."""
    seen_before = []  # when the tracker was last seen, before each fix
    seen = last_seen
    for at in times:
        seen_before.append(seen)
        if seen is None or at > seen:
            seen = at
    moved: dict[int, Side] = {}
    crossings: list[tuple[int, int, str]] = []
    covered = set().union(*covers)
    quiet = Side(False, last_at=times[-1])  # frozen: one for every fence it applies to
    for fence_id in sorted(covered.union(sides)):
        if fence_id not in fences:
            continue  # switched off since
        before = sides.get(fence_id)
        if fence_id not in covered and before is not None and not before.inside:
            # Outside and no fix inside (most fences a tracker has a side of): ``walk`` would
            # only move the time on to the last fix and drop a pending entry.
            if before.last_at is None or times[-1] > before.last_at:
                moved[fence_id] = quiet
            continue
        start = 0
        if before is None:
            # No side yet: the first fix inside starts one; a tracker seen before was outside.
            for start in range(len(times)):
                if fence_id not in covers[start]:
                    continue
                seen_at = seen_before[start]
                assumed = Side(inside=False, last_at=seen_at) if seen_at is not None else None
                side, event = step(assumed, True, times[start], dwell)
                if side != assumed:
                    before = moved[fence_id] = side
                    if event:
                        crossings.append((start, fence_id, event))
                    start += 1
                    break
            else:
                continue
        after, found = walk(
            before,
            ((fence_id in covers[n], times[n]) for n in range(start, len(times))),
            dwell,
        )
        if after is not None and after != sides.get(fence_id):
            moved[fence_id] = after
        crossings += [(start + n, fence_id, kind) for n, kind in found]
    crossings.sort(key=lambda c: (c[0], c[1]))
    return moved, crossings


_SIDES = text(
    "SELECT tracker_id, fence_id, inside, candidate_inside, candidate_since, candidate_count, "
    "last_at FROM tracker_sides WHERE tracker_id = ANY(CAST(:ids AS int[]))"
)
_SAVE_SIDES = text(
    """
    INSERT INTO tracker_sides (tracker_id, fence_id, inside, candidate_inside, candidate_since,
                               candidate_count, last_at)
    SELECT * FROM unnest(CAST(:trackers AS int[]), CAST(:fences AS int[]),
                         CAST(:inside AS boolean[]), CAST(:candidate AS boolean[]),
                         CAST(:since AS timestamptz[]), CAST(:counts AS int[]),
                         CAST(:last_at AS timestamptz[]))
    ON CONFLICT (tracker_id, fence_id) DO UPDATE SET
        inside = excluded.inside, candidate_inside = excluded.candidate_inside,
        candidate_since = excluded.candidate_since, candidate_count = excluded.candidate_count,
        last_at = excluded.last_at
    """
)


def _save_sides(session: Session, changed: dict[tuple[int, int], Side]) -> None:
    if not changed:
        return
    keys = sorted(changed)
    sides = [changed[key] for key in keys]
    session.execute(
        _SAVE_SIDES,
        {
            "trackers": array_text(t for t, _ in keys),
            "fences": array_text(f for _, f in keys),
            "inside": array_text(s.inside for s in sides),
            "candidate": array_text(s.candidate_inside for s in sides),
            "since": array_text(s.candidate_since for s in sides),
            "counts": array_text(s.candidate_count for s in sides),
            "last_at": array_text(s.last_at for s in sides),
        },
    )
