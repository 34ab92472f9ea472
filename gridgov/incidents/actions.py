"""What people do to an incident: each action locks the row, checks the role table and the
life-cycle table, changes the incident and appends its audit row, in the caller's transaction.

Two handlers accepting at once: the second waits for the first's row lock, then finds the
incident already accepted and gets TransitionNotAllowed (409 in the API).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.boundaries.levels import Level
from gridgov.departments.models import Department
from gridgov.incidents.errors import Forbidden, IncidentError, IncidentNotFound
from gridgov.incidents.events import record, target_of
from gridgov.incidents.lifecycle import Move, Status, transition
from gridgov.incidents.models import Incident, IncidentPhoto, Whistle
from gridgov.incidents.photos import StoredPhoto
from gridgov.incidents.reporting import dispatch_by_rules
from gridgov.responsibilities.routing import pick_rule
from gridgov.responsibilities.service import rules_for
from gridgov.users.models import User
from gridgov.users.roles import Action, allowed

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


def _begin(
    session: Session, incident_id: int, actor: User, action: Action, move: Move | None, note: str
) -> tuple[Incident, Status]:
    if len(note) > MAX_NOTE:
        raise IncidentError("note", "incident.too_long", limit=MAX_NOTE)
    incident = load_for_update(session, incident_id)
    if not allowed(actor.actor(), action, target_of(session, incident)):
        raise Forbidden(action.value)
    before = Status(incident.status)
    if move is not None:
        transition(before, move)  # raises TransitionNotAllowed before anything changes
    return incident, before


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def accept(
    session: Session, *, incident_id: int, actor: User, note: str = "", now: datetime | None = None
) -> Incident:
    """The assigned department takes the incident on."""
    now = _now(now)
    incident, before = _begin(session, incident_id, actor, Action.ACCEPT, Move.ACCEPT, note)
    incident.status = transition(before, Move.ACCEPT).value
    incident.accepted_at = now
    incident.updated_at = now
    record(
        session, incident, action="accept", from_status=before, actor_id=actor.id, at=now, note=note
    )
    return incident


def reject(
    session: Session, *, incident_id: int, actor: User, reason: str, now: datetime | None = None
) -> Incident:
    """The assigned department says it is not theirs; back to the dispatcher queue."""
    if not reason.strip():
        raise IncidentError("reason", "incident.reason_required")
    now = _now(now)
    incident, before = _begin(session, incident_id, actor, Action.REJECT, Move.REJECT, reason)
    rejected_by = incident.department_code
    incident.status = transition(before, Move.REJECT).value
    incident.department_code = None
    incident.updated_at = now
    record(
        session,
        incident,
        action="reject",
        from_status=before,
        actor_id=actor.id,
        at=now,
        note=reason,
        details={"rejected_by": rejected_by},
    )
    return incident


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
    if not note.strip():
        raise IncidentError("note", "incident.resolution_note_required")
    now = _now(now)
    incident, before = _begin(session, incident_id, actor, Action.RESOLVE, Move.RESOLVE, note)
    incident.status = transition(before, Move.RESOLVE).value
    incident.resolved_at = now
    incident.updated_at = now
    event = record(
        session,
        incident,
        action="resolve",
        from_status=before,
        actor_id=actor.id,
        at=now,
        note=note,
        details={"within_sla": _within_sla(incident, now)},
    )
    for photo in photos:
        session.add(
            IncidentPhoto(
                incident_id=incident.id,
                event_id=event.id,
                sha256=photo.sha256,
                content_type=photo.content_type,
                size_bytes=photo.size_bytes,
                width=photo.width,
                height=photo.height,
            )
        )
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
    now = _now(now)
    incident, before = _begin(session, incident_id, actor, Action.CLOSE, Move.CLOSE, note)
    if rating is not None and not allowed(actor.actor(), Action.RATE, target_of(session, incident)):
        raise Forbidden(Action.RATE.value)
    incident.status = transition(before, Move.CLOSE).value
    incident.closed_at = now
    incident.rating = rating
    incident.updated_at = now
    record(
        session,
        incident,
        action="close",
        from_status=before,
        actor_id=actor.id,
        at=now,
        note=note,
        details={"rating": rating},
    )
    return incident


def reopen(
    session: Session, *, incident_id: int, actor: User, reason: str, now: datetime | None = None
) -> Incident:
    """The reporter is not satisfied: back to the same department with a fresh deadline."""
    if not reason.strip():
        raise IncidentError("reason", "incident.reason_required")
    now = _now(now)
    incident, before = _begin(session, incident_id, actor, Action.REOPEN, Move.REOPEN, reason)
    incident.status = transition(before, Move.REOPEN).value
    incident.reopen_count += 1
    incident.resolved_at = None
    incident.deadline_at = now + timedelta(hours=_sla_at(session, incident, _level(incident)))
    incident.overdue_at_top = False
    incident.updated_at = now
    record(
        session,
        incident,
        action="reopen",
        from_status=before,
        actor_id=actor.id,
        at=now,
        note=reason,
        details={"deadline": incident.deadline_at.isoformat()},
    )
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
    now = _now(now)
    incident, before = _begin(session, incident_id, actor, Action.DISPATCH, Move.DISPATCH, note)
    department = session.scalar(select(Department).where(Department.code == department_code))
    if department is None:
        raise IncidentError("department_code", "incident.unknown_department", code=department_code)
    level = Level(department.level)
    hours = sla_hours if sla_hours is not None else _sla_at(session, incident, level)
    if hours <= 0:
        raise IncidentError("sla_hours", "incident.positive")
    incident.status = transition(before, Move.DISPATCH).value
    incident.level = level.value
    incident.department_code = department.code
    incident.deadline_at = now + timedelta(hours=hours)
    incident.overdue_at_top = False
    incident.updated_at = now
    record(
        session,
        incident,
        action="dispatch",
        from_status=before,
        actor_id=actor.id,
        at=now,
        note=note,
        details={"sla_hours": hours, "deadline": incident.deadline_at.isoformat()},
    )
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
    now = _now(now)
    incident, before = _begin(session, incident_id, actor, Action.WHISTLE, Move.WHISTLE, note)
    if not department_codes:
        if not dispatch_by_rules(
            session,
            incident,
            actor_id=actor.id,
            now=now,
            above=_level(incident),
            move=Move.ESCALATE,
            note=note or "whistle",
        ):
            raise IncidentError("department_codes", "incident.top_level")
        return incident
    if due_hours <= 0:
        raise IncidentError("due_hours", "incident.positive")
    known = set(
        session.scalars(select(Department.code).where(Department.code.in_(department_codes)))
    )
    unknown = [code for code in department_codes if code not in known]
    if unknown:
        raise IncidentError(
            "department_codes", "incident.unknown_departments", codes=", ".join(unknown)
        )
    due = now + timedelta(hours=due_hours)
    for code in dict.fromkeys(department_codes):
        session.add(
            Whistle(
                incident_id=incident.id,
                department_code=code,
                summoned_by=actor.id,
                summoned_at=now,
                due_at=due,
            )
        )
    incident.updated_at = now
    record(
        session,
        incident,
        action="whistle",
        from_status=before,
        actor_id=actor.id,
        at=now,
        note=note,
        details={"summoned": list(dict.fromkeys(department_codes)), "due": due.isoformat()},
    )
    return incident


def check_in(
    session: Session, *, incident_id: int, actor: User, note: str = "", now: datetime | None = None
) -> Incident:
    """报到: a summoned department reports for duty."""
    now = _now(now)
    incident, before = _begin(session, incident_id, actor, Action.CHECK_IN, Move.CHECK_IN, note)
    pending = session.scalars(
        select(Whistle).where(
            Whistle.incident_id == incident.id,
            Whistle.department_code == actor.department_code,
            Whistle.checked_in_at.is_(None),
        )
    ).all()
    if not pending:
        raise IncidentError("department", "incident.already_checked_in")
    for summons in pending:
        summons.checked_in_at = now
        summons.checked_in_by = actor.id
    late = any(s.due_at < now for s in pending)
    incident.updated_at = now
    record(
        session,
        incident,
        action="check_in",
        from_status=before,
        actor_id=actor.id,
        at=now,
        note=note,
        details={"department": actor.department_code, "late": late},
    )
    return incident


def _sla_at(session: Session, incident: Incident, level: Level) -> float:
    chain = {
        Level.CITY: incident.city_code,
        Level.DISTRICT: incident.district_code,
        Level.STREET: incident.street_code,
        Level.COMMUNITY: incident.community_code,
    }
    rule = pick_rule(
        rules_for(session, category_code=incident.category_code),
        category_code=incident.category_code,
        level=level,
        chain=chain,
    )
    if rule is None:
        raise IncidentError("level", "incident.no_rule_at_level", level=level.value)
    return rule.sla_hours


def _within_sla(incident: Incident, now: datetime) -> bool:
    return incident.deadline_at is None or now <= incident.deadline_at


def _level(incident: Incident) -> Level:
    if incident.level is None:
        raise IncidentError("level", "incident.never_dispatched")
    return Level(incident.level)
