"""Confirmed crossings become events: stored in bulk, told to the people they concern, and a
breach of a no-entry/no-exit fence opens an incident."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session, make_transient_to_detached

from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.index import GridIndex
from gridgov.boundaries.lookup import grid_at, nearest_grid_codes
from gridgov.db.arrays import array_text
from gridgov.fences.crossing import Fix, active_at, breaches
from gridgov.fences.index import IndexedFence
from gridgov.fences.models import FenceEvent, Tracker
from gridgov.incidents.errors import IncidentError
from gridgov.incidents.reporting import Located, report_incident
from gridgov.notifications.service import Message, grid_heads, notify_many

# A crossing outside every grid (a fishing boat at sea, the issue's own example) belongs to
# the nearest grid up to 12 nautical miles away, the breadth of China's territorial sea:
# water that close is the coastal grid's to watch, so its grid head is told and a breach
# opens an incident there (marked snapped, at the boat's true position). Farther out no grid
# owns the water: the event has no grid and only the tracker's and the fence's owners hear.
SNAP_WITHIN_M = 22_224.0


def record_crossings(
    session: Session,
    crossings: list[tuple[Tracker, IndexedFence, str, Fix]],
    grid_index: GridIndex | None,
    zone: ZoneInfo,
    now: datetime,
    snap_within_m: float = SNAP_WITHIN_M,
) -> list[FenceEvent]:
    """Write confirmed crossings together; every crossing notifies the tracker's and the
    fence's owners, a breach also the grid head, and opens an incident."""
    if not crossings:
        return []
    generation = active_generation(session)
    if grid_index is not None and (generation is None or grid_index.generation_id != generation.id):
        grid_index = None  # built before the latest activation: PostGIS decides
    fixes = [fix for _, _, _, fix in crossings]
    grids = _grids(session, fixes, generation.id if generation else None, grid_index, snap_within_m)
    events = []
    messages = []
    for (tracker, fence, kind, fix), (grid_code, snapped) in zip(crossings, grids, strict=True):
        local = fix.at.astimezone(zone).time()
        breach = breaches(fence.rule, kind) and active_at(local, fence.active_from, fence.active_to)
        event = FenceEvent(
            tracker_id=tracker.id,
            fence_id=fence.id,
            kind=kind,
            at=fix.at,
            lon=fix.lon,
            lat=fix.lat,
            grid_code=grid_code,
            breach=breach,
            incident_id=None,
        )
        verb = "进入" if kind == "enter" else "离开"
        title = f"{tracker.name or tracker.code} {verb} {fence.name}"
        watchers = [u for u in (tracker.owner_id, fence.owner_id) if u is not None]
        if breach and grid_code is not None:
            # Located once: the crossing's grid (snapped or not) is the incident's.
            place = grid_index.place_of(grid_code) if grid_index is not None else None
            event.incident_id = _open_incident(
                session,
                fence,
                fix,
                title,
                located=Located(place, snapped) if place is not None else None,
                snap_within_m=snap_within_m,
            )
            watchers += grid_heads(session, grid_code)
        events.append(event)
        messages.append((event, title, watchers, snapped))
    _insert_events(session, events)
    notify_many(
        session,
        [
            Message(
                kind="fence_breach" if event.breach else "fence_crossing",
                title=title,
                user_ids=tuple(watchers),
                data={
                    "event": event.id,
                    "tracker": tracker.code,
                    "fence": fence.code,
                    "kind": event.kind,
                    "breach": event.breach,
                    "grid": event.grid_code,
                    "snapped": snapped,
                    "incident": event.incident_id,
                    "at": event.at.isoformat(),
                },
            )
            for (event, title, watchers, snapped), (tracker, fence, _, _) in zip(
                messages, crossings, strict=True
            )
        ],
        now=now,
    )
    return events


def _open_incident(
    session: Session,
    fence: IndexedFence,
    fix: Fix,
    title: str,
    *,
    located: Located | None,
    snap_within_m: float,
) -> int | None:
    """The incident for a breach, or None when none can be opened (a category that became a
    major class since the fence was saved, say): the crossing and its notifications stand,
    and so does the rest of the batch."""
    try:
        with session.begin_nested():
            return report_incident(
                session,
                reporter_id=None,
                lon=fix.lon,
                lat=fix.lat,
                category_code=fence.category_code,
                source="fence",
                now=fix.at,
                description=f"越界告警：{title}",
                located=located,
                snap_within_m=snap_within_m,
            ).incident.id
    except IncidentError:
        return None


_EVENT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('fence_events', 'id')) FROM generate_series(1, :n)"
)
_INSERT_EVENTS = text(
    """
    INSERT INTO fence_events (id, tracker_id, fence_id, kind, at, lon, lat, grid_code, breach,
                              incident_id)
    SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:trackers AS int[]),
                         CAST(:fences AS int[]), CAST(:kinds AS text[]),
                         CAST(:ats AS timestamptz[]), CAST(:lons AS float8[]),
                         CAST(:lats AS float8[]), CAST(:grids AS text[]),
                         CAST(:breaches AS boolean[]), CAST(:incidents AS bigint[]))
    """
)


def _insert_events(session: Session, events: list[FenceEvent]) -> None:
    """One statement for all events (the ORM would send a statement too long to cache), and
    the objects then join the session as the rows they are."""
    ids = list(session.scalars(_EVENT_IDS, {"n": len(events)}))
    for event, event_id in zip(events, ids, strict=True):
        event.id = event_id
    session.execute(
        _INSERT_EVENTS,
        {
            "ids": array_text(ids),
            "trackers": array_text(e.tracker_id for e in events),
            "fences": array_text(e.fence_id for e in events),
            "kinds": array_text(e.kind for e in events),
            "ats": array_text(e.at for e in events),
            "lons": array_text(e.lon for e in events),
            "lats": array_text(e.lat for e in events),
            "grids": array_text(e.grid_code for e in events),
            "breaches": array_text(e.breach for e in events),
            "incidents": array_text(e.incident_id for e in events),
        },
    )
    for event in events:
        make_transient_to_detached(event)
        session.add(event)


def _grids(
    session: Session,
    fixes: list[Fix],
    generation_id: int | None,
    grid_index: GridIndex | None,
    snap_within_m: float,
) -> list[tuple[str | None, bool]]:
    """Each fix's grid code, and whether it lies outside every grid and was given the
    nearest grid within ``snap_within_m`` (``grid_index`` is of ``generation_id``)."""
    if generation_id is None:
        return [(None, False)] * len(fixes)
    if grid_index is not None:
        found = grid_index.code_of(
            grid_index.locate_many([f.lon for f in fixes], [f.lat for f in fixes])
        )
        codes = [str(code) if code is not None else None for code in found]
    else:
        codes = [
            grid.code if grid else None
            for grid in (
                grid_at(session, lon=f.lon, lat=f.lat, generation_id=generation_id) for f in fixes
            )
        ]
    outside = [n for n, code in enumerate(codes) if code is None]
    nearest = nearest_grid_codes(
        session, [(fixes[n].lon, fixes[n].lat) for n in outside], generation_id=generation_id
    )
    grids: list[tuple[str | None, bool]] = [(code, False) for code in codes]
    for n, near in zip(outside, nearest, strict=True):
        if near is not None and near[1] <= snap_within_m:
            grids[n] = (near[0], True)
    return grids
