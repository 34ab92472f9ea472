"""What people do to an incident: each action locks the row, checks the role table and the
life-cycle table, changes the incident and appends its audit row, in the caller's transaction.

Two handlers accepting at once: the second waits for the first's row lock, then finds the
incident already accepted and gets TransitionNotAllowed (409 in the API).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.boundaries.levels import Level
from gridgov.departments.models import Department
from gridgov.errors import OutOfScope
from gridgov.incidents.errors import Forbidden, IncidentError, IncidentNotFound
from gridgov.incidents.events import record, target_of
from gridgov.incidents.lifecycle import Move, Status, transition
from gridgov.incidents.models import Incident, IncidentEvent, Whistle
from gridgov.incidents.photos import StoredPhoto
from gridgov.incidents.reporting import attach_photos, dispatch_by_rules
from gridgov.responsibilities.routing import pick_rule
from gridgov.responsibilities.service import rules_for
from gridgov.users.models import User
from gridgov.users.roles import Action, allowed, may_name_department

DEFAULT_CHECK_IN_HOURS = 2.0
MAX_NOTE = 4000


def load_for_update(session: Session, incident_id: int) -> Incident:
    """The incident, locked for this transaction (fresh from the database)."""
    incident = session.execute(
        select(Incident)
        .where(Incident.id == incident_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if incident is None:
        raise IncidentNotFound(incident_id)
    return incident


class _Step:
    """One action in progress: the locked incident, its status before, who and when."""

    def __init__(
        self,
        session: Session,
        incident_id: int,
        actor: User,
        action: Action,
        move: Move,
        note: str,
        now: datetime | None,
    ) -> None:
        if len(note) > MAX_NOTE:
            raise IncidentError("note", "incident.too_long", limit=MAX_NOTE)
        self.session, self.actor, self.move, self.note = session, actor, move, note
        self.now = now or datetime.now(UTC)
        self.incident = load_for_update(session, incident_id)
        if not allowed(actor.actor(), action, target_of(session, self.incident)):
            raise Forbidden(action.value)
        self.before = Status(self.incident.status)
        transition(self.before, move)  # refuses before anything changes

    def done(self, details: dict[str, Any] | None = None) -> IncidentEvent:
        """Move the status, stamp the time and append the audit row."""
        self.incident.status = transition(self.before, self.move).value
        self.incident.updated_at = self.now
        return record(
            self.session,
            self.incident,
            action=self.move.value,
            from_status=self.before,
            actor_id=self.actor.id,
            at=self.now,
            note=self.note,
            details=details,
        )


def _required(text: str, field: str, key: str) -> None:
    if not text.strip():
        raise IncidentError(field, key)


def accept(
    session: Session, *, incident_id: int, actor: User, note: str = "", now: datetime | None = None
) -> Incident:
    """The assigned department takes the incident on."""
    step = _Step(session, incident_id, actor, Action.ACCEPT, Move.ACCEPT, note, now)
    step.incident.accepted_at = step.now
    step.done()
    return step.incident


def reject(
    session: Session, *, incident_id: int, actor: User, reason: str, now: datetime | None = None
) -> Incident:
    """The assigned department says it is not theirs; back to the dispatcher queue."""
    _required(reason, "reason", "incident.reason_required")
    step = _Step(session, incident_id, actor, Action.REJECT, Move.REJECT, reason, now)
    rejected_by = step.incident.department_code
    step.incident.department_code = None
    step.done({"rejected_by": rejected_by})
    return step.incident


def resolve(
    session: Session,
    *,
    incident_id: int,
    actor: User,
    note: str,
    photos: Sequence[StoredPhoto] = (),
    now: datetime | None = None,
) -> Incident:
    """The department reports the incident handled, with a note and optional photos."""
    _required(note, "note", "incident.resolution_note_required")
    step = _Step(session, incident_id, actor, Action.RESOLVE, Move.RESOLVE, note, now)
    incident = step.incident
    incident.resolved_at = step.now
    within = incident.deadline_at is None or step.now <= incident.deadline_at
    event = step.done({"within_sla": within})
    attach_photos(session, incident_id=incident.id, photos=photos, event_id=event.id)
    return incident


def close(
    session: Session,
    *,
    incident_id: int,
    actor: User,
    rating: int | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Incident:
    """The reporter (or an operator) confirms the resolution, optionally rating it 1-5."""
    if rating is not None and not 1 <= rating <= 5:
        raise IncidentError("rating", "incident.rating_range")
    step = _Step(session, incident_id, actor, Action.CLOSE, Move.CLOSE, note, now)
    if rating is not None and not allowed(
        actor.actor(), Action.RATE, target_of(session, step.incident)
    ):
        raise Forbidden(Action.RATE.value)
    step.incident.closed_at = step.now
    step.incident.rating = rating
    step.done({"rating": rating})
    return step.incident


def reopen(
    session: Session, *, incident_id: int, actor: User, reason: str, now: datetime | None = None
) -> Incident:
    """The reporter is not satisfied: back to the same department with a fresh deadline."""
    _required(reason, "reason", "incident.reason_required")
    step = _Step(session, incident_id, actor, Action.REOPEN, Move.REOPEN, reason, now)
    incident = step.incident
    incident.reopen_count += 1
    incident.resolved_at = None
    incident.overdue_at_top = False
    hours = _sla_at(session, incident, _level(incident))
    incident.deadline_at = step.now + timedelta(hours=hours)
    step.done({"deadline": incident.deadline_at.isoformat()})
    return incident


def dispatch(
    session: Session,
    *,
    incident_id: int,
    actor: User,
    department_code: str,
    sla_hours: float | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Incident:
    """An operator sends the incident to a named department (after a rejection, say)."""
    step = _Step(session, incident_id, actor, Action.DISPATCH, Move.DISPATCH, note, now)
    department = session.scalar(select(Department).where(Department.code == department_code))
    if department is None:
        raise IncidentError("department_code", "incident.unknown_department", code=department_code)
    _check_reach(step, [department])
    level = Level(department.level)
    hours = sla_hours if sla_hours is not None else _sla_at(session, step.incident, level)
    if hours <= 0:
        raise IncidentError("sla_hours", "incident.positive")
    incident = step.incident
    incident.level = level.value
    incident.department_code = department.code
    incident.deadline_at = step.now + timedelta(hours=hours)
    incident.overdue_at_top = False
    step.done({"sla_hours": hours, "deadline": incident.deadline_at.isoformat()})
    return incident


def whistle(
    session: Session,
    *,
    incident_id: int,
    actor: User,
    department_codes: Sequence[str] = (),
    due_hours: float = DEFAULT_CHECK_IN_HOURS,
    note: str = "",
    now: datetime | None = None,
) -> Incident:
    """吹哨: summon departments, each to check in by a deadline; naming none escalates at once."""
    step = _Step(session, incident_id, actor, Action.WHISTLE, Move.WHISTLE, note, now)
    incident = step.incident
    if not department_codes:
        escalated = dispatch_by_rules(
            session,
            incident,
            actor_id=actor.id,
            now=step.now,
            above=_level(incident),
            move=Move.ESCALATE,
            note=note or "whistle",
        )
        if not escalated:
            raise IncidentError("department_codes", "incident.top_level")
        return incident
    if due_hours <= 0:
        raise IncidentError("due_hours", "incident.positive")
    codes = list(dict.fromkeys(department_codes))
    known = {
        d.code: d for d in session.scalars(select(Department).where(Department.code.in_(codes)))
    }
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise IncidentError(
            "department_codes", "incident.unknown_departments", codes=", ".join(unknown)
        )
    _check_reach(step, [known[code] for code in codes])
    due = step.now + timedelta(hours=due_hours)
    for code in codes:
        session.add(
            Whistle(
                incident_id=incident.id,
                department_code=code,
                summoned_by=actor.id,
                summoned_at=step.now,
                due_at=due,
            )
        )
    step.done({"summoned": codes, "due": due.isoformat()})
    return incident


def check_in(
    session: Session, *, incident_id: int, actor: User, note: str = "", now: datetime | None = None
) -> Incident:
    """报到: a summoned department reports for duty."""
    step = _Step(session, incident_id, actor, Action.CHECK_IN, Move.CHECK_IN, note, now)
    pending = session.scalars(
        select(Whistle).where(
            Whistle.incident_id == step.incident.id,
            Whistle.department_code == actor.department_code,
            Whistle.checked_in_at.is_(None),
        )
    ).all()
    if not pending:
        raise IncidentError("department", "incident.already_checked_in")
    for summons in pending:
        summons.checked_in_at = step.now
        summons.checked_in_by = actor.id
    late = any(s.due_at < step.now for s in pending)
    step.done({"department": actor.department_code, "late": late})
    return step.incident


def _check_reach(step: _Step, departments: Sequence[Department]) -> None:
    """Every department named must serve the incident's place and lie in the actor's scope."""
    chain = tuple(step.incident.chain().values())
    for department in departments:
        if not may_name_department(step.actor.actor(), chain, department.area_code):
            raise OutOfScope("scope.department", code=department.code)


def _sla_at(session: Session, incident: Incident, level: Level) -> float:
    rules = rules_for(session, category_code=incident.category_code)
    rule = pick_rule(
        rules, category_code=incident.category_code, level=level, chain=incident.chain()
    )
    if rule is None:
        raise IncidentError("level", "incident.no_rule_at_level", level=level.value)
    return rule.sla_hours


def _level(incident: Incident) -> Level:
    if incident.level is None:
        raise IncidentError("level", "incident.never_dispatched")
    return Level(incident.level)
