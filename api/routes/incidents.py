"""Incidents over HTTP: report, list, read, act."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    Header,
    HTTPException,
    Query,
    Request,
    Response,
    UploadFile,
)
from fastapi.responses import FileResponse
from geoalchemy2.shape import to_shape
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import CatalogueDep, IndexDep, LangDep, SessionDep
from api.params import BBoxParam, BigId, parse_bbox
from api.photo_links import PhotoLinks, PhotoLinksDep
from api.security import UserDep, current_user, oauth2_scheme, require
from gridgov.departments.models import Department
from gridgov.geo.crs import InputCRS
from gridgov.i18n import t
from gridgov.incidents import actions
from gridgov.incidents.errors import Forbidden
from gridgov.incidents.events import target_of
from gridgov.incidents.lifecycle import moves_from
from gridgov.incidents.models import Incident, IncidentPhoto
from gridgov.incidents.models import Whistle as WhistleRow
from gridgov.incidents.photos import (
    FORMATS,
    MAX_PHOTOS,
    StoredPhoto,
    check_photos,
    photo_path,
    store_photo,
    thumbnail_path,
)
from gridgov.incidents.queries import (
    MAX_PAGE,
    IncidentFilter,
    NamedEvent,
    departments_in_reach,
    get_incident,
    grid_name,
    list_incidents,
    named_history,
    photos_of,
    whistles_of,
)
from gridgov.incidents.reporting import (
    MAX_DESCRIPTION,
    ObservedWindow,
    Report,
    parse_observed,
    report_incident,
)
from gridgov.responsibilities.catalogue import Catalogue, CategoryName
from gridgov.responsibilities.models import Category
from gridgov.users.models import User
from gridgov.users.roles import Action, allowed

router = APIRouter(prefix="/api/v1", tags=["incidents"])
# Photos never change (their name is their hash): a browser may keep them, a proxy may not.
PRIVATE_CACHE = {"Cache-Control": "private, max-age=86400"}


# -- shaping --------------------------------------------------------------------------


def _names(
    session: Session, incidents: list[Incident], catalogue: Catalogue | None = None
) -> tuple[Mapping[str, Category | CategoryName], dict[str, str]]:
    codes = {i.department_code for i in incidents if i.department_code}
    if catalogue is not None:  # the process's catalogue: no read
        known = {c: catalogue.department_name(c) for c in codes}
        return catalogue.categories, {c: name for c, name in known.items() if name is not None}
    categories = {c.code: c for c in session.scalars(select(Category))}
    codes = {i.department_code for i in incidents if i.department_code}
    rows = session.execute(
        select(Department.code, Department.name).where(Department.code.in_(codes))
    )
    departments = {code: name for code, name in rows}
    return categories, departments


def incident_out(
    incident: Incident,
    lang: str,
    categories: Mapping[str, Category | CategoryName],
    departments: dict[str, str],
) -> dict[str, Any]:
    """The incident as the API shows it in lists and maps."""
    point = to_shape(incident.position)
    category = categories.get(incident.category_code)
    return {
        "id": incident.id,
        "status": incident.status,
        "status_label": t("status." + incident.status, lang),
        "level": incident.level,
        "category": {
            "code": incident.category_code,
            "name": (category.name_en if lang == "en" else category.name_zh) if category else None,
            "urgent": bool(category and category.urgent),
        },
        "description": incident.description,
        "position": {"lon": point.x, "lat": point.y, "accuracy_m": incident.accuracy_m},
        "snapped_to_nearest_grid": incident.snapped,
        "grid": incident.grid_code,
        "areas": {
            "city": incident.city_code,
            "district": incident.district_code,
            "street": incident.street_code,
            "community": incident.community_code,
        },
        "department": {
            "code": incident.department_code,
            "name": departments.get(incident.department_code or ""),
        },
        "reported_at": incident.reported_at.isoformat(),
        "observed_at": incident.observed_at.isoformat() if incident.observed_at else None,
        "deadline_at": incident.deadline_at.isoformat() if incident.deadline_at else None,
        "accepted_at": incident.accepted_at.isoformat() if incident.accepted_at else None,
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "closed_at": incident.closed_at.isoformat() if incident.closed_at else None,
        "rating": incident.rating,
        "reopen_count": incident.reopen_count,
        "possible_duplicate_of": incident.possible_duplicate_of,
        "reporter_id": incident.reporter_id,
        "source": incident.source,
    }


def incident_detail(
    session: Session,
    incident: Incident,
    lang: str,
    links: PhotoLinks,
    *,
    catalogue: Catalogue | None = None,
    fresh: Report | None = None,
    reporter: User | None = None,
) -> dict[str, Any]:
    """The incident with its photos (signed, short-lived URLs: only a caller who may read the
    incident is answered this), summoned departments, audit trail and next moves.

    ``fresh``: an incident just reported by ``reporter``, answered from what was written
    (no second read); names come from the ``catalogue`` when given."""
    categories, departments = _names(session, [incident], catalogue)
    if fresh is not None and catalogue is not None:
        actors = {reporter.id: reporter.display_name} if reporter is not None else {}
        photos: list[IncidentPhoto] = list(fresh.photos)
        whistles: list[WhistleRow] = []
        name = fresh.place.name if fresh.place else None
        history = [
            NamedEvent(
                e,
                actors.get(e.actor_id) if e.actor_id is not None else None,
                catalogue.department_name(e.department_code),
            )
            for e in fresh.events
        ]
    else:
        photos = photos_of(session, incident_id=incident.id)
        whistles = whistles_of(session, incident_id=incident.id)
        name = grid_name(session, incident=incident)
        history = named_history(session, incident_id=incident.id)
    out = incident_out(incident, lang, categories, departments)
    out["photos"] = [
        {
            "sha256": p.sha256,
            "content_type": p.content_type,
            "width": p.width,
            "height": p.height,
            "url": links.url(incident.id, p.sha256, "full"),
            "thumb_url": links.url(incident.id, p.sha256, "thumb"),
            "event_id": p.event_id,
        }
        for p in photos
    ]
    out["whistles"] = [
        {
            "department": w.department_code,
            "summoned_at": w.summoned_at.isoformat(),
            "due_at": w.due_at.isoformat(),
            "checked_in_at": w.checked_in_at.isoformat() if w.checked_in_at else None,
        }
        for w in whistles
    ]
    out["grid_name"] = name
    out["history"] = [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "actor_id": e.actor_id,
            "actor_name": named.actor_name,
            "action": e.action,
            "from": e.from_status,
            "to": e.to_status,
            "level": e.level,
            "department": e.department_code,
            "department_name": named.department_name,
            "note": e.note,
            "details": e.details,
        }
        for named in history
        for e in [named.event]
    ]
    out["next_moves"] = [m.value for m in moves_from(incident.status)]
    return out


# -- report ----------------------------------------------------------------------------


def _read_photos(uploads: list[UploadFile], limit: int) -> list[bytes]:
    # Read one byte past the limit: enough to know a photo is too big without reading it all.
    return [upload.file.read(limit + 1) for upload in uploads]


def _store(request: Request, photos: list[bytes]) -> list[StoredPhoto]:
    settings = request.app.state.settings
    limits = {"max_bytes": settings.max_photo_bytes, "max_pixels": settings.max_photo_pixels}
    check_photos(photos, **limits)
    return [
        store_photo(
            data,
            media_dir=settings.media_dir,
            slots=request.app.state.image_slots,
            field=f"photos[{index}]",
            **limits,
        )
        for index, data in enumerate(photos)
    ]


@router.post("/incidents", status_code=201, summary="Report a located incident (网格通)")
def report(
    request: Request,
    response: Response,
    session: SessionDep,
    user: UserDep,
    index: IndexDep,
    catalogue: CatalogueDep,
    lang: LangDep,
    links: PhotoLinksDep,
    lon: Annotated[float, Form(ge=-180, le=180)],
    lat: Annotated[float, Form(ge=-90, le=90)],
    category: Annotated[str, Form(min_length=1, max_length=16)],
    crs: Annotated[InputCRS, Form()] = InputCRS.WGS84,
    accuracy_m: Annotated[float | None, Form(ge=0, le=100_000)] = None,
    description: Annotated[str, Form(max_length=MAX_DESCRIPTION)] = "",
    idempotency_key: Annotated[str | None, Form(min_length=1, max_length=100)] = None,
    observed_at: Annotated[
        str | None,
        Form(
            max_length=40,
            description="When it was seen (ISO 8601; no offset: the city's time), within"
            " GRIDGOV_OBSERVED_MAX_AGE_HOURS before now",
        ),
    ] = None,
    photos: Annotated[list[UploadFile] | None, File(description=f"up to {MAX_PHOTOS}")] = None,
    idempotency_header: Annotated[
        str | None, Header(alias="Idempotency-Key", max_length=100)
    ] = None,
) -> dict[str, Any]:
    """201 with the incident, its grid, department and deadline; 200 for a replayed key."""
    require(user, Action.REPORT, lang)
    settings = request.app.state.settings
    seen = parse_observed(observed_at, ZoneInfo(settings.timezone)) if observed_at else None
    stored = _store(request, _read_photos(photos or [], settings.max_photo_bytes))
    result = report_incident(
        session,
        reporter_id=user.id,
        lon=lon,
        lat=lat,
        crs=crs,
        accuracy_m=accuracy_m,
        category_code=category,
        description=description,
        photos=stored,
        idempotency_key=idempotency_key or idempotency_header,
        index=index,
        catalogue=catalogue,
        observed_at=seen,
        observed_window=ObservedWindow(
            max_age=timedelta(hours=settings.observed_max_age_hours),
            clock_skew=timedelta(seconds=settings.observed_clock_skew_seconds),
        ),
    )
    if not result.created:
        response.status_code = 200
        return incident_detail(session, result.incident, lang, links, catalogue=catalogue)
    return incident_detail(
        session, result.incident, lang, links, catalogue=catalogue, fresh=result, reporter=user
    )


# -- read ------------------------------------------------------------------------------


@router.get("/incidents", summary="Incidents the caller may read, filtered and paged")
def read_incidents(
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    catalogue: CatalogueDep,
    status: Annotated[list[str] | None, Query()] = None,
    category: Annotated[list[str] | None, Query()] = None,
    area: str | None = None,
    department: str | None = None,
    reporter: Annotated[Literal["me"] | None, Query(description="me: my own reports")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    bbox: BBoxParam = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    format: Literal["json", "geojson"] = "json",
) -> dict[str, Any]:
    """A page of incidents (newest first), as JSON or a GeoJSON FeatureCollection."""
    filters = IncidentFilter(
        statuses=tuple(status or ()),
        categories=tuple(category or ()),
        area_code=area,
        department_code=department,
        reporter_id=user.id if reporter == "me" else None,
        since=since,
        until=until,
        bbox=parse_bbox(bbox),
    )
    rows, total = list_incidents(
        session, actor=user.actor(), filters=filters, limit=limit, offset=offset
    )
    categories, departments = _names(session, rows, catalogue)
    items = [incident_out(i, lang, categories, departments) for i in rows]
    if format == "geojson":
        return {
            "type": "FeatureCollection",
            "numberMatched": total,
            "numberReturned": len(items),
            "features": [
                {
                    "type": "Feature",
                    "id": item["id"],
                    "geometry": {
                        "type": "Point",
                        "coordinates": [item["position"]["lon"], item["position"]["lat"]],
                    },
                    "properties": item,
                }
                for item in items
            ],
        }
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/incidents/{incident_id}", summary="One incident with its photos and audit trail")
def read_incident(
    incident_id: BigId, session: SessionDep, user: UserDep, lang: LangDep, links: PhotoLinksDep
) -> dict[str, Any]:
    incident = get_incident(session, incident_id=incident_id, actor=user.actor())
    out = incident_detail(session, incident, lang, links)
    out["my_moves"] = moves_for(session, incident, user)
    # Whom the caller may dispatch to or summon: the page offers only these.
    reach = departments_in_reach(session, incident=incident, actor=user.actor())
    out["my_departments"] = [d.code for d in reach]
    return out


def moves_for(session: Session, incident: Incident, user: User) -> list[str]:
    """The next moves the caller's role may take on this incident (what a page offers)."""
    target = target_of(session, incident)
    actions = {a.value for a in Action}
    moves: list[str] = [
        move.value
        for move in moves_from(incident.status)
        if move.value in actions and allowed(user.actor(), Action(move.value), target)
    ]
    if "close" in moves and allowed(user.actor(), Action.RATE, target):
        moves.append("rate")  # closing may carry a rating: only the reporter gives one
    return moves


