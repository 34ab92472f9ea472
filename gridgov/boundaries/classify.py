"""Classify many points at once: grid and area codes for every row, vectorised."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sqlalchemy.orm import Session

from gridgov.boundaries.index import NO_GRID, GridIndex, Place
from gridgov.boundaries.levels import Level
from gridgov.geo.crs import InputCRS, to_wgs84_arrays

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
    # The index knows every grid's chain (levels the city lacks are empty): no query.
    chain = pd.DataFrame([_codes(place) for place in index.places], columns=RESULT_COLUMNS)
    chain.index = pd.Index(index.ids)
    found = grid_ids != NO_GRID
    result = pd.DataFrame({"lon_wgs84": lon, "lat_wgs84": lat})
    for column in RESULT_COLUMNS:
        values = np.full(len(lon), None, dtype=object)
        values[found] = chain.loc[grid_ids[found], column].to_numpy()
        result[column] = values
    return result


def _codes(place: Place) -> list[str | None]:
    chain = place.chain()
    levels = (Level.COMMUNITY, Level.STREET, Level.DISTRICT, Level.CITY)
    return [place.code, place.name, *(chain.get(level) for level in levels)]
