"""Coverage: what each item totals in an area and near each of its communities, and which
communities have none of an item within reach. In a city without communities the areas its
grids sit in (streets or districts) stand in for them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

_IN_AREA = text(
    """
    SELECT l.item_code, sum(l.quantity - l.reserved)::int AS available,
           count(DISTINCT s.id) AS stockpiles
    FROM stock_lots l JOIN stockpiles s ON s.id = l.stockpile_id
    WHERE :area IN (s.city_code, s.district_code, s.street_code, s.community_code)
      AND l.item_code = ANY(:items)
      AND (l.expires_on IS NULL OR l.expires_on >= :today)
    GROUP BY l.item_code
    """
)
_NEAR_COMMUNITIES = text(
    """
    WITH communities AS (
        SELECT a.id, a.code, a.name, a.geom, ST_PointOnSurface(a.geom)::geography AS centre
        FROM areas a JOIN areas p ON true
        WHERE a.generation_id = :generation
          -- the areas grids sit in: communities, or streets/districts in a city without them
          AND a.id IN (SELECT g.parent_id FROM grids g WHERE g.generation_id = :generation)
          AND p.generation_id = :generation AND p.code = :area
          AND ST_Covers(p.geom, ST_PointOnSurface(a.geom))
    )
    SELECT c.code, c.name, ST_AsGeoJSON(c.geom, 6) AS geojson, i.item,
           coalesce((
               SELECT sum(l.quantity - l.reserved)
               FROM stock_lots l
               WHERE l.item_code = i.item
                 AND (l.expires_on IS NULL OR l.expires_on >= :today)
                 AND ST_DWithin(l.position, c.centre, :radius_m)
           ), 0)::int AS available
    FROM communities c CROSS JOIN unnest(CAST(:items AS text[])) AS i(item)
    ORDER BY c.code, i.item
    """
)


@dataclass(frozen=True)
class CommunityCoverage:
    code: str
    name: str
    geometry: dict[str, Any]  # GeoJSON
    within_radius: dict[str, int]

    @property
    def missing(self) -> list[str]:
        """Items with nothing available within the radius of the community's centre."""
        return [item for item, total in self.within_radius.items() if total == 0]


@dataclass(frozen=True)
class Coverage:
    area_code: str
    radius_km: float
    in_area: dict[str, dict[str, int]]  # item -> {"available", "stockpiles"}
    communities: list[CommunityCoverage]

    def geojson(self) -> dict[str, Any]:
        """The communities as a FeatureCollection, for the map."""
        return {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "id": c.code, "geometry": c.geometry, "properties": row}
                for c, row in zip(self.communities, self.table(), strict=True)
            ],
        }

    def table(self) -> list[dict[str, Any]]:
        """One row per community: totals within the radius and the items it lacks."""
        return [
            {"code": c.code, "name": c.name, "within_radius": c.within_radius, "missing": c.missing}
            for c in self.communities
        ]


def coverage(
    session: Session,
    *,
    generation_id: int,
    area_code: str,
    items: list[str],
    radius_km: float,
    today: date,
) -> Coverage:
    """Totals per item in ``area_code``, and within ``radius_km`` of each community's centre."""
    params = {"area": area_code, "items": items, "today": today}
    in_area = {
        row.item_code: {"available": int(row.available), "stockpiles": int(row.stockpiles)}
        for row in session.execute(_IN_AREA, params)
    }
    for item in items:
        in_area.setdefault(item, {"available": 0, "stockpiles": 0})
    rows = session.execute(
        _NEAR_COMMUNITIES,
        {**params, "generation": generation_id, "radius_m": radius_km * 1000},
    ).all()
    communities: dict[str, CommunityCoverage] = {}
    for row in rows:
        entry = communities.setdefault(
            row.code, CommunityCoverage(row.code, row.name, json.loads(row.geojson), {})
        )
        entry.within_radius[row.item] = int(row.available)
    return Coverage(area_code, radius_km, in_area, list(communities.values()))
