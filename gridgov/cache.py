"""What each API process keeps in memory: the grid index and the catalogue, kept current.

Both are checked together by reading one row at most once per interval; see the 0009
migration for the versions the row carries.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridgov.boundaries.index import GridIndex
from gridgov.boundaries.models import Generation
from gridgov.responsibilities.catalogue import Catalogue

# One row, always: the active generation (if any) and the versions of what is kept in memory.
_CHECK = text(
    """
    SELECT g.id, g.activated_at, v.boundaries, v.catalogue
    FROM (SELECT max(version) FILTER (WHERE name = 'boundaries') AS boundaries,
                 max(version) FILTER (WHERE name = 'catalogue') AS catalogue
          FROM cache_versions) AS v
    LEFT JOIN boundary_generations AS g ON g.is_active
    """
)


class GridIndexCache:
    """One index and one catalogue per process, rebuilt when what they hold changes.

    Every worker reads one row (the active generation and the versions of the boundaries
    and the catalogue) at most once per ``check_interval`` seconds, whatever the number of
    requests, so a change made by any process reaches all of them within that time.
    """

    def __init__(self, check_interval: float = 1.0) -> None:
        self.check_interval = check_interval
        self._index: GridIndex | None = None
        self._catalogue: Catalogue | None = None
        self._catalogue_version: int | None = None
        self._checked = -float("inf")
        self._ready = False  # a check has completed: there is something to answer from
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Force a check on the next call (after an activation in this process)."""
        self._checked = -float("inf")

    def peek(self) -> tuple[bool, GridIndex | None]:
        """(True, the index) when no check is due, or another thread is making it, so the
        caller needs no session at all; (False, None) when the caller should make the check
        (``get`` with a session)."""
        if time.monotonic() - self._checked < self.check_interval or self._busy():
            return True, self._index
        return False, None

    def _busy(self) -> bool:
        # While one thread checks (or rebuilds), the others answer from what is there, at
        # most one check's time older: a slow database holds up one request, not all.
        return self._ready and self._lock.locked()

    def get(self, session: Session) -> GridIndex | None:
        """The index of the active generation (None when no generation is active)."""
        self._check(session)
        return self._index

    def catalogue(self, session: Session) -> Catalogue:
        """Categories, departments and rules as of the last check (read when they changed)."""
        self._check(session)
        catalogue = self._catalogue
        if catalogue is not None and catalogue.version == self._catalogue_version:
            return catalogue
        with self._lock:
            if self._catalogue is None or self._catalogue.version != self._catalogue_version:
                self._catalogue = Catalogue.load(session, version=self._catalogue_version)
            return self._catalogue

    def _check(self, session: Session) -> None:
        now = time.monotonic()
        if now - self._checked < self.check_interval:
            return
        if not self._lock.acquire(blocking=not self._ready):
            return  # another thread is checking: answer from what is there
        try:
            if now - self._checked < self.check_interval:
                return
            generation_id, activated_at, boundaries, catalogue = session.execute(_CHECK).one()
            current = self._index
            if generation_id is None:
                self._index = None
            elif (
                current is None
                or current.generation_id != generation_id
                or current.activated_at != activated_at
                or current.version != boundaries
            ):
                generation = session.get(Generation, generation_id)
                assert generation is not None
                self._index = GridIndex.build(session, generation=generation, version=boundaries)
            self._catalogue_version = catalogue
            self._checked = time.monotonic()
            self._ready = True
        finally:
            self._lock.release()
