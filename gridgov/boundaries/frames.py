"""Boundaries of one generation as GeoDataFrames, for checks, notebooks and maps."""

from __future__ import annotations

import geopandas as gpd
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridgov.boundaries.levels import Level

_AREAS_SQL = text(
    """
    SELECT a.id, a.code, a.name, p.code AS parent_code, a.geom
    FROM areas a LEFT JOIN areas p ON p.id = a.parent_id
    WHERE a.generation_id = :generation_id AND a.level = :level
    ORDER BY a.code
    """
)
_GRIDS_SQL = text(
    """
    SELECT g.id, g.code, g.name, c.code AS parent_code, g.grid_head_name, g.grid_head_phone,
           g.households, g.population, g.geom
    FROM grids g JOIN areas c ON c.id = g.parent_id
    WHERE g.generation_id = :generation_id
    ORDER BY g.code
    """
)


def read_level(session: Session, *, level: Level, generation_id: int) -> gpd.GeoDataFrame:
    """One level of one generation: code, name, parent_code, geometry (EPSG:4326)."""
    sql = _GRIDS_SQL if level is Level.GRID else _AREAS_SQL
    params = {"generation_id": generation_id, "level": level.value}
    frame = gpd.read_postgis(sql, session.connection(), geom_col="geom", params=params)
    return frame.rename_geometry("geometry").set_crs("EPSG:4326", allow_override=True)
