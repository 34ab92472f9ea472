"""The in-memory grid index: which grid holds a point, without a database round trip.

An STRtree over the active generation's grid polygons gives bounding-box candidates;
exact ``covers`` on prepared polygons decides. A point on an edge shared by several
grids goes to the grid with the smallest code, exactly as the PostGIS query does.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from numpy.typing import ArrayLike, NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.models import Generation, Grid

NO_GRID = -1


@dataclass
class GridIndex:
    """Grid polygons of one generation, sorted by code, with an STRtree over them."""

    generation_id: int
    activated_at: object
    ids: NDArray[np.int64]
    codes: NDArray[np.str_]
    geoms: NDArray[np.object_]
    tree: shapely.STRtree

    @classmethod
    def build(cls, session: Session, *, generation: Generation) -> GridIndex:
        """Load the grids of ``generation`` and index them."""
        rows = session.execute(
            select(Grid.id, Grid.code, Grid.geom)
            .where(Grid.generation_id == generation.id)
            .order_by(Grid.code)
        ).all()
        geoms = np.array([to_shape(r.geom) for r in rows], dtype=object)
        shapely.prepare(geoms)
        return cls(
            generation_id=generation.id,
            activated_at=generation.activated_at,
            ids=np.array([r.id for r in rows], dtype=np.int64),
            codes=np.array([r.code for r in rows], dtype=str),
            geoms=geoms,
            tree=shapely.STRtree(geoms),
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

    def code_of(self, grid_ids: NDArray[np.int64]) -> NDArray[np.object_]:
        """Grid codes for ids from ``locate_many`` (None for NO_GRID)."""
        position = self._position
        return np.array(
            [self.codes[position[int(i)]] if i != NO_GRID else None for i in grid_ids],
            dtype=object,
        )


class GridIndexCache:
    """One index per process, rebuilt when the active generation changes.

    Every worker checks the active generation at most once per ``check_interval``
    seconds, so an activation made by any worker reaches all of them within that time.
    """

    def __init__(self, check_interval: float = 1.0) -> None:
        self.check_interval = check_interval
        self._index: GridIndex | None = None
        self._checked = -float("inf")
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Force a check on the next call (after an activation in this process)."""
        self._checked = -float("inf")

    def get(self, session: Session) -> GridIndex | None:
        """The index of the active generation (None when no generation is active)."""
        now = time.monotonic()
        if now - self._checked < self.check_interval:
            return self._index
        with self._lock:
            if now - self._checked < self.check_interval:
                return self._index
            generation = active_generation(session)
            current = self._index
            if generation is None:
                self._index = None
            elif (
                current is None
                or current.generation_id != generation.id
                or current.activated_at != generation.activated_at
            ):
                self._index = GridIndex.build(session, generation=generation)
            self._checked = time.monotonic()
            return self._index
