"""Periodic background work inside the service: one daemon thread per job."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from gridgov.context import new_request_id, request_context

log = logging.getLogger(__name__)


class Leader(Protocol):
    def holds(self) -> bool: ...


class PeriodicJob:
    """Calls ``work()`` every ``interval`` seconds until stopped; a failure is logged and
    the next tick tries again (the work itself must be safe to repeat). With a ``leader``
    (gridgov.leader.Leadership), a tick runs the work only in the process that leads, so
    a job of N service processes runs once, not N times."""

    def __init__(
        self,
        name: str,
        interval: float,
        work: Callable[[], object],
        *,
        leader: Leader | None = None,
    ) -> None:
        self.name = name
        self.interval = interval
        self.work = work
        self.leader = leader
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"gridgov-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.leader is not None and not self.leader.holds():
                    self._stop.wait(self.interval)
                    continue
                # Each run has its own id, like a request: its log lines and audit rows
                # say which run wrote them.
                with request_context(f"{self.name}-{new_request_id()[:12]}"):
                    self.work()
            except Exception:
                log.exception("%s failed; retrying at the next tick", self.name)
            self._stop.wait(self.interval)