@router.get(
    "/incidents/{incident_id}/photos/{sha256}",
    summary="A photo of an incident",
    responses={200: {"content": {kind: {} for kind, _ in FORMATS.values()}}},
)
def read_photo(
    request: Request,
    incident_id: BigId,
    sha256: str,
    session: SessionDep,
    lang: LangDep,
    links: PhotoLinksDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    size: Literal["full", "thumb"] = "full",
    expires: Annotated[int | None, Query(ge=0)] = None,
    signature: Annotated[str | None, Query(max_length=64)] = None,
) -> FileResponse:
    """The photo, or a small JPEG of it: with a bearer token, or by the signed link that the
    incident's detail gives (``expires`` and ``signature``: an <img> sends no header)."""
    if expires is not None or signature is not None:
        if not links.valid(incident_id, sha256, expires or 0, signature or ""):
            raise HTTPException(status_code=403, detail={"message": t("photo.link_invalid", lang)})
    else:
        user = current_user(request, session, lang, token)
        get_incident(session, incident_id=incident_id, actor=user.actor())
    photo = next(
        (p for p in photos_of(session, incident_id=incident_id) if p.sha256 == sha256), None
    )
    if photo is None:
        key = "photo.not_found"
        raise HTTPException(status_code=404, detail={"message": t(key, lang), "code": key})
    media_dir = request.app.state.settings.media_dir
    if size == "thumb":
        thumb = thumbnail_path(
            media_dir, photo.sha256, photo.content_type, slots=request.app.state.image_slots
        )
        return FileResponse(thumb, media_type="image/jpeg", headers=PRIVATE_CACHE)
    path = photo_path(media_dir, photo.sha256, photo.content_type)
    return FileResponse(path, media_type=photo.content_type, headers=PRIVATE_CACHE)


