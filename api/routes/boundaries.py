"""Point lookup, grids, areas and generations."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import LangDep, SessionDep, request_language, request_session
from api.geojson import feature, feature_collection
from api.params import GenerationParam
from api.security import UserDep
from gridgov.boundaries.generations import get_generation, list_generations
from gridgov.boundaries.index import GenerationRef, GridIndex, Place
from gridgov.boundaries.lookup import (
    area_chain,
    children_of,
    get_area,
    get_grid,
    locate,
    nearest_grid,
)
from gridgov.boundaries.models import Area, Generation, Grid
from gridgov.geo.crs import InputCRS, to_wgs84
from gridgov.i18n import t

router = APIRouter(prefix="/api/v1", tags=["boundaries"])


def _generation(session: SessionDep, generation_id: int | None, lang: str) -> Generation:
    generation = get_generation(session, generation_id=generation_id)
    if generation is None:
        message = (
            t("error.not_found.generation", lang, id=generation_id)
            if generation_id is not None
            else t("error.no_active_generation", lang)
        )
        raise HTTPException(status_code=404, detail={"message": message})
    return generation


def _area_or_404(
    session: SessionDep, code: str, generation_id: int | None, lang: str
) -> tuple[Generation, Area]:
    generation = _generation(session, generation_id, lang)
    area = get_area(session, code=code, generation_id=generation.id)
    if area is None:
        raise HTTPException(404, detail={"message": t("error.not_found.area", lang, code=code)})
    return generation, area


def _area_summary(area: Area) -> dict[str, str]:
    return {"level": area.level, "code": area.code, "name": area.name}


def _grid_properties(grid: Grid) -> dict[str, Any]:
    return {
        "level": "grid",
        "code": grid.code,
        "name": grid.name,
        "households": grid.households,
        "population": grid.population,
        "grid_head": {"name": grid.grid_head_name, "phone": grid.grid_head_phone},
    }


def _generation_summary(generation: Generation) -> dict[str, Any]:
    return {
        "id": generation.id,
        "name": generation.name,
        "active": generation.is_active,
        "activated_at": generation.activated_at.isoformat() if generation.activated_at else None,
    }


def _place_answer(place: Place) -> dict[str, Any]:
    """Everything a locate answer says about the grid (all but the point)."""
    generation: GenerationRef = place.generation
    head = {"name": place.grid_head_name, "phone": place.grid_head_phone}
    return {
        "grid": {
            "level": "grid",
            "code": place.code,
            "name": place.name,
            "households": place.households,
            "population": place.population,
            "grid_head": head,
        },
        "grid_head": head,
        "areas": [{"level": a.level, "code": a.code, "name": a.name} for a in place.areas],
        "generation": {
            "id": generation.id,
            "name": generation.name,
            "active": generation.is_active,
            "activated_at": (
                generation.activated_at.isoformat() if generation.activated_at else None
            ),
        },
    }


def _prepared(index: GridIndex, place: Place) -> bytes:
    """The place's part of the answer as JSON bytes, made once per grid and index."""
    key = ("locate", place.grid_id)
    found = index.answers.get(key)
    if found is None:
        # '"grid":{...},...,"generation":{...}}': the object without its opening brace.
        found = index.answers[key] = orjson.dumps(_place_answer(place))[1:]
    return found


