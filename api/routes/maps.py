"""The command-centre map's layers over HTTP (GeoJSON, by bounding box where it matters)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request

from api.deps import IndexDep, LangDep, SessionDep
from api.params import BBoxParam, MonthParam, parse_bbox, parse_month
from api.security import UserDep, require
from gridgov.boundaries.index import GridIndex
from gridgov.i18n import t
from gridgov.incidents.queries import IncidentFilter
from gridgov.maps import layers
from gridgov.register.reading import reader_of
from gridgov.register.tier_map import tier_layer
from gridgov.users.roles import Action
from gridgov.visits.load import Thresholds

router = APIRouter(prefix="/api/v1/map", tags=["map"])


def _filters(
    status: list[str] | None,
    category: list[str] | None,
    area: str | None,
    since: datetime | None,
    until: datetime | None,
    bbox: str | None,
) -> IncidentFilter:
    return IncidentFilter(
        statuses=tuple(status or ()),
        categories=tuple(category or ()),
        area_code=area or None,
        since=since,
        until=until,
        bbox=parse_bbox(bbox),
    )


def _generation_id(index: GridIndex | None, lang: str) -> int:
    """The active generation as this process's index knows it (no extra read)."""
    if index is None:
        raise HTTPException(404, detail={"message": t("error.no_active_generation", lang)})
    return index.generation_id


StatusParam = Annotated[list[str] | None, Query()]
CategoryParam = Annotated[list[str] | None, Query(description="sub-class or major-class codes")]


@router.get("/incidents", summary="Incidents as light points for the map (up to 20,000)")
def map_incidents(
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    bbox: BBoxParam = None,
    status: StatusParam = None,
    category: CategoryParam = None,
    area: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """The incidents the caller may read, newest first; ``numberMatched`` counts them all."""
    filters = _filters(status, category, area, since, until, bbox)
    return layers.incident_points(session, actor=user.actor(), filters=filters, lang=lang)


@router.get("/heat", summary="Incident positions for a heat map ([lat, lon] pairs)")
def map_heat(
    session: SessionDep,
    user: UserDep,
    status: StatusParam = None,
    category: CategoryParam = None,
    area: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[list[float]]:
    filters = _filters(status, category, area, since, until, None)
    return layers.heat_points(session, actor=user.actor(), filters=filters)


@router.get("/grids", summary="Grids with their counts of open incidents")
def map_grids(
    session: SessionDep, user: UserDep, index: IndexDep, lang: LangDep, bbox: BBoxParam = None
) -> dict[str, Any]:
    return layers.grid_shading(
        session,
        actor=user.actor(),
        generation_id=_generation_id(index, lang),
        bbox=parse_bbox(bbox),
    )


@router.get("/areas", summary="The outlines of one level of areas")
def map_areas(
    session: SessionDep,
    user: UserDep,
    index: IndexDep,
    lang: LangDep,
    level: Literal["city", "district", "street", "community"] = "district",
) -> dict[str, Any]:
    return layers.area_outlines(session, generation_id=_generation_id(index, lang), level=level)


@router.get("/streets", summary="The road network (the map's background without tiles)")
def map_streets(session: SessionDep, user: UserDep) -> dict[str, Any]:
    return layers.streets(session)


@router.get("/stockpiles", summary="Every stockpile with its contact")
def map_stockpiles(session: SessionDep, user: UserDep, lang: LangDep) -> dict[str, Any]:
    require(user, Action.SEARCH_SUPPLIES, lang)
    return layers.stockpile_points(session)


def visit_thresholds(request: Request) -> Thresholds:
    """The yellow and red thresholds of visiting units a month, from the settings."""
    settings = request.app.state.settings
    return Thresholds(settings.visit_yellow_above, settings.visit_red_above)


@router.get("/visits", summary="Communities by distinct visiting units in a month (heat map)")
def map_visits(
    request: Request,
    session: SessionDep,
    user: UserDep,
    index: IndexDep,
    lang: LangDep,
    month: MonthParam,
) -> dict[str, Any]:
    """GeoJSON: every community with its number of units registered to visit in the month
    and its level: green, yellow above 30, red above 35 (the thresholds are in the answer).
    Every signed-in user may read it: the visitors are officials on duty."""
    return layers.visit_load(
        session,
        generation_id=_generation_id(index, lang),
        month=parse_month(month),
        thresholds=visit_thresholds(request),
    )


@router.get("/tiers", summary="Households per tier (绿黄红) per grid or community")
def map_tiers(
    request: Request,
    session: SessionDep,
    user: UserDep,
    index: IndexDep,
    lang: LangDep,
    level: Literal["grid", "community"] = "grid",
) -> dict[str, Any]:
    """GeoJSON: every grid or community the caller may count in (the register's read
    table), with its red, yellow and green households and the colour of the worst tier
    present; a count of 1-4 is null unless the caller may see those people."""
    require(user, Action.REGISTER, lang)
    return tier_layer(
        session,
        reader=reader_of(session, user),
        level=level,
        generation_id=_generation_id(index, lang),
        lang=lang,
        geodata_dir=request.app.state.settings.geodata_dir,
    )
