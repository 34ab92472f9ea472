"""吹哨报到 on a clock: incidents whose deadline lapsed go one level up.

community -> street -> district -> city (微循环 -> 小循环 -> 中循环 -> 大循环), each with the
next level's department and a new deadline. Each incident escalates in its own transaction
(`run_escalation`), picked with FOR UPDATE SKIP LOCKED, so several workers never take the
same one and a restart mid-run loses nothing: what was not committed is still overdue and is
taken by the next run. Running twice escalates nothing twice: the new deadline lies ahead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gridgov.boundaries.levels import Level
from gridgov.db import session_scope
from gridgov.incidents.events import record
from gridgov.incidents.lifecycle import DEADLINE_STATUSES, Move
from gridgov.incidents.models import Incident, Whistle
from gridgov.incidents.reporting import dispatch_by_rules
from gridgov.jobs import Leader, PeriodicJob
from gridgov.metrics import ESCALATIONS

log = logging.getLogger(__name__)


@dataclass
class EscalationRun:
    """What one run did."""

    escalated: list[int] = field(default_factory=list)
    overdue_at_top: list[int] = field(default_factory=list)
    late_check_ins: list[int] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return len(self.escalated) + len(self.overdue_at_top) + len(self.late_check_ins)


def escalate_one(session: Session, *, now: datetime, run: EscalationRun) -> bool:
    """Escalate the next overdue incident, if any (False when none is left)."""
    incident = session.scalar(
        select(Incident)
        .where(
            Incident.status.in_([s.value for s in DEADLINE_STATUSES]),
            Incident.deadline_at < now,
            ~Incident.overdue_at_top,
            Incident.source != "history",  # imported history escalates nothing
        )
        .order_by(Incident.deadline_at, Incident.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    if incident is None:
        return False
    lapsed = incident.deadline_at
    level = Level(incident.level) if incident.level else None
    note = f"deadline {lapsed.isoformat() if lapsed else '-'} lapsed"
    if level is not None and dispatch_by_rules(
        session, incident, actor_id=None, now=now, above=level, move=Move.ESCALATE, note=note
    ):
        run.escalated.append(incident.id)
    else:
        incident.overdue_at_top = True
        incident.updated_at = now
        record(
            session,
            incident,
            action="overdue",
            from_status=incident.status,
            actor_id=None,
            at=now,
            note=note + " at the top level",
        )
        run.overdue_at_top.append(incident.id)
    return True


def note_late_check_ins(session: Session, *, now: datetime, run: EscalationRun) -> None:
    """Record, once each, summoned departments that did not check in on time."""
    late = session.scalars(
        select(Whistle)
        .where(Whistle.checked_in_at.is_(None), Whistle.due_at < now, ~Whistle.overdue_noted)
        .with_for_update(skip_locked=True)
    ).all()
    for summons in late:
        summons.overdue_noted = True
        incident = session.get(Incident, summons.incident_id)
        assert incident is not None
        record(
            session,
            incident,
            action="check_in_overdue",
            from_status=incident.status,
            actor_id=None,
            at=now,
            details={"department": summons.department_code},
        )
        run.late_check_ins.append(incident.id)


def escalate_overdue(session: Session, *, now: datetime | None = None) -> EscalationRun:
    """Escalate everything overdue inside one transaction (the caller's)."""
    now = now or datetime.now(UTC)
    run = EscalationRun()
    while escalate_one(session, now=now, run=run):
        pass
    note_late_check_ins(session, now=now, run=run)
    return run


def run_escalation(factory: sessionmaker[Session], *, now: datetime | None = None) -> EscalationRun:
    """Escalate everything overdue, one committed transaction per incident."""
    now = now or datetime.now(UTC)
    run = EscalationRun()
    while True:
        with session_scope(factory) as session:
            if not escalate_one(session, now=now, run=run):
                break
    with session_scope(factory) as session:
        note_late_check_ins(session, now=now, run=run)
    return run


class EscalationScheduler(PeriodicJob):
    """Runs `run_escalation` every ``interval`` seconds in a daemon thread."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        interval: float = 30.0,
        *,
        leader: Leader | None = None,
    ) -> None:
        super().__init__(
            "escalation", interval, lambda: note_run(run_escalation(factory)), leader=leader
        )


def note_run(run: EscalationRun) -> None:
    """Count what a scheduled run did (Prometheus) and log it when it changed anything."""
    ESCALATIONS.labels("escalated").inc(len(run.escalated))
    ESCALATIONS.labels("overdue_at_top").inc(len(run.overdue_at_top))
    ESCALATIONS.labels("late_check_in").inc(len(run.late_check_ins))
    if run.changed:
        log.info("escalation: %s", run)