@router.get(
    "/locate",
    summary="Which grid holds this point?",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
async def locate_point(
    request: Request,
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude")],
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude")],
    crs: Annotated[InputCRS, Query(description="CRS of lon/lat")] = InputCRS.WGS84,
    generation: GenerationParam = None,
) -> Response:
    """The grid covering the point, its chain of areas and its grid head.

    The active generation answers from memory: no database round trip and, unless the
    once-a-second generation check is due, no worker thread either (async, no dependencies
    that would each take a thread). Another generation, asked for by id, answers from PostGIS."""
    wgs_lon, wgs_lat = to_wgs84(lon, lat, crs)
    point = {"lon": lon, "lat": lat, "crs": crs.value, "wgs84": [wgs_lon, wgs_lat]}
    fresh, index = request.app.state.grid_index.peek()
    if fresh and index is not None and generation in (None, index.generation_id):
        place = index.place_at(wgs_lon, wgs_lat)
        if place is not None:
            body = b'{"point":' + orjson.dumps(point) + b"," + _prepared(index, place)
            return Response(body, media_type="application/json")
    return await run_in_threadpool(_locate_with_session, request, point, generation)


def _locate_with_session(
    request: Request, point: dict[str, Any], generation: int | None
) -> Response:
    """The locate answer when the database has a say: a check is due, another generation is
    asked for, or the point is outside every grid (how far is the nearest?)."""
    lang = request_language(request)
    wgs_lon, wgs_lat = point["wgs84"]
    with request_session(request) as session:
        index = request.app.state.grid_index.get(session)
        if index is not None and generation in (None, index.generation_id):
            generation_id = index.generation_id
            place = index.place_at(wgs_lon, wgs_lat)
            if place is not None:
                body = b'{"point":' + orjson.dumps(point) + b"," + _prepared(index, place)
                return Response(body, media_type="application/json")
        else:
            gen = _generation(session, generation, lang)
            generation_id = gen.id
            found = locate(session, lon=wgs_lon, lat=wgs_lat, generation_id=gen.id)
            if found is not None:
                place = Place.of(found.grid, found.areas, found.generation)
                answer = {"point": point, **_place_answer(place)}
                return Response(orjson.dumps(answer), media_type="application/json")
        nearest = nearest_grid(session, lon=wgs_lon, lat=wgs_lat, generation_id=generation_id)
    distance = round(nearest.distance_m, 1) if nearest else None
    raise HTTPException(
        status_code=404,
        detail={
            "message": t("error.outside_grids", lang, distance_m=distance),
            "code": "error.outside_grids",
            "nearest_grid": nearest.grid.code if nearest else None,
            "distance_m": distance,
        },
    )


@router.get("/grids/{code}", summary="One grid as a GeoJSON Feature")
def read_grid(
    code: str,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    generation: GenerationParam = None,
) -> dict[str, Any]:
    """A grid with its geometry, grid head and chain of areas."""
    gen = _generation(session, generation, lang)
    grid = get_grid(session, code=code, generation_id=gen.id)
    if grid is None:
        raise HTTPException(404, detail={"message": t("error.not_found.grid", lang, code=code)})
    properties = _grid_properties(grid)
    properties["areas"] = [_area_summary(a) for a in area_chain(session, area_id=grid.parent_id)]
    properties["generation"] = gen.id
    return feature(grid.geom, properties, feature_id=grid.code)


@router.get("/areas/{code}", summary="One area as a GeoJSON Feature")
def read_area(
    code: str,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    generation: GenerationParam = None,
) -> dict[str, Any]:
    """An area (city, district, street or community) with its geometry and parents."""
    gen, area = _area_or_404(session, code, generation, lang)
    properties: dict[str, Any] = _area_summary(area)
    properties["parents"] = [_area_summary(a) for a in area_chain(session, area_id=area.id)[:-1]]
    properties["generation"] = gen.id
    return feature(area.geom, properties, feature_id=area.code)


@router.get("/areas/{code}/children", summary="The areas (or grids) directly below an area")
def read_area_children(
    code: str,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    generation: GenerationParam = None,
) -> dict[str, Any]:
    """A FeatureCollection of the children of an area: grids for a community."""
    _, area = _area_or_404(session, code, generation, lang)
    features = [
        feature(c.geom, _grid_properties(c) if isinstance(c, Grid) else _area_summary(c), c.code)
        for c in children_of(session, area=area)
    ]
    return feature_collection(features)


@router.get("/generations", summary="Boundary generations")
def read_generations(session: SessionDep, user: UserDep) -> list[dict[str, Any]]:
    """Every boundary generation, oldest first."""
    return [_generation_summary(g) for g in list_generations(session)]
