"""Which grid holds this point, and everything above it (PostGIS is the reference)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gridgov.boundaries.index import GridIndex
from gridgov.boundaries.models import SRID, Area, Generation, Grid


@dataclass(frozen=True)
class GridPlace:
    """A grid with its chain of areas from the city down to its community."""

    grid: Grid
    areas: list[Area]
    generation: Generation


@dataclass(frozen=True)
class NearestGrid:
    """The closest grid to a point outside every grid, and how far it is in metres."""

    grid: Grid
    distance_m: float


def _point(lon: float, lat: float):
    return func.ST_SetSRID(func.ST_MakePoint(lon, lat), SRID)


def grid_at(session: Session, *, lon: float, lat: float, generation_id: int) -> Grid | None:
    """The grid covering the point (ST_Covers; on a shared edge, the smallest code)."""
    return session.scalar(
        select(Grid)
        .where(Grid.generation_id == generation_id, func.ST_Covers(Grid.geom, _point(lon, lat)))
        .order_by(Grid.code)
        .limit(1)
    )


def nearest_grid(
    session: Session, *, lon: float, lat: float, generation_id: int
) -> NearestGrid | None:
    """The closest grid by geodesic distance (KNN picks candidates, geography decides)."""
    point = _point(lon, lat)
    candidates = (
        select(Grid.id)
        .where(Grid.generation_id == generation_id)
        .order_by(Grid.geom.op("<->")(point))
        .limit(10)
        .scalar_subquery()
    )
    row = session.execute(
        select(Grid, func.ST_Distance(func.geography(Grid.geom), func.geography(point)).label("d"))
        .where(Grid.id.in_(candidates))
        .order_by(text("d"), Grid.code)
        .limit(1)
    ).first()
    return NearestGrid(grid=row[0], distance_m=float(row[1])) if row else None


_NEAREST_CODES = text(
    """
    SELECT p.n, c.code, c.d
    FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[])) WITH ORDINALITY AS p(lon, lat, n)
    CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326) AS pt) AS q
    CROSS JOIN LATERAL (
        SELECT k.code, ST_Distance(geography(k.geom), geography(q.pt)) AS d
        FROM (
            SELECT code, geom FROM grids
            WHERE generation_id = :generation ORDER BY geom <-> q.pt LIMIT 10
        ) AS k
        ORDER BY d, k.code
        LIMIT 1
    ) AS c
    """
)


def nearest_grid_codes(
    session: Session, points: list[tuple[float, float]], *, generation_id: int
) -> list[tuple[str, float] | None]:
    """For each (lon, lat), the code of the closest grid and its distance in metres, in one
    statement (what ``nearest_grid`` decides for one point, for many)."""
    if not points:
        return []
    rows = session.execute(
        _NEAREST_CODES,
        {
            "lons": [lon for lon, _ in points],
            "lats": [lat for _, lat in points],
            "generation": generation_id,
        },
    )
    found = {int(n): (str(code), float(d)) for n, code, d in rows}
    return [found.get(n) for n in range(1, len(points) + 1)]


def area_chain(session: Session, *, area_id: int) -> list[Area]:
    """An area and all its ancestors, ordered from the city down."""
    chain: list[Area] = []
    area = session.get(Area, area_id)
    while area is not None:
        chain.append(area)
        area = session.get(Area, area.parent_id) if area.parent_id is not None else None
    return list(reversed(chain))


def place_of(session: Session, *, grid: Grid) -> GridPlace:
    """The grid with its chain of areas and generation."""
    generation = session.get(Generation, grid.generation_id)
    assert generation is not None
    return GridPlace(
        grid=grid, areas=area_chain(session, area_id=grid.parent_id), generation=generation
    )


def locate(
    session: Session,
    *,
    lon: float,
    lat: float,
    generation_id: int,
    index: GridIndex | None = None,
) -> GridPlace | None:
    """Find the grid at a WGS84 point, from the in-memory index when it is of this generation."""
    if index is not None and index.generation_id == generation_id:
        grid_id = index.locate(lon, lat)
        grid = session.get(Grid, grid_id) if grid_id is not None else None
    else:
        grid = grid_at(session, lon=lon, lat=lat, generation_id=generation_id)
    return place_of(session, grid=grid) if grid is not None else None


def get_grid(session: Session, *, code: str, generation_id: int) -> Grid | None:
    """A grid by code within a generation."""
    return session.scalar(
        select(Grid).where(Grid.generation_id == generation_id, Grid.code == code)
    )


def get_area(session: Session, *, code: str, generation_id: int) -> Area | None:
    """An area by code within a generation."""
    return session.scalar(
        select(Area).where(Area.generation_id == generation_id, Area.code == code)
    )


def children_of(session: Session, *, area: Area) -> list[Area] | list[Grid]:
    """The areas directly below ``area``, else its grids (a community's, or a street's or
    district's in a city without communities)."""
    areas = list(session.scalars(select(Area).where(Area.parent_id == area.id).order_by(Area.code)))
    if areas:
        return areas
    return list(session.scalars(select(Grid).where(Grid.parent_id == area.id).order_by(Grid.code)))


def locate_near(
    session: Session,
    *,
    lon: float,
    lat: float,
    generation_id: int,
    tolerance_m: float,
    index: GridIndex | None = None,
) -> tuple[GridPlace | None, float]:
    """The grid at a point, else the nearest grid if it lies within ``tolerance_m`` (a pier,
    a station on the river bank); the distance is 0 inside a grid."""
    place = locate(session, lon=lon, lat=lat, generation_id=generation_id, index=index)
    if place is not None or tolerance_m <= 0:
        return place, 0.0
    nearest = nearest_grid(session, lon=lon, lat=lat, generation_id=generation_id)
    if nearest is None or nearest.distance_m > tolerance_m:
        return None, nearest.distance_m if nearest else 0.0
    return place_of(session, grid=nearest.grid), nearest.distance_m
