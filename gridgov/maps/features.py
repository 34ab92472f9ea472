"""Feature collections as OGC API - Features (Part 1) serves them: one table per collection.

A collection is a table seen through one query: which rows (the active generation's areas of
one level, the incidents the caller may read ...), which column is the feature's id, which is
its geometry, which columns become properties, and which column the ``datetime`` parameter
filters. Every collection is read a page at a time in id order, so a client paging with
``offset`` sees each feature once. Geometries leave PostGIS as GeoJSON text, as on the map.

The web face (``api/routes/ogc.py``) turns these into the standard's documents and links; this
module knows nothing of HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.orm import Session

from gridgov.boundaries.models import Area, Grid
from gridgov.fences.models import Fence
from gridgov.incidents.models import Incident
from gridgov.incidents.queries import readable_by
from gridgov.sensors.models import Sensor
from gridgov.supplies.models import Stockpile
from gridgov.users.roles import Action, Actor, allowed

DECIMALS = 6  # about 0.1 m, as on the map
MAX_LIMIT = 10_000

BBox = tuple[float, float, float, float]
Interval = tuple[datetime | None, datetime | None]


@dataclass(frozen=True)
class Collection:
    """One feature collection: a table, its id, geometry and properties, and who may read it."""

    id: str
    title_zh: str
    title_en: str
    id_column: Any
    geometry: Any
    properties: dict[str, Any]
    # Rows of this collection for this caller and this active generation (SQL WHERE).
    rows: Callable[[Actor, int], ColumnElement[bool]]
    # The role table's action a caller needs to read it at all (None: any signed-in user).
    action: Action | None = None
    temporal: Any = None  # the column ``datetime`` filters, if any

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" else self.title_zh

    def readable(self, actor: Actor) -> bool:
        return self.action is None or allowed(actor, self.action)


def _areas(level: str) -> Callable[[Actor, int], ColumnElement[bool]]:
    return lambda _actor, generation_id: and_(
        Area.generation_id == generation_id, Area.level == level
    )


def _area_collection(name: str, level: str, zh: str, en: str) -> Collection:
    return Collection(
        id=name,
        title_zh=zh,
        title_en=en,
        id_column=Area.code,
        geometry=Area.geom,
        properties={"code": Area.code, "name": Area.name, "level": Area.level},
        rows=_areas(level),
    )


COLLECTIONS: dict[str, Collection] = {
    c.id: c
    for c in (
        _area_collection("districts", "district", "区县", "Districts"),
        _area_collection("streets", "street", "街道", "Streets"),
        _area_collection("communities", "community", "社区", "Communities"),
        Collection(
            id="grids",
            title_zh="网格",
            title_en="Grids",
            id_column=Grid.code,
            geometry=Grid.geom,
            properties={
                "code": Grid.code,
                "name": Grid.name,
                "grid_head": Grid.grid_head_name,
                "households": Grid.households,
                "population": Grid.population,
            },
            rows=lambda _actor, generation_id: Grid.generation_id == generation_id,
        ),
        Collection(
            id="incidents",
            title_zh="事件",
            title_en="Incidents",
            id_column=Incident.id,
            geometry=Incident.position,
            properties={
                "status": Incident.status,
                "level": Incident.level,
                "category": Incident.category_code,
                "grid": Incident.grid_code,
                "community": Incident.community_code,
                "street": Incident.street_code,
                "district": Incident.district_code,
                "department": Incident.department_code,
                "source": Incident.source,
                "reported_at": Incident.reported_at,
                "deadline_at": Incident.deadline_at,
                "closed_at": Incident.closed_at,
                "rating": Incident.rating,
            },
            rows=lambda actor, _generation_id: readable_by(actor),
            temporal=Incident.reported_at,
        ),
        Collection(
            id="stockpiles",
            title_zh="物资储备点",
            title_en="Stockpiles",
            id_column=Stockpile.code,
            geometry=Stockpile.position,
            properties={
                "code": Stockpile.code,
                "name": Stockpile.name,
                "kind": Stockpile.kind,
                "department": Stockpile.owner_department,
                "contact": Stockpile.contact_name,
                "phone": Stockpile.contact_phone,
                "hours": Stockpile.opening_hours,
                "grid": Stockpile.grid_code,
            },
            rows=lambda _actor, _generation_id: true(),
            action=Action.SEARCH_SUPPLIES,
        ),
        Collection(
            id="sensors",
            title_zh="感知设备",
            title_en="Sensors",
            id_column=Sensor.code,
            geometry=Sensor.position,
            properties={
                "code": Sensor.code,
                "name": Sensor.name,
                "kind": Sensor.kind,
                "department": Sensor.owner_department,
                "grid": Sensor.grid_code,
            },
            rows=lambda _actor, _generation_id: true(),
            action=Action.FENCES,
        ),
        Collection(
            id="fences",
            title_zh="电子围栏",
            title_en="Fences",
            id_column=Fence.code,
            geometry=Fence.geom,
            properties={
                "code": Fence.code,
                "name": Fence.name,
                "rule": Fence.rule,
                "category": Fence.category_code,
                "active_from": Fence.active_from,
                "active_to": Fence.active_to,
            },
            rows=lambda _actor, _generation_id: Fence.is_active.is_(True),
            action=Action.FENCES,
        ),
    )
}


@dataclass(frozen=True)
class Page:
    """One page of a collection's items."""

    features: list[dict[str, Any]]
    number_matched: int


