"""Classify many points at once: grid and area codes for every row, vectorised."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridgov.boundaries.index import NO_GRID, GridIndex
from gridgov.geo.crs import InputCRS, to_wgs84_arrays

_CHAIN_SQL = text(
    """
    SELECT g.id AS grid_id, g.code AS grid_code, g.name AS grid_name,
           c.code AS community_code, s.code AS street_code, d.code AS district_code,
           city.code AS city_code
    FROM grids g
    JOIN areas c ON c.id = g.community_id
    LEFT JOIN areas s ON s.id = c.parent_id
    LEFT JOIN areas d ON d.id = s.parent_id
    LEFT JOIN areas city ON city.id = d.parent_id
    WHERE g.generation_id = :generation_id
    """
)
RESULT_COLUMNS = [
    "grid_code",
    "grid_name",
    "community_code",
    "street_code",
    "district_code",
    "city_code",
]


def classify_points(
    session: Session,
    *,
    index: GridIndex,
    lons: ArrayLike,
    lats: ArrayLike,
    crs: InputCRS | str = InputCRS.WGS84,
) -> pd.DataFrame:
    """One row per point: WGS84 lon/lat, then the grid and area codes (empty when outside)."""
    lon, lat = to_wgs84_arrays(lons, lats, crs)
    grid_ids = index.locate_many(lon, lat)
    chain = pd.read_sql(
        _CHAIN_SQL, session.connection(), params={"generation_id": index.generation_id}
    )
    chain = chain.set_index("grid_id")
    found = grid_ids != NO_GRID
    result = pd.DataFrame({"lon_wgs84": lon, "lat_wgs84": lat})
    for column in RESULT_COLUMNS:
        values = np.full(len(lon), None, dtype=object)
        values[found] = chain.loc[grid_ids[found], column].to_numpy()
        result[column] = values
    return result
