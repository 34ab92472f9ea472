"""The in-memory fence index: a shapely STRtree over the active fences.

Every add, change or removal writes a row to ``fence_changes``; before each batch a worker
applies the changes it has not seen (``sync``), so all workers agree without a full reload.
The tree itself is immutable: a change only marks it stale, and the next lookup builds it
again from the fences held (well under a millisecond for a thousand fences), so one batch of
positions costs one vectorised query, boxes and exact test together.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import time

import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import BigInteger, any_, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from gridgov.fences.models import Fence, FenceChange


@dataclass(frozen=True)
class IndexedFence:
    id: int
    code: str
    name: str
    rule: str
    owner_id: int | None
    active_from: time | None
    active_to: time | None
    category_code: str
    geom: BaseGeometry


NOWHERE: frozenset[int] = frozenset()
LOOK_BACK = 1000  # fence changes re-read behind the newest one applied


class FenceIndex:
    """Which active fences cover a point."""

    def __init__(self) -> None:
        self._fences: dict[int, IndexedFence] = {}
        self._tree: shapely.STRtree | None = None  # None: stale, built at the next lookup
        self._tree_ids = np.empty(0, dtype=np.int64)  # fence id of each tree position
        self._seen = -1  # last fence_changes id applied; -1: nothing loaded yet
        self._applied: set[int] = set()  # change ids applied within the trailing window
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._fences)

    def __contains__(self, fence_id: object) -> bool:
        return fence_id in self._fences

    def get(self, fence_id: int) -> IndexedFence | None:
        return self._fences.get(fence_id)

    def sync(self, session: Session) -> int:
        """Apply the fence changes not applied yet; return how many fences changed."""
        with self._lock:
            if self._seen < 0:
                newest = session.scalar(select(func.coalesce(func.max(FenceChange.id), 0)))
                for fence in session.scalars(select(Fence).where(Fence.is_active)):
                    self._put(fence)
                self._seen = int(newest or 0)
                # What the full load saw counts as applied; later arrivals in the window do not.
                self._applied = set(
                    session.scalars(
                        select(FenceChange.id).where(FenceChange.id > self._seen - LOOK_BACK)
                    )
                )
                return len(self._fences)
            # Ids are handed out before commit, so a change can become visible after a higher
            # one: look back over a trailing window and apply each change once. Only the ids
            # of that window not applied yet are asked for (usually none), not the window.
            missing = sorted(
                set(range(max(self._seen - LOOK_BACK + 1, 1), self._seen + 1)) - self._applied
            )
            changes = session.execute(
                select(FenceChange.id, FenceChange.fence_id)
                .where(
                    (FenceChange.id > self._seen)
                    | (FenceChange.id == any_(cast(missing, ARRAY(BigInteger))))
                )
                .order_by(FenceChange.id)
            ).all()
            fresh = [(cid, fid) for cid, fid in changes if cid not in self._applied]
            for change_id, fence_id in fresh:
                changed = session.get(Fence, fence_id, populate_existing=True)
                self._drop(fence_id)
                if changed is not None and changed.is_active:
                    self._put(changed)
                self._applied.add(change_id)
                self._seen = max(self._seen, change_id)
            self._applied = {cid for cid in self._applied if cid > self._seen - LOOK_BACK}
            return len(fresh)

    def covering(self, lon: float, lat: float) -> set[int]:
        """Ids of the active fences that cover the point (bounding boxes, then exact)."""
        found = self.covering_many([lon], [lat])[0]
        return set(found)

    def covering_many(self, lons: Sequence[float], lats: Sequence[float]) -> list[AbstractSet[int]]:
        """For each point, the ids of the active fences that cover it: one vectorised query
        of the tree (boxes, then the exact test on prepared fences; no object per point).

        >>> index = FenceIndex()
        >>> index.covering_many([1.0], [2.0])
        [frozenset()]
        """
        # Most points lie outside every fence: they share one empty set.
        found: list[AbstractSet[int]] = [NOWHERE] * len(lons)
        if not len(lons):
            return found
        with self._lock:  # sync() may be changing the fences in another request's thread
            if not self._fences:
                return found
            tree, ids = self._current_tree()
        points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        # For a point, "intersects" is "covers": the boundary counts as inside.
        at, where = tree.query(points, predicate="intersects")
        if not len(at):
            return found
        hits: dict[int, set[int]] = defaultdict(set)
        for p, fence_id in zip(at.tolist(), ids[where].tolist(), strict=True):
            hits[p].add(fence_id)
        for p, fence_ids in hits.items():
            found[p] = fence_ids
        return found

    def _current_tree(self) -> tuple[shapely.STRtree, np.ndarray]:
        """The tree of the fences held, built again when they changed (under the lock)."""
        if self._tree is None:
            self._tree_ids = np.fromiter(self._fences, dtype=np.int64, count=len(self._fences))
            self._tree = shapely.STRtree([f.geom for f in self._fences.values()])
        return self._tree, self._tree_ids

    def _put(self, fence: Fence) -> None:
        geom = to_shape(fence.geom)
        shapely.prepare(geom)
        self._fences[fence.id] = IndexedFence(
            fence.id,
            fence.code,
            fence.name,
            fence.rule,
            fence.owner_id,
            fence.active_from,
            fence.active_to,
            fence.category_code,
            geom,
        )
        self._tree = None

    def _drop(self, fence_id: int) -> None:
        if self._fences.pop(fence_id, None) is not None:
            self._tree = None
