"""Fences and trackers: define them, and run positions through the crossing rules.

A position batch is judged row by row: unknown trackers and impossible coordinates are
refused with reasons and the other rows are processed (a tracker's fix is worth keeping
even if its neighbour in the batch is garbage).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.index import GridIndex
from gridgov.boundaries.lookup import grid_at
from gridgov.db import upsert_statement
from gridgov.fences.crossing import Dwell, Side, active_at, breaches, step
from gridgov.fences.index import FenceIndex, IndexedFence
from gridgov.fences.models import Fence, FenceChange, FenceEvent, Tracker, TrackerSide
from gridgov.geo.crs import InputCRS, to_wgs84
from gridgov.incidents.reporting import report_incident
from gridgov.notifications.service import Message, grid_heads, notify_many
from gridgov.tables import TimeCache, parse_number

MAX_FUTURE = timedelta(minutes=5)


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
) -> Fence:
    """Add or change a fence (by code) and log the change for every worker's index."""
    if rule not in ("no_entry", "no_exit", "watch"):
        raise ValueError(f"rule must be no_entry, no_exit or watch, not {rule!r}")
    multi = MultiPolygon([geom]) if geom.geom_type == "Polygon" else geom
    fence = session.scalar(select(Fence).where(Fence.code == code)) or Fence(code=code)
    fence.name, fence.rule, fence.owner_id = name, rule, owner_id
    fence.active_from, fence.active_to = active_from, active_to
    fence.category_code, fence.is_active = category_code, is_active
    fence.geom = from_shape(multi, srid=4326)
    session.add(fence)
    session.flush()
    session.add(FenceChange(fence_id=fence.id))
    session.flush()
    return fence


def remove_fence(session: Session, *, code: str) -> None:
    """Switch a fence off (its history stays)."""
    fence = session.scalar(select(Fence).where(Fence.code == code))
    if fence is not None:
        fence.is_active = False
        session.add(FenceChange(fence_id=fence.id))
        session.flush()


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


@dataclass(frozen=True)
class Fix:
    tracker_id: int
    at: datetime
    lon: float
    lat: float


def validate_positions(
    session: Session, rows: Iterable[Mapping[str, Any]], *, now: datetime
) -> tuple[list[Fix], list[PositionProblem]]:
    """Good rows as fixes (WGS84), bad rows as problems."""
    rows = list(rows)
    codes = {str(r.get("tracker", "")) for r in rows}
    trackers = dict(
        session.execute(select(Tracker.code, Tracker.id).where(Tracker.code.in_(codes))).all()
    )
    fixes, problems = [], []
    times = TimeCache()
    for n, row in enumerate(rows):
        found = []
        tracker_id = trackers.get(str(row.get("tracker", "")))
        if tracker_id is None:
            found.append(PositionProblem(n, "tracker", f"unknown tracker {row.get('tracker')!r}"))
        lon, lat = parse_number(row.get("lon")), parse_number(row.get("lat"))
        if lon is None or not -180 <= lon <= 180:
            found.append(PositionProblem(n, "lon", f"{row.get('lon')!r} is not a longitude"))
        if lat is None or not -90 <= lat <= 90:
            found.append(PositionProblem(n, "lat", f"{row.get('lat')!r} is not a latitude"))
        crs = str(row.get("crs") or "wgs84").lower()
        if crs not in {c.value for c in InputCRS}:
            found.append(PositionProblem(n, "crs", f"unknown crs {crs!r}"))
        at = times(row.get("time"))
        if at is None:
            found.append(PositionProblem(n, "time", f"{row.get('time')!r} is not an ISO 8601 time"))
        elif at > now + MAX_FUTURE:
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
) -> PositionsResult:
    """Run a batch of positions through every fence they touch, in time order per tracker."""
    now = now or datetime.now(UTC)
    fixes, problems = validate_positions(session, rows, now=now)
    result = PositionsResult(accepted=len(fixes), refused=problems)
    if not fixes:
        return result
    index.sync(session)
    by_tracker: dict[int, list[Fix]] = defaultdict(list)
    for fix in fixes:
        by_tracker[fix.tracker_id].append(fix)
    trackers = {
        t.id: t
        for t in session.scalars(
            select(Tracker).where(Tracker.id.in_(by_tracker)).with_for_update()
        )
    }
    sides = {
        (s.tracker_id, s.fence_id): Side(
            s.inside, s.candidate_inside, s.candidate_since, s.candidate_count, s.last_at
        )
        for s in session.scalars(select(TrackerSide).where(TrackerSide.tracker_id.in_(by_tracker)))
    }
    changed: set[tuple[int, int]] = set()
    known: dict[int, set[int]] = defaultdict(set)  # tracker -> fences it has a side of
    crossings: list[tuple[Tracker, IndexedFence, str, Fix]] = []
    for tracker_id, fence_id in sides:
        known[tracker_id].add(fence_id)
    for tracker_id, track in by_tracker.items():
        tracker = trackers[tracker_id]
        for fix in sorted(track, key=lambda f: f.at):
            covering = index.covering(fix.lon, fix.lat)
            for fence_id in covering | known[tracker_id]:
                fence = index.get(fence_id)
                if fence is None:
                    continue
                key = (tracker_id, fence_id)
                before = sides.get(key)
                if before is None and tracker.last_seen_at is not None:
                    before = Side(inside=False, last_at=tracker.last_seen_at)  # seen outside
                after, event = step(before, fence_id in covering, fix.at, dwell)
                if after != before:
                    sides[key] = after
                    changed.add(key)
                    known[tracker_id].add(fence_id)
                if event:
                    crossings.append((tracker, fence, event, fix))
            if tracker.last_seen_at is None or fix.at > tracker.last_seen_at:
                tracker.last_seen_at = fix.at
    _save_sides(session, sides, changed)
    result.events = _record_crossings(session, crossings, grid_index, ZoneInfo(timezone), now)
    return result


