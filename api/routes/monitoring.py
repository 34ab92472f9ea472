"""Sensors, readings, alerts, fences, trackers and positions over HTTP."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from geoalchemy2.shape import to_shape
from pydantic import BaseModel, Field
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.batches import BATCH_BODY, batch_rows
from api.deps import IndexDep, LangDep, SessionDep
from api.security import UserDep, require
from gridgov.errors import FieldError
from gridgov.fences.crossing import Dwell
from gridgov.fences.models import Fence, FenceEvent
from gridgov.fences.service import (
    PATROL_KIND,
    process_positions,
    remove_fence,
    save_fence,
    save_tracker,
)
from gridgov.i18n import t
from gridgov.metrics import (
    POSITIONS_ACCEPTED,
    POSITIONS_REFUSED,
    READINGS_RECEIVED,
    READINGS_WRITTEN,
)
from gridgov.register.patrolling import record_patrols
from gridgov.register.patrols import PatrolRules
from gridgov.sensors.alert_list import list_alerts
from gridgov.sensors.ingest import ingest
from gridgov.sensors.models import Alert, Sensor
from gridgov.users.roles import Action, allowed

router = APIRouter(prefix="/api/v1", tags=["sensors and fences"])
Rows = Annotated[list[dict[str, Any]], Depends(batch_rows)]


@router.post(
    "/readings",
    summary="A batch of sensor readings (JSON array, CSV or NDJSON)",
    openapi_extra=BATCH_BODY,
)
def post_readings(
    request: Request, rows: Rows, session: SessionDep, user: UserDep, index: IndexDep, lang: LangDep
) -> Any:
    """Accepted or refused whole; the answer says how many rows were written (duplicates are
    skipped), which alerts opened and cleared, or which rows were refused and why."""
    require(user, Action.INGEST, lang)
    # BatchRefused: 422 listing every bad row (api.errors)
    timezone = request.app.state.settings.timezone  # times without an offset are the city's
    result = ingest(session, rows=rows, actor=user.actor(), index=index, timezone=timezone)
    READINGS_RECEIVED.inc(result.received)
    READINGS_WRITTEN.inc(result.written)
    return {
        "received": result.received,
        "written": result.written,
        "duplicates": result.duplicates,
        "alerts_opened": result.alerts_opened,
        "alerts_cleared": result.alerts_cleared,
        "alerts_withdrawn": result.alerts_withdrawn,
    }


@router.post(
    "/positions",
    summary="A batch of tracker positions, through the fences",
    openapi_extra=BATCH_BODY,
)
def post_positions(
    request: Request, rows: Rows, session: SessionDep, user: UserDep, index: IndexDep, lang: LangDep
) -> dict[str, Any]:
    """Row by row: bad rows are listed with reasons, the good ones are processed. A grid
    head may post the positions of their own patrol phone (tracker kind ``patrol``)."""
    if not allowed(user.actor(), Action.PATROL):
        require(user, Action.INGEST, lang)
    settings = request.app.state.settings
    result = process_positions(
        session,
        rows=rows,
        index=request.app.state.fence_index,
        grid_index=index,
        dwell=Dwell(settings.fence_dwell_seconds, settings.fence_dwell_positions),
        timezone=settings.timezone,
        actor=user.actor(),
    )
    # A grid head's patrol phone leaves its own record of the places it passed.
    record_patrols(
        session,
        fixes=result.fixes,
        timezone=settings.timezone,
        rules=PatrolRules(within_m=settings.patrol_within_m),
    )
    POSITIONS_ACCEPTED.inc(result.accepted)
    POSITIONS_REFUSED.inc(len(result.refused))
    return {
        "accepted": result.accepted,
        "refused": [{"row": p.row, "field": p.field, "reason": p.reason} for p in result.refused],
        "events": [_event_out(e) for e in result.events],
    }


def _event_out(event: FenceEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "tracker_id": event.tracker_id,
        "fence_id": event.fence_id,
        "kind": event.kind,
        "at": event.at.isoformat(),
        "position": {"lon": event.lon, "lat": event.lat},
        "grid": event.grid_code,
        "breach": event.breach,
        "incident_id": event.incident_id,
    }


class FenceIn(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    rule: str = Field(pattern="^(no_entry|no_exit|watch)$")
    geometry: dict[str, Any]
    active_from: time | None = None
    active_to: time | None = None
    category_code: str = "0601"


@router.post("/fences", status_code=201, summary="Add or change a fence (GeoJSON polygon)")
def put_fence(body: FenceIn, session: SessionDep, user: UserDep, lang: LangDep) -> dict[str, Any]:
    require(user, Action.FENCES, lang)
    try:
        geom = shape(body.geometry)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise FieldError("geometry", "fence.bad_geometry") from exc
    if geom.geom_type not in ("Polygon", "MultiPolygon") or not geom.is_valid:
        raise FieldError("geometry", "fence.bad_geometry")
    try:
        with session.begin_nested():
            fence = save_fence(
                session,
                code=body.code,
                name=body.name,
                rule=body.rule,
                geom=geom,
                active_from=body.active_from,
                active_to=body.active_to,
                category_code=body.category_code,
                actor=user.actor(),
            )
    except IntegrityError:  # someone made a fence with this code a moment ago
        raise HTTPException(
            409, detail={"message": t("fence.taken", lang, code=body.code)}
        ) from None
    return {"id": fence.id, "code": fence.code, "rule": fence.rule}


@router.delete("/fences/{code}", status_code=204, summary="Remove a fence (its history stays)")
def delete_fence(code: str, session: SessionDep, user: UserDep, lang: LangDep) -> Response:
    """Every worker's index drops it at its next batch; 404 when no active fence has the code,
    403 when it is someone else's."""
    require(user, Action.FENCES, lang)
    if remove_fence(session, code=code, actor=user.actor()) is None:
        raise HTTPException(404, detail={"message": t("fence.not_found", lang, code=code)})
    return Response(status_code=204)


