"""Is the database there, and at the schema this code expects? Bring the embedded one back.

The service's own cluster (no ``GRIDGOV_DATABASE_URL``) is watched by a background job: when
its postmaster is gone (killed, crashed, stopped by hand) the job starts it again and logs
it. A configured server belongs to someone else: the job only reports when it stops or
starts answering.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy import exc as sa_exc

from gridgov.db.embedded import EmbeddedCluster, EmbeddedClusterError
from gridgov.db.migrate import alembic_config
from gridgov.jobs import PeriodicJob

log = logging.getLogger(__name__)

# SQLSTATEs that say "the server is not there for you right now": connection exceptions
# (class 08), and shutting down / starting up / in recovery (57P01-57P03).
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03")


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached (a retry later may succeed),
    as opposed to a bad statement or bad data."""
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig if error.orig is not None else error
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        state = getattr(error, "sqlstate", None)
        # No SQLSTATE: the connection itself failed (refused, socket gone, closed mid-query).
        return state is None or state.startswith(_UNAVAILABLE_STATES)
    return False


def head_revision(engine: Engine) -> str | None:
    """The newest migration this code knows."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (None before the first one)."""
    with engine.connect() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 2000"))
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


@dataclass
class DatabaseState:
    """What the watchdog saw last."""

    embedded: bool
    reachable: bool | None = None  # None: not checked yet
    error: str | None = None
    restarts: int = 0
    last_restart: datetime | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict[str, object]:
        """For the readiness answer."""
        with self._lock:
            return {
                "embedded": self.embedded,
                "reachable": self.reachable,
                "error": self.error,
                "restarts": self.restarts,
                "last_restart": self.last_restart.isoformat() if self.last_restart else None,
            }


class DatabaseWatchdog(PeriodicJob):
    """Every ``interval`` seconds: restart the embedded cluster if its postmaster is gone, then
    check that the database answers, logging every change between up and down."""

    def __init__(
        self, engine: Engine, *, cluster: EmbeddedCluster | None, interval: float = 2.0
    ) -> None:
        super().__init__("database-watchdog", interval, self.check)
        self.engine = engine
        self.cluster = cluster
        self.state = DatabaseState(embedded=cluster is not None)

    def check(self) -> bool:
        """One look (and, for the embedded cluster, one restart if needed); True when up."""
        if self.cluster is not None and not self.cluster.postmaster_alive():
            self._restart(self.cluster)
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as error:
            if not database_unavailable(error):
                raise
            self._saw(False, error)
            return False
        self._saw(True, None)
        return True

    def _restart(self, cluster: EmbeddedCluster) -> None:
        log.warning("the embedded PostgreSQL is not running; starting it again")
        try:
            cluster.start()
        except (EmbeddedClusterError, psycopg.Error) as error:
            # Often only "the old server's memory is still in use": the next tick tries again.
            log.error("could not start the embedded PostgreSQL: %s", error)
            return
        # Pooled connections point at the dead server: drop them now rather than one by one.
        self.engine.dispose()
        with self.state._lock:
            self.state.restarts += 1
            self.state.last_restart = datetime.now(UTC)
        log.warning("the embedded PostgreSQL is running again (restart %d)", self.state.restarts)

    def _saw(self, reachable: bool, error: BaseException | None) -> None:
        with self.state._lock:
            was = self.state.reachable
            self.state.reachable = reachable
            self.state.error = None if error is None else _first_line(error)
        if reachable and was is False:
            log.warning("the database answers again")
        elif not reachable and was is not False:
            log.error("the database does not answer: %s", self.state.error)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
