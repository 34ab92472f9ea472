"""Canonical hand-made boundaries, defined once and reused.

A tiny city at 110.00–110.02°E, 22.00–22.02°N (away from the demo city): one district,
one street, one community, four square grids 0.01° on a side. Variants break one rule
each, for the quality checks.
"""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import Polygon, box

from gridgov.boundaries.levels import Level

X0, Y0, STEP = 110.0, 22.0, 0.01
CITY = "T100"
DISTRICT = "T110"
STREET = "T111"
COMMUNITY = "T1111"


def square(col: int, row: int, size: int = 1) -> Polygon:
    """The square of ``size`` cells whose lower-left cell is (col, row)."""
    return box(X0 + col * STEP, Y0 + row * STEP, X0 + (col + size) * STEP, Y0 + (row + size) * STEP)


def frame(rows: list[dict[str, object]]) -> gpd.GeoDataFrame:
    """A boundary frame as read from a file (code, name, parent_code, geometry)."""
    records = [{"parent_code": None, **r} for r in rows]
    return gpd.GeoDataFrame(records, geometry="geometry", crs="EPSG:4326")


def grid_row(code: str, geometry: Polygon, parent: str = COMMUNITY) -> dict[str, object]:
    return {
        "code": code,
        "name": f"测试网格{code}",
        "parent_code": parent,
        "grid_head_name": "测试员",
        "grid_head_phone": "13800009999",
        "households": 100,
        "population": 250,
        "geometry": geometry,
    }


def four_grids() -> list[dict[str, object]]:
    """Four squares tiling the community: G1 lower-left, G2 lower-right, G3, G4 above."""
    return [
        grid_row("G1", square(0, 0)),
        grid_row("G2", square(1, 0)),
        grid_row("G3", square(0, 1)),
        grid_row("G4", square(1, 1)),
    ]


def tiny_city() -> dict[Level, gpd.GeoDataFrame]:
    """Every level of the tiny city, valid and exactly tiled."""
    whole = square(0, 0, size=2)
    return {
        Level.CITY: frame([{"code": CITY, "name": "测试市", "geometry": whole}]),
        Level.DISTRICT: frame(
            [{"code": DISTRICT, "name": "测试区", "parent_code": CITY, "geometry": whole}]
        ),
        Level.STREET: frame(
            [{"code": STREET, "name": "测试街道", "parent_code": DISTRICT, "geometry": whole}]
        ),
        Level.COMMUNITY: frame(
            [{"code": COMMUNITY, "name": "测试社区", "parent_code": STREET, "geometry": whole}]
        ),
        Level.GRID: frame(four_grids()),
    }
