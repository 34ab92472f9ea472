"""The in-memory grid index: which grid holds a point, and all a locate answer says about
it, without a database round trip.

An STRtree over the active generation's grid polygons gives bounding-box candidates;
exact ``covers`` on prepared polygons decides. A point on an edge shared by several
grids goes to the grid with the smallest code, exactly as the PostGIS query does.
Each grid's place (its head, households, chain of areas with codes and names, and the
generation) is read with the polygons, so answers and reports need no further reads until
the boundaries change.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from numpy.typing import ArrayLike, NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.boundaries.levels import Level
from gridgov.boundaries.models import Area, Generation, Grid

NO_GRID = -1


@dataclass(frozen=True)
class AreaRef:
    """An area as answers name it."""

    level: str
    code: str
    name: str


@dataclass(frozen=True)
class GenerationRef:
    """A generation as answers name it."""

    id: int
    name: str
    is_active: bool
    activated_at: datetime | None


@dataclass(frozen=True)
class Place:
    """A grid with everything a locate answer or a report needs: plain values, no session."""

    grid_id: int
    code: str
    name: str
    households: int | None
    population: int | None
    grid_head_name: str | None
    grid_head_phone: str | None
    areas: tuple[AreaRef, ...]  # from the city down (levels the city lacks are absent)
    generation: GenerationRef

    def chain(self) -> dict[Level, str]:
        """Area codes by level."""
        return {Level(a.level): a.code for a in self.areas}

    @classmethod
    def of(cls, grid: Grid, areas: list[Area], generation: Generation) -> Place:
        """The same place from rows read from the database."""
        return cls(
            grid_id=grid.id,
            code=grid.code,
            name=grid.name,
            households=grid.households,
            population=grid.population,
            grid_head_name=grid.grid_head_name,
            grid_head_phone=grid.grid_head_phone,
            areas=tuple(AreaRef(a.level, a.code, a.name) for a in areas),
            generation=GenerationRef(
                generation.id, generation.name, generation.is_active, generation.activated_at
            ),
        )


def _chains(session: Session, generation_id: int) -> dict[int, tuple[AreaRef, ...]]:
    """For every area of a generation, its chain from the city down (one statement)."""
    rows = session.execute(
        select(Area.id, Area.parent_id, Area.level, Area.code, Area.name).where(
            Area.generation_id == generation_id
        )
    ).all()
    by_id = {r.id: r for r in rows}
    chains: dict[int, tuple[AreaRef, ...]] = {}

    def chain(area_id: int) -> tuple[AreaRef, ...]:
        if area_id not in chains:
            row = by_id[area_id]
            above = chain(row.parent_id) if row.parent_id in by_id else ()
            chains[area_id] = (*above, AreaRef(row.level, row.code, row.name))
        return chains[area_id]

    for area_id in by_id:
        chain(area_id)
    return chains


@dataclass(eq=False)
class GridIndex:
    """Grid polygons of one generation, sorted by code, with an STRtree over them and the
    place of each grid."""

    generation_id: int
    activated_at: object
    ids: NDArray[np.int64]
    codes: NDArray[np.str_]
    geoms: NDArray[np.object_]
    tree: shapely.STRtree
    places: list[Place] = field(default_factory=list)
    version: int | None = None
    # Answers shaped from this index's places (prepared bytes, say), kept as long as it is.
    answers: dict[Hashable, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls, session: Session, *, generation: Generation, version: int | None = None
    ) -> GridIndex:
        """Load the grids of ``generation`` with their places and index them."""
        rows = session.execute(
            select(
                Grid.id,
                Grid.code,
                Grid.name,
                Grid.parent_id,
                Grid.households,
                Grid.population,
                Grid.grid_head_name,
                Grid.grid_head_phone,
                Grid.geom,
            )
            .where(Grid.generation_id == generation.id)
            .order_by(Grid.code)
        ).all()
        chains = _chains(session, generation.id)
        ref = GenerationRef(
            generation.id, generation.name, generation.is_active, generation.activated_at
        )
        places = [
            Place(
                grid_id=r.id,
                code=r.code,
                name=r.name,
                households=r.households,
                population=r.population,
                grid_head_name=r.grid_head_name,
                grid_head_phone=r.grid_head_phone,
                areas=chains.get(r.parent_id, ()),
                generation=ref,
            )
            for r in rows
        ]
        geoms = np.array([to_shape(r.geom) for r in rows], dtype=object)
        shapely.prepare(geoms)
        return cls(
            generation_id=generation.id,
            activated_at=generation.activated_at,
            ids=np.array([r.id for r in rows], dtype=np.int64),
            codes=np.array([r.code for r in rows], dtype=str),
            geoms=geoms,
            tree=shapely.STRtree(geoms),
            places=places,
            version=version,
        )

    def __len__(self) -> int:
        return len(self.ids)

    def locate(self, lon: float, lat: float) -> int | None:
        """The id of the grid covering (lon, lat), or None."""
        found = self.locate_many([lon], [lat])[0]
        return None if found == NO_GRID else int(found)

    def locate_many(self, lons: ArrayLike, lats: ArrayLike) -> NDArray[np.int64]:
        """Grid ids for many points at once (NO_GRID where none covers the point)."""
        points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        point_idx, grid_idx = self.tree.query(points)  # bounding boxes only
        exact = shapely.covers(self.geoms[grid_idx], points[point_idx])
        point_idx, grid_idx = point_idx[exact], grid_idx[exact]
        # Grids are stored sorted by code, so the smallest position is the smallest code.
        best = np.full(len(points), len(self.ids), dtype=np.int64)
        np.minimum.at(best, point_idx, grid_idx)
        found = best < len(self.ids)
        result = np.full(len(points), NO_GRID, dtype=np.int64)
        result[found] = self.ids[best[found]]
        return result

    @cached_property
    def _position(self) -> dict[int, int]:
        return {int(i): n for n, i in enumerate(self.ids)}

    @cached_property
    def _by_code(self) -> dict[str, int]:
        return {str(c): n for n, c in enumerate(self.codes)}

    def place_at(self, lon: float, lat: float) -> Place | None:
        """The place of the grid covering (lon, lat), or None (no database)."""
        found = self.locate(lon, lat)
        return self.places[self._position[found]] if found is not None else None

    def place_of(self, code: str) -> Place | None:
        """The place of a grid by code, or None when this generation has no such grid."""
        position = self._by_code.get(code)
        return self.places[position] if position is not None else None

    def code_of(self, grid_ids: NDArray[np.int64]) -> NDArray[np.object_]:
        """Grid codes for ids from ``locate_many`` (None for NO_GRID)."""
        position = self._position
        return np.array(
            [self.codes[position[int(i)]] if i != NO_GRID else None for i in grid_ids],
            dtype=object,
        )


def __getattr__(name: str) -> Any:
    # GridIndexCache moved to gridgov.cache (it keeps the catalogue too); still importable here.
    if name == "GridIndexCache":
        from gridgov.cache import GridIndexCache

        return GridIndexCache
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