# -- act -------------------------------------------------------------------------------


class Note(BaseModel):
    note: str = Field(default="", max_length=4000)


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=4000)


class Close(BaseModel):
    rating: int | None = Field(default=None, ge=1, le=5)
    note: str = Field(default="", max_length=4000)


class Dispatch(BaseModel):
    department_code: str = Field(min_length=1, max_length=32)
    sla_hours: float | None = Field(default=None, gt=0, le=24 * 365)
    note: str = Field(default="", max_length=4000)


class Whistle(BaseModel):
    department_codes: list[str] = Field(default_factory=list, max_length=20)
    due_hours: float = Field(default=2.0, gt=0, le=24 * 30)
    note: str = Field(default="", max_length=4000)


@router.post("/incidents/{incident_id}/accept", summary="受理: take the incident on")
def accept(
    incident_id: BigId,
    body: Note,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    links: PhotoLinksDep,
) -> dict[str, Any]:
    incident = actions.accept(session, incident_id=incident_id, actor=user, note=body.note)
    return incident_detail(session, incident, lang, links)


@router.post("/incidents/{incident_id}/reject", summary="退回: not ours, with a reason")
def reject(
    incident_id: BigId,
    body: Reason,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    links: PhotoLinksDep,
) -> dict[str, Any]:
    incident = actions.reject(session, incident_id=incident_id, actor=user, reason=body.reason)
    return incident_detail(session, incident, lang, links)


