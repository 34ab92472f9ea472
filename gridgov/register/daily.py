"""The register's daily job: tiers recomputed as of today (ages and tag validity move with
the calendar), visit-due reminders sent (each once), patrol traces past their keeping time
removed. Every step is safe to repeat; it runs in the process holding the leader lock."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from gridgov.config import Settings
from gridgov.db import session_scope
from gridgov.register.patrolling import forget_old_patrols
from gridgov.register.tier_views import remind_due_visits
from gridgov.register.tiering import retier

log = logging.getLogger(__name__)


def run_daily(sessions: sessionmaker[Session], *, settings: Settings) -> dict[str, int]:
    """One run, each step in its own transaction; what each did."""
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    done: dict[str, int] = {}
    with session_scope(sessions) as session:
        done["retiered"] = retier(session, today=today, now=now, geodata_dir=settings.geodata_dir)
    with session_scope(sessions) as session:
        done["reminded"] = remind_due_visits(
            session, today=today, now=now, timezone=settings.timezone,
            geodata_dir=settings.geodata_dir,
        )  # fmt: skip
    with session_scope(sessions) as session:
        done["positions_removed"], done["passes_removed"] = forget_old_patrols(
            session,
            now=now,
            trace_days=settings.patrol_trace_days,
            pass_days=settings.patrol_pass_days,
        )
    log.info("register daily run", extra=done)
    return done
