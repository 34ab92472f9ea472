"""The layers of the command-centre map, as GeoJSON: light enough for 10,000 incidents.

Each function answers one layer for one caller: incidents are limited to what the caller may
read (the same rule as the incident list), grids are shaded by the open incidents the caller
can see. Geometries come out of PostGIS already as GeoJSON (``ST_AsGeoJSON``), rounded to
six decimals (about 0.1 m), so Python never builds shapes for a map layer.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from gridgov.boundaries.models import Area, Grid
from gridgov.incidents.lifecycle import OPEN_STATUSES
from gridgov.incidents.models import Incident
from gridgov.incidents.queries import IncidentFilter, filtered, readable_by
from gridgov.responsibilities.models import Category
from gridgov.supplies.models import Road, Stockpile
from gridgov.users.roles import Actor
from gridgov.visits.load import Thresholds, load_level
from gridgov.visits.service import community_units

MAX_POINTS = 20_000
MAX_HEAT_POINTS = 50_000
DECIMALS = 6

BBox = tuple[float, float, float, float]


def collection(features: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A GeoJSON FeatureCollection."""
    return {"type": "FeatureCollection", **extra, "features": features}


def _feature(geometry: str, properties: dict[str, Any], fid: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "Feature", "geometry": json.loads(geometry)}
    if fid is not None:
        out["id"] = fid
    out["properties"] = properties
    return out


def _in_box(column: Any, bbox: BBox | None) -> Any:
    return column.intersects(func.ST_MakeEnvelope(*bbox, 4326)) if bbox else True


def incident_points(
    session: Session, *, actor: Actor, filters: IncidentFilter, lang: str, limit: int = MAX_POINTS
) -> dict[str, Any]:
    """Incidents as points with what a marker needs (status, urgency, category, deadline);
    the popup asks for the rest. ``numberMatched`` says how many there were in all."""
    name = Category.name_en if lang == "en" else Category.name_zh
    query: Select[Any] = filtered(
        select(
            Incident.id,
            Incident.status,
            Incident.level,
            Incident.category_code,
            name,
            Category.urgent,
            func.ST_X(Incident.position),
            func.ST_Y(Incident.position),
            Incident.grid_code,
            Incident.department_code,
            Incident.reported_at,
            Incident.deadline_at,
            Incident.source,
        )
        .join(Category, Category.code == Incident.category_code)
        .where(readable_by(actor)),
        filters,
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(Incident.reported_at.desc(), Incident.id.desc()).limit(limit)
    ).all()
    features = [
        {
            "type": "Feature",
            "id": row[0],
            "geometry": {
                "type": "Point",
                "coordinates": [round(row[6], DECIMALS), round(row[7], DECIMALS)],
            },
            "properties": {
                "id": row[0],
                "status": row[1],
                "level": row[2],
                "category": row[3],
                "category_name": row[4],
                "urgent": bool(row[5]),
                "grid": row[8],
                "department": row[9],
                "reported_at": row[10].isoformat(),
                "deadline_at": row[11].isoformat() if row[11] else None,
                "source": row[12],
            },
        }
        for row in rows
    ]
    return collection(features, numberMatched=int(total), numberReturned=len(features))


def heat_points(
    session: Session, *, actor: Actor, filters: IncidentFilter, limit: int = MAX_HEAT_POINTS
) -> list[list[float]]:
    """[lat, lon] of every readable incident in the filter (Leaflet.heat's order)."""
    query: Select[Any] = filtered(
        select(func.ST_Y(Incident.position), func.ST_X(Incident.position)).where(
            readable_by(actor)
        ),
        filters,
    )
    rows = session.execute(query.order_by(Incident.reported_at.desc()).limit(limit)).all()
    return [[round(row[0], DECIMALS), round(row[1], DECIMALS)] for row in rows]


def grid_shading(
    session: Session, *, actor: Actor, generation_id: int, bbox: BBox | None
) -> dict[str, Any]:
    """The grids of a generation (in the box), each with its count of open incidents."""
    open_counts = (
        select(Incident.grid_code, func.count().label("open"))
        .where(Incident.status.in_(OPEN_STATUSES), readable_by(actor))
        .group_by(Incident.grid_code)
        .subquery()
    )
    rows = session.execute(
        select(
            Grid.code,
            Grid.name,
            Grid.grid_head_name,
            func.coalesce(open_counts.c.open, 0),
            func.ST_AsGeoJSON(Grid.geom, DECIMALS),
        )
        .outerjoin(open_counts, open_counts.c.grid_code == Grid.code)
        .where(Grid.generation_id == generation_id, _in_box(Grid.geom, bbox))
        .order_by(Grid.code)
    ).all()
    return collection(
        [
            _feature(geometry, {"code": code, "name": name, "head": head, "open": int(count)}, code)
            for code, name, head, count, geometry in rows
        ]
    )


def area_outlines(session: Session, *, generation_id: int, level: str) -> dict[str, Any]:
    """The boundaries of one level of areas (districts, streets or communities)."""
    rows = session.execute(
        select(Area.code, Area.name, func.ST_AsGeoJSON(Area.geom, DECIMALS))
        .where(and_(Area.generation_id == generation_id, Area.level == level))
        .order_by(Area.code)
    ).all()
    return collection(
        [
            _feature(geometry, {"code": code, "name": name, "level": level}, code)
            for code, name, geometry in rows
        ]
    )


def visit_load(
    session: Session, *, generation_id: int, month: date, thresholds: Thresholds
) -> dict[str, Any]:
    """Every community with the distinct units registered to visit it in ``month`` and its
    level (green, yellow above ``thresholds.yellow_above``, red above ``red_above``)."""
    units = community_units(session, month=month)
    rows = session.execute(
        select(Area.code, Area.name, func.ST_AsGeoJSON(Area.geom, DECIMALS))
        .where(Area.generation_id == generation_id, Area.level == "community")
        .order_by(Area.code)
    ).all()
    features = []
    for code, name, geometry in rows:
        n = units.get(code, 0)
        level = load_level(n, thresholds).value
        properties = {"code": code, "name": name, "units": n, "level": level}
        features.append(_feature(geometry, properties, code))
    return collection(
        features,
        month=month.strftime("%Y-%m"),
        thresholds={"yellow_above": thresholds.yellow_above, "red_above": thresholds.red_above},
    )


def streets(session: Session) -> dict[str, Any]:
    """The road network, for a map that has no tiles."""
    rows = session.execute(
        select(Road.id, Road.name, func.ST_AsGeoJSON(Road.geom, DECIMALS)).order_by(Road.id)
    ).all()
    return collection([_feature(g, {"name": name}, rid) for rid, name, g in rows])


def stockpile_points(session: Session) -> dict[str, Any]:
    """Every stockpile, with its contact."""
    rows = session.execute(
        select(
            Stockpile.code,
            Stockpile.name,
            Stockpile.kind,
            Stockpile.contact_name,
            Stockpile.contact_phone,
            Stockpile.opening_hours,
            func.ST_AsGeoJSON(Stockpile.position, DECIMALS),
        ).order_by(Stockpile.code)
    ).all()
    return collection(
        [
            _feature(
                geometry,
                {
                    "code": code,
                    "name": name,
                    "kind": kind,
                    "contact": contact,
                    "phone": phone,
                    "hours": hours,
                },
                code,
            )
            for code, name, kind, contact, phone, hours, geometry in rows
        ]
    )
