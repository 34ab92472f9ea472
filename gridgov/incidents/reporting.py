"""A located report becomes an incident: find the grid, route it, write it with its history."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import Select, func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.index import GridIndex, Place
from gridgov.boundaries.levels import Level
from gridgov.boundaries.lookup import locate, nearest_grid, place_of
from gridgov.geo.crs import InputCRS, to_wgs84
from gridgov.incidents.errors import IncidentError, OutsideGrids
from gridgov.incidents.events import event_row, publish_new, record, tell
from gridgov.incidents.lifecycle import OPEN_STATUSES, Move, Status, transition
from gridgov.incidents.models import Incident, IncidentEvent, IncidentPhoto
from gridgov.incidents.photos import StoredPhoto
from gridgov.responsibilities.catalogue import Catalogue, CategoryName
from gridgov.responsibilities.models import Category
from gridgov.responsibilities.routing import Assignment
from gridgov.responsibilities.service import route
from gridgov.tables import EARLIEST, LATEST, parse_local_time

MAX_DESCRIPTION = 4000
DUPLICATE_RADIUS_M = 50.0
DUPLICATE_WINDOW = timedelta(hours=24)
# Spelled out (not bound parameters) so the planner can use the partial index of 0009.
_OPEN = text(
    "incidents.status IN ("
    + ", ".join(f"'{s.value}'" for s in sorted(OPEN_STATUSES, key=lambda s: s.value))
    + ")"
)


@dataclass(frozen=True)
class Located:
    """Where a report is, when the caller already knows (a fence crossing, say)."""

    place: Place
    snapped: bool = False


@dataclass(frozen=True)
class Report:
    """The answer to a report: the incident, and whether this call created it; a new one
    comes with what was written for it, so the answer needs no second read."""

    incident: Incident
    created: bool
    events: tuple[IncidentEvent, ...] = ()
    photos: tuple[IncidentPhoto, ...] = ()
    place: Place | None = None


@dataclass(frozen=True)
class ObservedWindow:
    """How far back a report's ``observed_at`` may lie, and how far ahead (a fast phone
    clock); settings ``GRIDGOV_OBSERVED_MAX_AGE_HOURS`` and ``..._CLOCK_SKEW_SECONDS``."""

    max_age: timedelta = timedelta(days=7)
    clock_skew: timedelta = timedelta(minutes=5)

    def check(self, observed_at: datetime, *, now: datetime) -> None:
        """Refuse (422 on ``observed_at``) a time outside the window.

        >>> now = datetime(2026, 12, 5, 12, tzinfo=UTC)
        >>> try:
        ...     ObservedWindow().check(now - timedelta(days=8), now=now)
        ... except IncidentError as refused:
        ...     print(refused.field, refused.key)
        observed_at incident.observed_too_old
        """
        if observed_at.tzinfo is None:
            raise IncidentError("observed_at", "incident.observed_no_offset")
        if observed_at > now + self.clock_skew:
            seconds = round(self.clock_skew.total_seconds())
            raise IncidentError("observed_at", "incident.observed_future", seconds=seconds)
        if observed_at < now - self.max_age:
            hours = round(self.max_age.total_seconds() / 3600)
            raise IncidentError("observed_at", "incident.observed_too_old", hours=hours)


def parse_observed(value: str, timezone: tzinfo) -> datetime:
    """An ``observed_at`` as a phone sends it: ISO 8601, the city's time without an offset.

    >>> from zoneinfo import ZoneInfo
    >>> parse_observed("2026-12-05T08:30", ZoneInfo("Asia/Shanghai")).isoformat()
    '2026-12-05T08:30:00+08:00'
    """
    parsed = parse_local_time(value, timezone) if "/" not in value else None
    if parsed is None or not (EARLIEST <= parsed <= LATEST):
        raise IncidentError("observed_at", "incident.observed_not_a_time")
    return parsed


def report_incident(
    session: Session,
    *,
    reporter_id: int | None,
    lon: float,
    lat: float,
    crs: InputCRS | str = InputCRS.WGS84,
    accuracy_m: float | None = None,
    category_code: str,
    description: str = "",
    photos: list[StoredPhoto] | None = None,
    idempotency_key: str | None = None,
    index: GridIndex | None = None,
    source: str = "report",
    now: datetime | None = None,
    snap_within_m: float | None = None,
    catalogue: Catalogue | None = None,
    located: Located | None = None,
    observed_at: datetime | None = None,
    observed_window: ObservedWindow | None = None,
) -> Report:
    """Locate, route and write a new incident (or return the one this idempotency key made).

    A point outside every grid goes to the nearest grid if the GPS accuracy circle reaches
    it, or if it lies within ``snap_within_m`` (for sources whose breaches are the city's
    business a little beyond its grids, like a fence at sea); the position itself is kept.
    With the in-memory ``index`` and ``catalogue`` (or a ``located`` place) the report is
    located, checked and routed without reading the database, and written in a handful of
    statements."""
    now = now or datetime.now(UTC)
    if observed_at is not None:
        (observed_window or ObservedWindow()).check(observed_at, now=now)
    fingerprint = request_fingerprint(
        lon=lon,
        lat=lat,
        crs=InputCRS(crs).value,
        accuracy_m=accuracy_m,
        category_code=category_code,
        description=description,
        photo_hashes=[p.sha256 for p in photos or []],
    )
    if idempotency_key is not None and reporter_id is not None:
        earlier = _by_key(session, reporter_id, idempotency_key)
        if earlier is not None:
            return _replayed(earlier, fingerprint)
    category = _leaf_category(session, category_code, catalogue)
    if len(description) > MAX_DESCRIPTION:
        raise IncidentError("description", "incident.too_long", limit=MAX_DESCRIPTION)
    if accuracy_m is not None and accuracy_m < 0:
        raise IncidentError("accuracy_m", "incident.negative")
    wgs_lon, wgs_lat = to_wgs84(lon, lat, crs)
    reach_m = max((m for m in (accuracy_m, snap_within_m) if m is not None), default=None)
    if located is None:
        located = _place(session, wgs_lon, wgs_lat, reach_m, index)
    place, snapped = located.place, located.snapped
    chain = place.chain()

    incident = Incident(
        status=Status.REPORTED.value,
        category_code=category.code,
        description=description,
        position=from_shape(Point(wgs_lon, wgs_lat), srid=4326),
        reported_crs=InputCRS(crs).value,
        accuracy_m=accuracy_m,
        snapped=snapped,
        generation_id=place.generation.id,
        grid_code=place.code,
        community_code=chain.get(Level.COMMUNITY),
        street_code=chain.get(Level.STREET),
        district_code=chain.get(Level.DISTRICT),
        city_code=chain[Level.CITY],
        reporter_id=reporter_id,
        source=source,
        idempotency_key=idempotency_key,
        request_hash=fingerprint if idempotency_key is not None else None,
        reported_at=now,
        observed_at=observed_at,
        updated_at=now,
    )
    # Decided by the INSERT itself (a subquery, its value read back by the INSERT's
    # RETURNING), so the incident goes in as it will stand, one round trip fewer.
    incident.possible_duplicate_of = duplicate_query(
        category_code=incident.category_code, lon=wgs_lon, lat=wgs_lat, now=now
    ).scalar_subquery()
    events = [
        event_row(
            incident,
            action="report",
            from_status=None,
            actor_id=reporter_id,
            at=now,
            note=description[:200],
            details={
                "snapped": snapped,
                "crs": incident.reported_crs,
                "grid": place.code,
                **({"observed_at": observed_at.isoformat()} if observed_at else {}),
            },
        )
    ]
    routed = _route(session, incident, catalogue)
    if routed is not None:
        events.append(_dispatch(incident, *routed, actor_id=None, now=now))
    if idempotency_key is None or reporter_id is None:
        incident = _insert(session, incident)
    else:
        try:
            with session.begin_nested():
                incident = _insert(session, incident)
        except IntegrityError:
            # Another request with the same key won the race: answer with its incident.
            earlier = _by_key(session, reporter_id, idempotency_key)
            assert earlier is not None
            return _replayed(earlier, fingerprint)

    written = [
        IncidentPhoto(
            incident_id=incident.id,
            sha256=photo.sha256,
            content_type=photo.content_type,
            size_bytes=photo.size_bytes,
            width=photo.width,
            height=photo.height,
        )
        for photo in {p.sha256: p for p in photos or []}.values()  # the same picture once
    ]
    for event in events:
        event.incident_id = incident.id
    session.add_all([*events, *written])
    session.flush()
    publish_new(session, incident, events)
    for event in events:
        tell(session, incident, action=event.action, at=now, details=event.details)
    return Report(incident, True, events=tuple(events), photos=tuple(written), place=place)


def _insert(session: Session, incident: Incident) -> Incident:
    """Write the (transient) incident with one INSERT and return the row as written, every
    column read back by its RETURNING: the duplicate search runs inside the INSERT (a
    subquery), and its answer needs no SELECT afterwards (the ORM's flush would expire it)."""
    values = {
        attr.key: incident.__dict__[attr.key]
        for attr in inspect(Incident).column_attrs
        if attr.key in incident.__dict__
    }
    written = session.scalar(insert(Incident).values(values).returning(Incident))
    assert written is not None
    return written


def attach_photos(
    session: Session,
    *,
    incident_id: int,
    photos: Sequence[StoredPhoto],
    event_id: int | None = None,
) -> None:
    """Attach each photo once: the same picture twice (a phone that picked it twice, or a
    resolution photo already in the report) is one photo, not a refused report."""
    attached = set(
        session.scalars(
            select(IncidentPhoto.sha256).where(IncidentPhoto.incident_id == incident_id)
        )
    )
    for photo in photos:
        if photo.sha256 in attached:
            continue
        attached.add(photo.sha256)
        session.add(
            IncidentPhoto(
                incident_id=incident_id,
                event_id=event_id,
                sha256=photo.sha256,
                content_type=photo.content_type,
                size_bytes=photo.size_bytes,
                width=photo.width,
                height=photo.height,
            )
        )


def dispatch_by_rules(
    session: Session,
    incident: Incident,
    *,
    actor_id: int | None,
    now: datetime,
    above: Level | None = None,
    move: Move = Move.DISPATCH,
    note: str = "",
    catalogue: Catalogue | None = None,
) -> bool:
    """Send the incident to the department the responsibility list names (False: no rule)."""
    routed = _route(session, incident, catalogue, above=above)
    if routed is None:
        return False
    event = _dispatch(incident, *routed, actor_id=actor_id, now=now, move=move, note=note)
    record(
        session,
        incident,
        action=event.action,
        from_status=event.from_status,
        actor_id=actor_id,
        at=now,
        note=note,
        details=event.details,
    )
    return True


def _route(
    session: Session, incident: Incident, catalogue: Catalogue | None, above: Level | None = None
) -> tuple[Assignment, str] | None:
    """The assignment and department code the responsibility list gives ``incident``."""
    chain = incident.chain()
    if catalogue is not None:
        known = catalogue.route(category_code=incident.category_code, chain=chain, above=above)
        return (known[0], known[1].code) if known is not None else None
    found = route(session, category_code=incident.category_code, chain=chain, above=above)
    return (found[0], found[1].code) if found is not None else None


def _dispatch(
    incident: Incident,
    assignment: Assignment,
    department_code: str,
    *,
    actor_id: int | None,
    now: datetime,
    move: Move = Move.DISPATCH,
    note: str = "",
) -> IncidentEvent:
    """Move ``incident`` to the department and return the audit row saying so."""
    before = incident.status
    incident.status = transition(before, move).value
    incident.level = assignment.level.value
    incident.department_code = department_code
    incident.deadline_at = now + timedelta(hours=assignment.sla_hours)
    incident.updated_at = now
    return event_row(
        incident,
        action=move.value,
        from_status=before,
        actor_id=actor_id,
        at=now,
        note=note,
        details={
            "sla_hours": assignment.sla_hours,
            "deadline": incident.deadline_at.isoformat(),
            "rule_area": assignment.rule.area_code,
        },
    )


def request_fingerprint(
    *,
    lon: float,
    lat: float,
    crs: str,
    accuracy_m: float | None,
    category_code: str,
    description: str,
    photo_hashes: list[str],
) -> str:
    """SHA-256 of the report's canonical JSON: what an idempotency key is bound to.

    >>> one = dict(lon=109.1, lat=21.5, crs="wgs84", accuracy_m=None, category_code="0102")
    >>> request_fingerprint(**one, description="", photo_hashes=["b", "a"]) == (
    ...     request_fingerprint(**one, description="", photo_hashes=["a", "b"]))
    True
    >>> request_fingerprint(**one, description="", photo_hashes=[]) == (
    ...     request_fingerprint(**one, description="x", photo_hashes=[]))
    False
    """
    fields = {
        "lon": lon,
        "lat": lat,
        "crs": crs,
        "accuracy_m": accuracy_m,
        "category": category_code,
        "description": description,
        "photos": sorted(photo_hashes),  # the same photos, whatever order they were picked in
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replayed(earlier: Incident, fingerprint: str) -> Report:
    # A row from before request hashes were kept (None) cannot be compared: it is answered.
    if earlier.request_hash is not None and earlier.request_hash != fingerprint:
        raise IncidentError("idempotency_key", "incident.idempotency_key_reused")
    return Report(earlier, created=False)


def _by_key(session: Session, reporter_id: int, key: str) -> Incident | None:
    return session.scalar(
        select(Incident).where(Incident.reporter_id == reporter_id, Incident.idempotency_key == key)
    )


def _leaf_category(
    session: Session, code: str, catalogue: Catalogue | None
) -> Category | CategoryName:
    category = catalogue.categories.get(code) if catalogue else session.get(Category, code)
    if category is None:
        raise IncidentError("category", "incident.unknown_category", code=code)
    if category.parent_code is None:
        raise IncidentError("category", "incident.major_class", code=code)
    return category


def _place(
    session: Session, lon: float, lat: float, reach_m: float | None, index: GridIndex | None
) -> Located:
    """The place from the in-memory index (the active generation as of its last check), or
    from PostGIS without one; outside every grid, the nearest grid within reach."""
    if index is not None:
        generation_id = index.generation_id
        place = index.place_at(lon, lat)
        if place is not None:
            return Located(place)
    else:
        generation = active_generation(session)
        if generation is None:
            raise IncidentError("position", "incident.no_boundaries")
        generation_id = generation.id
        found = locate(session, lon=lon, lat=lat, generation_id=generation_id)
        if found is not None:
            return Located(Place.of(found.grid, found.areas, found.generation))
    nearest = nearest_grid(session, lon=lon, lat=lat, generation_id=generation_id)
    if nearest is not None and reach_m is not None and nearest.distance_m <= reach_m:
        near = index.place_of(nearest.grid.code) if index is not None else None
        if near is None:
            found = place_of(session, grid=nearest.grid)
            near = Place.of(found.grid, found.areas, found.generation)
        return Located(near, snapped=True)
    raise OutsideGrids(
        round(nearest.distance_m, 1) if nearest else None, nearest.grid.code if nearest else None
    )


def duplicate_query(*, category_code: str, lon: float, lat: float, now: datetime) -> Select[Any]:
    """The duplicate search as a statement (its plan is tested to use the partial index)."""
    here = func.geography(func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326))
    return (
        select(Incident.id)
        .where(
            Incident.category_code == category_code,
            _OPEN,
            Incident.reported_at >= now - DUPLICATE_WINDOW,
            func.ST_DWithin(func.geography(Incident.position), here, DUPLICATE_RADIUS_M),
        )
        .order_by(func.ST_Distance(func.geography(Incident.position), here))
        .limit(1)
    )
