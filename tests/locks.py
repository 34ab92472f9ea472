"""Proof that one database session waits for another's lock (instead of hoping a thread
was slow enough): PostgreSQL's own pg_blocking_pids()."""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker


def backend_pid(session: Session) -> int:
    """The server process behind ``session`` (its transaction starts here)."""
    return int(session.scalar(text("SELECT pg_backend_pid()")))


def wait_until_blocked(
    factory: sessionmaker[Session], pid: int, *, by: int, within: float = 60.0
) -> None:
    """Return once backend ``pid`` waits for a lock held by backend ``by``.

    The deadline is only a guard against a test that would hang: a waiting backend is
    seen within milliseconds."""
    deadline = time.monotonic() + within
    with factory() as watcher:
        while True:
            blockers = watcher.scalar(text("SELECT pg_blocking_pids(:pid)"), {"pid": pid})
            watcher.rollback()
            if by in (blockers or []):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"backend {pid} never waited for {by} (blocked by {blockers})")
            time.sleep(0.01)
