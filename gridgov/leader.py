"""Which of several service processes runs the once-only background jobs.

``gridgov serve --workers N`` runs N processes, each with the same periodic jobs. Jobs that
change shared state (escalation, readings' partitions, webhook deliveries) must run in one
of them only. The one that holds a PostgreSQL session-level advisory lock, on a connection of
its own, is the leader. The lock lives as long as that connection: when the leader's process
dies or loses the database, the server drops the lock and the next process to ask takes it,
within one job interval. No table, no lease to renew, nothing to clean up.
"""

from __future__ import annotations

import contextlib
import logging
import threading

import psycopg

log = logging.getLogger(__name__)

# pg_try_advisory_lock(bigint): a fixed key of our own ("gridgov" in ASCII, as a number).
LEADER_KEY = 0x67726964676F76
APPLICATION_NAME = "gridgov-leader"


class Leadership:
    """Whether this process is the leader; asked before each run of a once-only job."""

    def __init__(self, conninfo: str, *, key: int = LEADER_KEY) -> None:
        self.conninfo = conninfo
        self.key = key
        self._conn: psycopg.Connection | None = None
        self._held = False
        self._lock = threading.Lock()

    def holds(self) -> bool:
        """True when this process holds the lock (taking it if it is free)."""
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._held = False
                    self._conn = psycopg.connect(
                        self.conninfo, autocommit=True, application_name=APPLICATION_NAME
                    )
                if self._held:
                    # The lock is ours while the session is: check the session is still there.
                    self._conn.execute("SELECT 1")
                    return True
                row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
                self._held = bool(row and row[0])
                if self._held:
                    log.info("this process now runs the once-only background jobs")
                return self._held
            except psycopg.Error:
                log.warning("leader lock connection lost; asking again at the next tick")
                self._drop()
                return False

    def close(self) -> None:
        """Give the lock up (closing the session releases it)."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None
        self._held = False
