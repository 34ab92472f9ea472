"""OGC API - Features, Part 1 (Core and GeoJSON): the city's layers for QGIS, ArcGIS, OWSLib.

A thin face over ``gridgov.maps.features``: the landing page, the conformance declaration,
the collections and their items, with the standard's links and paging (``limit``/``offset``
and a ``next`` link). The landing page and the conformance declaration are public; every
collection is read as the signed-in caller, with the scopes of the native API (a district
operator sees the incidents of the district; sensors and fences need the role that manages
them). Query parameters the standard does not define for an operation are refused with 400,
as Core requires.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse

from api.deps import IndexDep, LangDep, SessionDep
from api.params import parse_bbox
from api.security import UserDep
from gridgov.boundaries.index import GridIndex
from gridgov.errors import FieldError
from gridgov.i18n import t
from gridgov.maps import features
from gridgov.users.models import User

router = APIRouter(prefix="/ogc", tags=["ogc api features"])

GEOJSON = "application/geo+json"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
ITEM_PARAMS = {"limit", "offset", "bbox", "datetime", "f", "lang"}
PLAIN_PARAMS = {"f", "lang"}


class GeoJSONResponse(JSONResponse):
    media_type = GEOJSON


def _bad(field: str, key: str, lang: str, **params: Any) -> HTTPException:
    """400, as the standard asks for a parameter it does not know or cannot read."""
    reason = t(key, lang, field=field, **params)
    return HTTPException(
        400,
        detail={
            "message": t("error.field", lang, field=field, reason=reason),
            "code": key,
            "errors": [{"field": field, "reason": reason, "type": key.rsplit(".", 1)[-1]}],
        },
    )


def _known_params(request: Request, allowed: set[str], lang: str) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise _bad(unknown[0], "error.ogc.unknown_parameter", lang)


def _whole(value: str | None, field: str, lang: str, *, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise _bad(field, "error.ogc.bad_number", lang, low=low, high=high)
    return int(value)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _link(href: str, rel: str, kind: str, title: str = "") -> dict[str, str]:
    out = {"href": href, "rel": rel, "type": kind}
    if title:
        out["title"] = title
    return out


def _collection(name: str, user: User, lang: str) -> features.Collection:
    found = features.COLLECTIONS.get(name)
    if found is None:
        raise HTTPException(404, detail={"message": t("error.ogc.no_collection", lang, name=name)})
    if not found.readable(user.actor()):
        raise HTTPException(
            403, detail={"message": t("error.ogc.collection_forbidden", lang, name=name)}
        )
    return found


def _generation_id(index: GridIndex | None) -> int:
    # No active generation: areas and grids are empty; the other collections do not care.
    return index.generation_id if index is not None else 0


def _interval(value: str | None, lang: str) -> features.Interval:
    """An RFC 3339 instant or interval (``a/b``, ``../b``, ``a/..``) as (start, end)."""
    if not value:
        return (None, None)
    parts = value.split("/")
    try:
        ends = [None if p in ("", "..") else datetime.fromisoformat(p) for p in parts]
    except ValueError:
        ends = []
    if not 1 <= len(ends) <= 2 or any(e is not None and e.tzinfo is None for e in ends):
        raise _bad("datetime", "error.ogc.bad_datetime", lang)
    start, end = ends[0], ends[-1]
    if start is not None and end is not None and start > end:
        raise _bad("datetime", "error.ogc.bad_datetime", lang)
    return (start, end)


def _box(value: str | None, lang: str) -> features.BBox | None:
    try:
        return parse_bbox(value)
    except FieldError:
        raise _bad("bbox", "error.ogc.bad_bbox", lang) from None


def _describe(
    request: Request, c: features.Collection, lang: str, box: features.BBox | None
) -> dict[str, Any]:
    base = _base(request)
    out: dict[str, Any] = {
        "id": c.id,
        "title": c.title(lang),
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            _link(f"{base}/collections/{c.id}", "self", "application/json"),
            _link(f"{base}/collections/{c.id}/items", "items", GEOJSON, c.title(lang)),
        ],
    }
    if box is not None:
        out["extent"] = {"spatial": {"bbox": [list(box)], "crs": CRS84}}
    return out


@router.get("", summary="OGC API - Features: the landing page")
def landing(request: Request, lang: LangDep) -> dict[str, Any]:
    _known_params(request, PLAIN_PARAMS, lang)
    base = _base(request)
    root = str(request.base_url).rstrip("/")
    return {
        "title": t("ogc.title", lang),
        "description": t("ogc.description", lang),
        "links": [
            _link(base, "self", "application/json"),
            _link(
                f"{root}/openapi.json",
                "service-desc",
                "application/vnd.oai.openapi+json;version=3.0",
            ),
            _link(f"{root}/docs", "service-doc", "text/html"),
            _link(f"{base}/conformance", "conformance", "application/json"),
            _link(f"{base}/collections", "data", "application/json"),
        ],
    }


@router.get("/conformance", summary="OGC API - Features: the conformance classes")
def conformance(request: Request, lang: LangDep) -> dict[str, Any]:
    _known_params(request, PLAIN_PARAMS, lang)
    return {"conformsTo": CONFORMANCE}


@router.get("/collections", summary="OGC API - Features: the collections the caller may read")
def collections(
    request: Request, session: SessionDep, user: UserDep, index: IndexDep, lang: LangDep
) -> dict[str, Any]:
    _known_params(request, PLAIN_PARAMS, lang)
    actor, generation_id = user.actor(), _generation_id(index)
    readable = [c for c in features.COLLECTIONS.values() if c.readable(actor)]
    return {
        "links": [_link(f"{_base(request)}/collections", "self", "application/json")],
        "collections": [
            _describe(
                request,
                c,
                lang,
                features.extent(session, c, actor=actor, generation_id=generation_id),
            )
            for c in readable
        ],
    }


CollectionId = Annotated[str, Path(max_length=40, pattern=r"^[a-z]+$")]
FeatureId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/collections/{collection_id}", summary="OGC API - Features: one collection")
def collection(
    request: Request,
    collection_id: CollectionId,
    session: SessionDep,
    user: UserDep,
    index: IndexDep,
    lang: LangDep,
) -> dict[str, Any]:
    _known_params(request, PLAIN_PARAMS, lang)
    c = _collection(collection_id, user, lang)
    box = features.extent(session, c, actor=user.actor(), generation_id=_generation_id(index))
    return _describe(request, c, lang, box)


@router.get(
    "/collections/{collection_id}/items",
    summary="OGC API - Features: a page of a collection's features",
    response_class=GeoJSONResponse,
)
def items(
    request: Request,
    collection_id: CollectionId,
    session: SessionDep,
    user: UserDep,
    index: IndexDep,
    lang: LangDep,
    limit: Annotated[
        str | None, Query(max_length=12, description="features per page, 1 to 10000 (10)")
    ] = None,
    offset: Annotated[
        str | None, Query(max_length=12, description="features to skip (paging)")
    ] = None,
    bbox: Annotated[
        str | None,
        Query(max_length=200, description="min lon,min lat,max lon,max lat (CRS84)"),
    ] = None,
    datetime_: Annotated[
        str | None,
        Query(alias="datetime", max_length=80, description="RFC 3339 instant or a/b interval"),
    ] = None,
) -> dict[str, Any]:
    _known_params(request, ITEM_PARAMS, lang)
    size = _whole(limit, "limit", lang, default=10, low=1, high=features.MAX_LIMIT)
    skip = _whole(offset, "offset", lang, default=0, low=0, high=2**31 - 1)
    box, interval = _box(bbox, lang), _interval(datetime_, lang)
    c = _collection(collection_id, user, lang)
    page = features.items(
        session,
        c,
        actor=user.actor(),
        generation_id=_generation_id(index),
        bbox=box,
        interval=interval,
        limit=size,
        offset=skip,
    )
    here = f"{_base(request)}/collections/{c.id}"
    query = {k: v for k, v in request.query_params.items() if k != "offset"}
    links = [
        _link(str(request.url), "self", GEOJSON),
        _link(here, "collection", "application/json"),
    ]
    if skip + len(page.features) < page.number_matched:
        following = request.url.replace_query_params(**query, offset=skip + size)
        links.append(_link(str(following), "next", GEOJSON))
    return {
        "type": "FeatureCollection",
        "features": page.features,
        "numberMatched": page.number_matched,
        "numberReturned": len(page.features),
        "timeStamp": datetime.now().astimezone().isoformat(),
        "links": links,
    }


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    summary="OGC API - Features: one feature",
    response_class=GeoJSONResponse,
)
def item(
    request: Request,
    collection_id: CollectionId,
    feature_id: FeatureId,
    session: SessionDep,
    user: UserDep,
    index: IndexDep,
    lang: LangDep,
) -> dict[str, Any]:
    _known_params(request, PLAIN_PARAMS, lang)
    c = _collection(collection_id, user, lang)
    found = features.item(
        session, c, actor=user.actor(), generation_id=_generation_id(index), feature_id=feature_id
    )
    if found is None:
        raise HTTPException(
            404, detail={"message": t("error.ogc.no_feature", lang, name=feature_id)}
        )
    here = f"{_base(request)}/collections/{c.id}"
    found["links"] = [
        _link(str(request.url), "self", GEOJSON),
        _link(here, "collection", "application/json"),
    ]
    return found