@router.get("/fences", summary="Active fences as GeoJSON")
def get_fences(session: SessionDep, user: UserDep, lang: LangDep) -> dict[str, Any]:
    require(user, Action.FENCES, lang)
    fences = session.scalars(select(Fence).where(Fence.is_active).order_by(Fence.code)).all()
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": f.code,
                "geometry": to_shape(f.geom).__geo_interface__,
                "properties": {"code": f.code, "name": f.name, "rule": f.rule},
            }
            for f in fences
        ],
    }


class TrackerIn(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(default="", max_length=200)
    kind: str = Field(default="vehicle", max_length=32)


@router.post("/trackers", status_code=201, summary="Register a tracker owned by the caller")
def put_tracker(
    body: TrackerIn, session: SessionDep, user: UserDep, lang: LangDep
) -> dict[str, Any]:
    """A new tracker belongs to the caller; an existing one may be changed only by its owner
    or an admin (403 otherwise), and a change never moves its owner. A grid head may
    register their own phone as a tracker of kind ``patrol`` (and nothing else)."""
    if not (body.kind == PATROL_KIND and allowed(user.actor(), Action.PATROL)):
        require(user, Action.FENCES, lang)
    try:
        with session.begin_nested():
            tracker = save_tracker(
                session, code=body.code, name=body.name, kind=body.kind, actor=user.actor()
            )
    except IntegrityError:  # someone registered the same code a moment ago
        raise _taken(body.code, lang) from None
    return {"id": tracker.id, "code": tracker.code}


def _taken(code: str, lang: str) -> HTTPException:
    return HTTPException(status_code=409, detail={"message": t("tracker.taken", lang, code=code)})


@router.get("/sensors", summary="Sensors as GeoJSON, with their open alerts")
def get_sensors(session: SessionDep, user: UserDep, lang: LangDep) -> dict[str, Any]:
    require(user, Action.FENCES, lang)
    open_alerts = {
        a.sensor_id: a.id for a in session.scalars(select(Alert).where(Alert.cleared_at.is_(None)))
    }
    sensors = session.scalars(select(Sensor).order_by(Sensor.code)).all()
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": s.code,
                "geometry": to_shape(s.position).__geo_interface__,
                "properties": {
                    "code": s.code,
                    "name": s.name,
                    "kind": s.kind,
                    "metrics": s.metrics,
                    "alert": open_alerts.get(s.id),
                },
            }
            for s in sensors
        ],
    }


@router.get("/alerts", summary="Alerts, open first, a page at a time")
def get_alerts(
    request: Request,
    response: Response,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    sensor: Annotated[str | None, Query(max_length=64, description="a sensor code")] = None,
    rule: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="a rule id")] = None,
    since: Annotated[
        datetime | None, Query(alias="from", description="open at any moment from then on")
    ] = None,
    until: Annotated[datetime | None, Query(alias="to", description="opened before then")] = None,
    status: Annotated[Literal["open", "cleared", "withdrawn"] | None, Query()] = None,
    open_only: Annotated[bool, Query(alias="open", description="same as status=open")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> list[dict[str, Any]]:
    """``X-Total-Count`` says how many match; ``Link: <...>; rel="next"`` gives the next page
    while there is one. Withdrawn alerts (late readings showed the data has no such alert)
    carry ``withdrawn_at`` and ``withdrawn_reason``."""
    require(user, Action.FENCES, lang)
    page = list_alerts(
        session,
        sensor=sensor,
        rule_id=rule,
        since=since,
        until=until,
        status="open" if open_only else status,
        limit=limit,
        offset=offset,
    )
    response.headers["X-Total-Count"] = str(page.total)
    if offset + len(page.rows) < page.total:
        following = request.url.include_query_params(offset=offset + limit)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return [
        {
            "id": row.alert.id,
            "sensor": row.sensor_code,
            "rule_id": row.alert.rule_id,
            "rule": row.rule_name,
            "opened_at": row.alert.opened_at.isoformat(),
            "cleared_at": row.alert.cleared_at.isoformat() if row.alert.cleared_at else None,
            "withdrawn_at": _iso(row.alert.withdrawn_at),
            "withdrawn_reason": row.alert.withdrawn_reason,
            "incident_id": row.alert.incident_id,
            "readings": row.alert.readings,
        }
        for row in page.rows
    ]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