@router.post("/incidents/{incident_id}/resolve", summary="处置: resolved, with a note and photos")
def resolve(
    request: Request,
    incident_id: BigId,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    links: PhotoLinksDep,
    note: Annotated[str, Form(min_length=1, max_length=4000)],
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> dict[str, Any]:
    settings = request.app.state.settings
    # Scope first: nobody may fill the disk by posting photos to incidents not theirs.
    target = get_incident(session, incident_id=incident_id, actor=user.actor())
    if not allowed(user.actor(), Action.RESOLVE, target_of(session, target)):
        raise Forbidden(Action.RESOLVE.value)
    stored = _store(request, _read_photos(photos or [], settings.max_photo_bytes))
    incident = actions.resolve(
        session, incident_id=incident_id, actor=user, note=note, photos=stored
    )
    return incident_detail(session, incident, lang, links)


@router.post("/incidents/{incident_id}/close", summary="结案: confirm, optionally rate 1-5")
def close(
    incident_id: BigId,
    body: Close,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    links: PhotoLinksDep,
) -> dict[str, Any]:
    incident = actions.close(
        session, incident_id=incident_id, actor=user, rating=body.rating, note=body.note
    )
    return incident_detail(session, incident, lang, links)


@router.post("/incidents/{incident_id}/reopen", summary="Not satisfied: back to the department")
def reopen(
    incident_id: BigId,
    body: Reason,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    links: PhotoLinksDep,
) -> dict[str, Any]:
    incident = actions.reopen(session, incident_id=incident_id, actor=user, reason=body.reason)
    return incident_detail(session, incident, lang, links)


@router.post("/incidents/{incident_id}/dispatch", summary="派遣: send to a named department")
def dispatch(
    incident_id: BigId,
    body: Dispatch,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    links: PhotoLinksDep,
) -> dict[str, Any]:
    incident = actions.dispatch(
        session,
        incident_id=incident_id,
        actor=user,
        department_code=body.department_code,
        sla_hours=body.sla_hours,
        note=body.note,
    )
    return incident_detail(session, incident, lang, links)


@router.post(
    "/incidents/{incident_id}/whistle", summary="吹哨: summon departments (none: escalate)"
)
def whistle(
    incident_id: BigId,
    body: Whistle,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    links: PhotoLinksDep,
) -> dict[str, Any]:
    incident = actions.whistle(
        session,
        incident_id=incident_id,
        actor=user,
        department_codes=body.department_codes,
        due_hours=body.due_hours,
        note=body.note,
    )
    return incident_detail(session, incident, lang, links)


@router.post("/incidents/{incident_id}/check-in", summary="报到: a summoned department reports")
def check_in(
    incident_id: BigId,
    body: Note,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    links: PhotoLinksDep,
) -> dict[str, Any]:
    incident = actions.check_in(session, incident_id=incident_id, actor=user, note=body.note)
    return incident_detail(session, incident, lang, links)


@router.get("/categories", summary="Incident categories (GB/T 30428.2 event classes)")
def categories(session: SessionDep, user: UserDep, lang: LangDep) -> list[dict[str, Any]]:
    rows = session.scalars(select(Category).order_by(Category.code)).all()
    return [
        {
            "code": c.code,
            "parent_code": c.parent_code,
            "name": c.name_en if lang == "en" else c.name_zh,
            "name_zh": c.name_zh,
            "name_en": c.name_en,
            "urgent": c.urgent,
        }
        for c in rows
    ]
