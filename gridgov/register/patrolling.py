"""Patrols that record themselves, in the database: a grid head's phone, registered as a
tracker of kind ``patrol``, posts its positions through the ordinary positions API; they are
kept as the patrol's trace (``patrol_trace_days``) and matched (``patrols.places_passed``) to
the houses and enterprises passed within ``within_m``, each kept once per grid head, place and
day (``patrol_pass_days``). Positions of other trackers are not kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gridgov.fences.crossing import Fix as TrackerFix
from gridgov.fences.models import Tracker
from gridgov.fences.service import PATROL_KIND
from gridgov.register.models import Enterprise, House, PatrolPass, PatrolPosition
from gridgov.register.patrols import Fix, PatrolRules, Place, places_passed
from gridgov.users.models import User

METRES_PER_DEGREE = 111_320.0
CHUNK = 5000  # rows per INSERT


def record_patrols(
    session: Session,
    *,
    fixes: Sequence[TrackerFix],
    timezone: str,
    rules: PatrolRules = PatrolRules(),
) -> int:
    """Keep the positions of grid heads' patrol trackers among ``fixes`` and record the
    places they passed; the number of passes new to the register. The caller commits."""
    if not fixes:
        return 0
    patrollers = dict(
        session.execute(
            select(Tracker.id, Tracker.owner_id)
            .join(User, User.id == Tracker.owner_id)
            .where(
                Tracker.id.in_({f.tracker_id for f in fixes}),
                Tracker.kind == PATROL_KIND,
                User.role == "grid_head",
            )
        ).all()
    )
    zone = ZoneInfo(timezone)
    added = 0
    for tracker_id, user_id in patrollers.items():
        if user_id is None:
            continue
        mine = sorted((f for f in fixes if f.tracker_id == tracker_id), key=lambda f: f.at)
        added += _one_track(session, tracker_id, user_id, mine, zone, rules)
    return added


def _one_track(
    session: Session,
    tracker_id: int,
    user_id: int,
    fixes: list[TrackerFix],
    zone: ZoneInfo,
    rules: PatrolRules,
) -> int:
    # The last position kept before this batch joins its track to the one before.
    before = session.execute(
        select(PatrolPosition.at, PatrolPosition.lon, PatrolPosition.lat)
        .where(PatrolPosition.tracker_id == tracker_id, PatrolPosition.at < fixes[0].at)
        .order_by(PatrolPosition.at.desc())
        .limit(1)
    ).first()
    owner = {"tracker_id": tracker_id, "user_id": user_id}
    for start in range(0, len(fixes), CHUNK):  # a statement holds at most 65,535 values
        session.execute(
            insert(PatrolPosition)
            .values(
                [
                    owner | {"at": f.at, "lon": f.lon, "lat": f.lat}
                    for f in fixes[start : start + CHUNK]
                ]
            )
            .on_conflict_do_nothing(constraint="uq_patrol_positions_time")
        )
    track = [Fix(f.at, f.lon, f.lat) for f in fixes]
    if before is not None:
        track.insert(0, Fix(before.at, before.lon, before.lat))
    places = _places_near(session, track, rules.within_m)
    passed = places_passed(track, places, rules=rules)
    if not passed:
        return 0
    grids = {p.ref: p.grid for p in places}
    rows = [
        {
            "user_id": user_id,
            "tracker_id": tracker_id,
            "entity": p.ref[0],  # type: ignore[index]
            "entity_id": p.ref[1],  # type: ignore[index]
            "grid_code": grids[p.ref],
            "passed_on": p.at.astimezone(zone).date(),
            "passed_at": p.at,
            "distance_m": round(p.distance_m, 1),
        }
        for p in passed
    ]
    added = 0
    for start in range(0, len(rows), CHUNK):
        result = session.execute(
            insert(PatrolPass)
            .values(rows[start : start + CHUNK])
            .on_conflict_do_nothing(constraint="uq_patrol_passes_daily")
            .returning(PatrolPass.id)
        )
        added += len(result.all())
    return added


def _places_near(session: Session, track: Sequence[Fix], within_m: float) -> list[Place]:
    """Houses and enterprises in the track's box widened by ``within_m`` (index first)."""
    lons, lats = [f.lon for f in track], [f.lat for f in track]
    dlat = within_m / METRES_PER_DEGREE * 1.5
    dlon = dlat / max(math.cos(math.radians(max(abs(min(lats)), abs(max(lats))))), 0.01)
    box = func.ST_MakeEnvelope(min(lons) - dlon, min(lats) - dlat, max(lons) + dlon,
                               max(lats) + dlat, 4326)  # fmt: skip
    places = []
    for entity, model in (("house", House), ("enterprise", Enterprise)):
        rows = session.execute(
            select(model.id, func.ST_X(model.position), func.ST_Y(model.position), model.grid_code)
            .where(model.position.is_not(None))
            .where(model.position.op("&&")(box))
        )
        places += [Place((entity, i), x, y, grid) for i, x, y, grid in rows]
    return places


def forget_old_patrols(
    session: Session, *, now: datetime, trace_days: int, pass_days: int
) -> tuple[int, int]:
    """Remove patrol positions older than ``trace_days`` and passes older than
    ``pass_days`` (docs/PRIVACY.md); how many of each."""
    positions = session.execute(
        delete(PatrolPosition).where(PatrolPosition.at < now - timedelta(days=trace_days))
    )
    passes = session.execute(
        delete(PatrolPass).where(PatrolPass.passed_at < now - timedelta(days=pass_days))
    )
    return positions.rowcount, passes.rowcount  # type: ignore[attr-defined]