def _where(
    c: Collection,
    *,
    actor: Actor,
    generation_id: int,
    bbox: BBox | None = None,
    interval: Interval = (None, None),
) -> list[ColumnElement[bool]]:
    conditions = [c.rows(actor, generation_id)]
    if bbox is not None:
        # ST_Intersects, not GeoAlchemy's ``intersects`` (``&&``, boxes only): a grid whose
        # box overlaps the window but whose shape does not is not in it.
        conditions.append(func.ST_Intersects(c.geometry, func.ST_MakeEnvelope(*bbox, 4326)))
    start, end = interval
    if c.temporal is not None and start is not None:
        conditions.append(c.temporal >= start)
    if c.temporal is not None and end is not None:
        conditions.append(c.temporal <= end)
    return conditions


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _features(c: Collection, rows: Any) -> list[dict[str, Any]]:
    names = list(c.properties)
    return [
        {
            "type": "Feature",
            "id": row[0],
            "geometry": json.loads(row[1]),
            "properties": {name: _plain(value) for name, value in zip(names, row[2:], strict=True)},
        }
        for row in rows
    ]


def _columns(c: Collection) -> list[Any]:
    return [c.id_column, func.ST_AsGeoJSON(c.geometry, DECIMALS), *c.properties.values()]


def items(
    session: Session,
    c: Collection,
    *,
    actor: Actor,
    generation_id: int,
    bbox: BBox | None = None,
    interval: Interval = (None, None),
    limit: int = 10,
    offset: int = 0,
) -> Page:
    """A page of the collection's features (id order) and how many match in all."""
    conditions = _where(c, actor=actor, generation_id=generation_id, bbox=bbox, interval=interval)
    matched = session.scalar(select(func.count()).select_from(c.id_column.table).where(*conditions))
    rows = session.execute(
        select(*_columns(c)).where(*conditions).order_by(c.id_column).limit(limit).offset(offset)
    ).all()
    return Page(features=_features(c, rows), number_matched=int(matched or 0))


def item(
    session: Session, c: Collection, *, actor: Actor, generation_id: int, feature_id: str
) -> dict[str, Any] | None:
    """One feature by its id, or None when it does not exist or the caller may not read it."""
    key: Any = feature_id
    if c.id_column.type.python_type is int:
        if not feature_id.isdigit() or int(feature_id) > 2**63 - 1:
            return None
        key = int(feature_id)
    rows = session.execute(
        select(*_columns(c)).where(
            c.id_column == key, *_where(c, actor=actor, generation_id=generation_id)
        )
    ).all()
    found = _features(c, rows)
    return found[0] if found else None


def extent(session: Session, c: Collection, *, actor: Actor, generation_id: int) -> BBox | None:
    """The bounding box of the features the caller may read (None when there are none)."""
    box = session.execute(
        select(
            func.ST_XMin(func.ST_Extent(c.geometry)),
            func.ST_YMin(func.ST_Extent(c.geometry)),
            func.ST_XMax(func.ST_Extent(c.geometry)),
            func.ST_YMax(func.ST_Extent(c.geometry)),
        ).where(*_where(c, actor=actor, generation_id=generation_id))
    ).one()
    if box[0] is None:
        return None
    return (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