def _record_crossings(
    session: Session,
    crossings: list[tuple[Tracker, IndexedFence, str, Fix]],
    grid_index: GridIndex | None,
    zone: ZoneInfo,
    now: datetime,
) -> list[FenceEvent]:
    """Write confirmed crossings together; a breach notifies the tracker's owner and the grid
    head, and a breach of a no-entry/no-exit fence opens an incident."""
    events = []
    for tracker, fence, kind, fix in crossings:
        grid_code = _grid_code(session, fix, grid_index)
        local = fix.at.astimezone(zone).time()
        breach = breaches(fence.rule, kind) and active_at(local, fence.active_from, fence.active_to)
        events.append(
            FenceEvent(
                tracker_id=tracker.id,
                fence_id=fence.id,
                kind=kind,
                at=fix.at,
                lon=fix.lon,
                lat=fix.lat,
                grid_code=grid_code,
                breach=breach,
            )
        )
    session.add_all(events)
    session.flush()
    messages = []
    for event, (tracker, fence, kind, fix) in zip(events, crossings, strict=True):
        verb = "进入" if kind == "enter" else "离开"
        title = f"{tracker.name or tracker.code} {verb} {fence.name}"
        watchers = [u for u in (tracker.owner_id, fence.owner_id) if u is not None]
        if event.breach and event.grid_code is not None:
            incident = report_incident(
                session,
                reporter_id=None,
                lon=fix.lon,
                lat=fix.lat,
                category_code=fence.category_code,
                source="fence",
                now=fix.at,
                description=f"越界告警：{title}",
            ).incident
            event.incident_id = incident.id
            watchers += grid_heads(session, event.grid_code)
        messages.append(
            Message(
                kind="fence_breach" if event.breach else "fence_crossing",
                title=title,
                user_ids=tuple(watchers),
                data={
                    "event": event.id,
                    "tracker": tracker.code,
                    "fence": fence.code,
                    "kind": kind,
                    "breach": event.breach,
                    "grid": event.grid_code,
                    "incident": event.incident_id,
                    "at": fix.at.isoformat(),
                },
            )
        )
    notify_many(session, messages, now=now)
    return events


def _grid_code(session: Session, fix: Fix, grid_index: GridIndex | None) -> str | None:
    if grid_index is not None:
        found = grid_index.code_of(grid_index.locate_many([fix.lon], [fix.lat]))[0]
        return str(found) if found is not None else None
    generation = active_generation(session)
    if generation is None:
        return None
    grid = grid_at(session, lon=fix.lon, lat=fix.lat, generation_id=generation.id)
    return grid.code if grid else None


def _save_sides(
    session: Session, sides: dict[tuple[int, int], Side], changed: set[tuple[int, int]]
) -> None:
    if not changed:
        return
    values = [
        {
            "tracker_id": t,
            "fence_id": f,
            "inside": s.inside,
            "candidate_inside": s.candidate_inside,
            "candidate_since": s.candidate_since,
            "candidate_count": s.candidate_count,
            "last_at": s.last_at,
        }
        for (t, f), s in ((key, sides[key]) for key in sorted(changed))
    ]
    session.execute(upsert_statement(TrackerSide, values, keys=["tracker_id", "fence_id"]))
