"""Emergency supplies over HTTP: nearest stockpiles, plans, reservations, coverage."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from geoalchemy2.shape import to_shape
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import IndexDep, LangDep, SessionDep
from api.params import INT8_MAX, BigId
from api.security import UserDep, require
from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.lookup import get_area
from gridgov.errors import FieldError
from gridgov.geo.crs import InputCRS, to_wgs84
from gridgov.i18n import label, t
from gridgov.supplies import reservations
from gridgov.supplies.coverage import coverage
from gridgov.supplies.models import Item, Reservation, StockLot, Stockpile, SupplyEvent
from gridgov.supplies.planning import parse_demand
from gridgov.supplies.search import SearchResult, find_supplies
from gridgov.users.roles import Action

router = APIRouter(prefix="/api/v1/supplies", tags=["supplies"])
MAX_LIMIT = 50
MAX_KM = 200.0


def stockpile_out(stockpile: Stockpile, lang: str) -> dict[str, Any]:
    point = to_shape(stockpile.position)
    return {
        "code": stockpile.code,
        "name": stockpile.name,
        "kind": stockpile.kind,
        "kind_label": label("stockpile_kind." + stockpile.kind, lang, stockpile.kind),
        "owner_department": stockpile.owner_department,
        "contact": {"name": stockpile.contact_name, "phone": stockpile.contact_phone},
        "opening_hours": stockpile.opening_hours,
        "position": {"lon": point.x, "lat": point.y},
        "grid": stockpile.grid_code,
        "areas": {
            "city": stockpile.city_code,
            "district": stockpile.district_code,
            "street": stockpile.street_code,
            "community": stockpile.community_code,
        },
    }


def search_out(result: SearchResult, lang: str) -> dict[str, Any]:
    """The ranked stockpiles with running totals, and the plan, in one answer."""
    return {
        "distance": result.distance_kind,
        "note": t("supplies.no_roads", lang)
        if result.road_requested and result.distance_kind == "straight"
        else None,
        "requested": result.demand,
        "nearest": [
            {
                **stockpile_out(r.stockpile, lang),
                "distance_m": round(r.distance_m, 1),
                "straight_m": round(r.straight_m, 1),
                "available": r.available,
                "running_total": r.running_total,
            }
            for r in result.ranked
        ],
        "covered_at": result.covered_at,
        "plan": {
            "covered": result.plan.covered,
            "stockpiles": [
                {
                    **stockpile_out(result.plan_stockpiles[p.candidate.stockpile_id], lang),
                    "distance_m": round(p.candidate.distance_m, 1),
                    "take": p.take,
                }
                for p in result.plan.picks
            ],
            "shortfall": result.plan.shortfall,
        },
    }


@router.get("/items", summary="The item catalogue")
def items(session: SessionDep, user: UserDep, lang: LangDep) -> list[dict[str, str]]:
    rows = session.scalars(select(Item).order_by(Item.code)).all()
    return [
        {
            "code": i.code,
            "name": i.name_en if lang == "en" else i.name_zh,
            "unit": i.unit_en if lang == "en" else i.unit_zh,
        }
        for i in rows
    ]


@router.get("/nearest", summary="The nearest stockpiles that together hold what is needed")
def nearest(
    request: Request,
    session: SessionDep,
    user: UserDep,
    index: IndexDep,
    lang: LangDep,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    item: Annotated[list[str], Query(description="item:quantity, repeatable (tent:500)")],
    quantity: Annotated[
        int | None, Query(description="for a single item without :quantity")
    ] = None,
    crs: InputCRS = InputCRS.WGS84,
    limit: Annotated[int, Query(ge=1)] = 10,
    max_km: Annotated[float, Query(gt=0)] = 50.0,
    by: Literal["straight", "road"] = "straight",
) -> dict[str, Any]:
    """Nearest first, with what each can give now (stock minus reservations, expired stock
    excluded), the running total and where the request is covered; several items give a plan."""
    require(user, Action.SEARCH_SUPPLIES, lang)
    if limit > MAX_LIMIT:
        raise FieldError("limit", "supplies.limit", limit=MAX_LIMIT)
    if max_km > MAX_KM:
        raise FieldError("max_km", "supplies.max_km", limit=MAX_KM)
    demand = parse_demand(item, quantity)
    wgs_lon, wgs_lat = to_wgs84(lon, lat, crs)
    if index is not None and index.locate(wgs_lon, wgs_lat) is None:
        raise FieldError("position", "supplies.outside_city")
    network = request.app.state.road_network.get(session) if by == "road" else None
    result = find_supplies(
        session,
        lon=wgs_lon,
        lat=wgs_lat,
        demand=demand,
        today=request.app.state.settings.today(),
        max_km=max_km,
        limit=limit,
        network=network,
        by_road=by == "road",
    )
    return search_out(result, lang)


@router.get("/stockpiles/{code}", summary="A stockpile and its stock")
def stockpile(
    code: str, request: Request, session: SessionDep, user: UserDep, lang: LangDep
) -> dict[str, Any]:
    require(user, Action.SEARCH_SUPPLIES, lang)
    found = session.scalar(select(Stockpile).where(Stockpile.code == code))
    if found is None:
        raise HTTPException(
            404, detail={"message": t("supplies.unknown_stockpile", lang, code=code)}
        )
    today = request.app.state.settings.today()
    lots = session.scalars(
        select(StockLot)
        .where(StockLot.stockpile_id == found.id)
        .order_by(StockLot.item_code, StockLot.expires_on)
    ).all()
    return {
        **stockpile_out(found, lang),
        "stock": [
            {
                "item": lot.item_code,
                "quantity": lot.quantity,
                "reserved": lot.reserved,
                "available": lot.quantity - lot.reserved if not _expired(lot, today) else 0,
                "expires_on": lot.expires_on.isoformat() if lot.expires_on else None,
                "expired": _expired(lot, today),
            }
            for lot in lots
        ],
    }


def _expired(lot: StockLot, today: Any) -> bool:
    return lot.expires_on is not None and lot.expires_on < today


class Line(BaseModel):
    stockpile: str = Field(min_length=1, max_length=32)
    item: str = Field(min_length=1, max_length=32)
    quantity: int = Field(gt=0, le=10_000_000)


class ReservationIn(BaseModel):
    lines: list[Line] = Field(min_length=1, max_length=100)
    purpose: str = Field(default="", max_length=2000)
    incident_id: int | None = Field(default=None, ge=1, le=INT8_MAX)


def reservation_out(session: SessionDep, reservation: Reservation, lang: str) -> dict[str, Any]:
    events = session.scalars(
        select(SupplyEvent)
        .where(SupplyEvent.reservation_id == reservation.id)
        .order_by(SupplyEvent.id)
    ).all()
    return {
        "id": reservation.id,
        "status": reservation.status,
        "status_label": t("reservation." + reservation.status, lang),
        "incident_id": reservation.incident_id,
        "purpose": reservation.purpose,
        "lines": [
            {
                "stockpile": stockpile.code,
                "item": line.item_code,
                "quantity": line.quantity,
                "lot": line.lot_id,
            }
            for line, stockpile in reservations.lines_of(session, reservation_id=reservation.id)
        ],
        "history": [
            {
                "action": e.action,
                "from": e.from_status,
                "to": e.to_status,
                "actor_id": e.actor_id,
                "at": e.at.isoformat(),
            }
            for e in events
        ],
    }


@router.post("/reservations", status_code=201, summary="Reserve stock, all lines or none")
def reserve(
    body: ReservationIn, request: Request, session: SessionDep, user: UserDep, lang: LangDep
) -> dict[str, Any]:
    require(user, Action.RESERVE, lang)
    unknown = sorted({line.item for line in body.lines} - set(session.scalars(select(Item.code))))
    if unknown:
        raise FieldError("lines.item", "supplies.unknown_item", item=", ".join(unknown))
    reservation = reservations.reserve(
        session,
        actor=user,
        wants=[reservations.Want(line.stockpile, line.item, line.quantity) for line in body.lines],
        purpose=body.purpose,
        incident_id=body.incident_id,
        today=request.app.state.settings.today(),
    )
    return reservation_out(session, reservation, lang)


@router.get("/reservations/{reservation_id}", summary="A reservation and its history")
def read_reservation(
    reservation_id: BigId, session: SessionDep, user: UserDep, lang: LangDep
) -> dict[str, Any]:
    require(user, Action.RESERVE, lang)
    reservation = reservations.get_reservation(session, reservation_id=reservation_id, actor=user)
    return reservation_out(session, reservation, lang)


@router.post("/reservations/{reservation_id}/release", summary="Give the stock back")
def release(
    reservation_id: BigId, session: SessionDep, user: UserDep, lang: LangDep
) -> dict[str, Any]:
    reservation = reservations.release(session, reservation_id=reservation_id, actor=user)
    return reservation_out(session, reservation, lang)


@router.post("/reservations/{reservation_id}/fulfil", summary="The stock left: take it off")
def fulfil(
    reservation_id: BigId, session: SessionDep, user: UserDep, lang: LangDep
) -> dict[str, Any]:
    reservation = reservations.fulfil(session, reservation_id=reservation_id, actor=user)
    return reservation_out(session, reservation, lang)


@router.get("/coverage", summary="What an area holds, and which communities lack an item")
def read_coverage(
    request: Request,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    area: str,
    item: Annotated[list[str], Query()],
    radius_km: Annotated[float, Query(gt=0, le=MAX_KM)] = 5.0,
    format: Literal["json", "geojson"] = "json",
) -> dict[str, Any]:
    require(user, Action.SEARCH_SUPPLIES, lang)
    known = set(session.scalars(select(Item.code)))
    for code in item:
        if code not in known:
            raise FieldError("item", "supplies.unknown_item", item=code)
    generation = active_generation(session)
    if generation is None or get_area(session, code=area, generation_id=generation.id) is None:
        raise FieldError("area", "error.not_found.area", code=area)
    result = coverage(
        session,
        generation_id=generation.id,
        area_code=area,
        items=item,
        radius_km=radius_km,
        today=request.app.state.settings.today(),
    )
    if format == "geojson":
        return result.geojson()
    return {
        "area": area,
        "radius_km": radius_km,
        "in_area": result.in_area,
        "communities": result.table(),
    }
