"""Read incidents: one, or many with filters, limited to what the caller may read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, true
from sqlalchemy.orm import Session

from gridgov.boundaries.models import Grid
from gridgov.departments.models import Department
from gridgov.departments.service import list_departments
from gridgov.incidents.errors import Forbidden, IncidentNotFound
from gridgov.incidents.events import target_of
from gridgov.incidents.models import Incident, IncidentEvent, IncidentPhoto, Whistle
from gridgov.users.models import User
from gridgov.users.roles import Action, Actor, Scope, allowed, may_name_department, scopes_for

MAX_PAGE = 500


@dataclass(frozen=True)
class IncidentFilter:
    """What a list of incidents may be narrowed to."""

    statuses: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    area_code: str | None = None
    department_code: str | None = None
    reporter_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat


def readable_by(actor: Actor) -> ColumnElement[bool]:
    """SQL for the incidents ``actor`` may read: the READ row of the role table, as a WHERE."""
    clauses: list[ColumnElement[bool]] = []
    for scope in scopes_for(actor.role, Action.READ):
        match scope:
            case Scope.ANY:
                clauses.append(true())
            case Scope.AREA if actor.area_code:
                clauses.append(_in_area(actor.area_code))
            case Scope.DEPARTMENT if actor.department_code:
                clauses.append(Incident.department_code == actor.department_code)
            case Scope.SUMMONED if actor.department_code:
                clauses.append(
                    exists().where(
                        Whistle.incident_id == Incident.id,
                        Whistle.department_code == actor.department_code,
                    )
                )
            case Scope.GRID if actor.grid_code:
                clauses.append(Incident.grid_code == actor.grid_code)
            case Scope.OWN:
                clauses.append(Incident.reporter_id == actor.user_id)
    return or_(*clauses) if clauses else false()


def _in_area(code: str) -> ColumnElement[bool]:
    return or_(
        Incident.city_code == code,
        Incident.district_code == code,
        Incident.street_code == code,
        Incident.community_code == code,
    )


def filtered(query: Select[Incident], f: IncidentFilter) -> Select[Incident]:
    """Apply a filter to a query of incidents."""
    conditions: list[ColumnElement[bool]] = []
    if f.statuses:
        conditions.append(Incident.status.in_(f.statuses))
    if f.categories:
        conditions.append(
            or_(
                Incident.category_code.in_(f.categories),
                func.left(Incident.category_code, 2).in_(f.categories),
            )
        )
    if f.area_code:
        conditions.append(_in_area(f.area_code))
    if f.department_code:
        conditions.append(Incident.department_code == f.department_code)
    if f.reporter_id is not None:
        conditions.append(Incident.reporter_id == f.reporter_id)
    if f.since:
        conditions.append(Incident.reported_at >= f.since)
    if f.until:
        conditions.append(Incident.reported_at < f.until)
    if f.bbox:
        conditions.append(Incident.position.intersects(func.ST_MakeEnvelope(*f.bbox, 4326)))
    return query.where(and_(*conditions)) if conditions else query


def list_incidents(
    session: Session, *, actor: Actor, filters: IncidentFilter, limit: int = 50, offset: int = 0
) -> tuple[list[Incident], int]:
    """One page of the incidents ``actor`` may read, newest first, and how many match."""
    query = filtered(select(Incident).where(readable_by(actor)), filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Incident.reported_at.desc(), Incident.id.desc())
        .limit(min(limit, MAX_PAGE))
        .offset(offset)
    ).all()
    return list(rows), int(total)


def get_incident(session: Session, *, incident_id: int, actor: Actor) -> Incident:
    """One incident, if ``actor`` may read it."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise IncidentNotFound(incident_id)
    if not allowed(actor, Action.READ, target_of(session, incident)):
        raise Forbidden(Action.READ.value)
    return incident


@dataclass(frozen=True)
class NamedEvent:
    """One entry of the audit trail with the names a person reads: who acted, and where."""

    event: IncidentEvent
    actor_name: str | None
    department_name: str | None


def named_history(session: Session, *, incident_id: int) -> list[NamedEvent]:
    """The audit trail, oldest first, with the actor's and department's names (one query)."""
    rows = session.execute(
        select(IncidentEvent, User.display_name, Department.name)
        .outerjoin(User, User.id == IncidentEvent.actor_id)
        .outerjoin(Department, Department.code == IncidentEvent.department_code)
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.at, IncidentEvent.id)
    )
    return [NamedEvent(event, actor, department) for event, actor, department in rows]


def grid_name(session: Session, *, incident: Incident) -> str | None:
    """The name of the incident's grid, in the generation it was reported under."""
    return session.scalar(
        select(Grid.name).where(
            Grid.generation_id == incident.generation_id, Grid.code == incident.grid_code
        )
    )


def departments_in_reach(session: Session, *, incident: Incident, actor: Actor) -> list[Department]:
    """The departments ``actor`` may send ``incident`` to or summon to it (they serve its
    place, within the actor's area), nearest level first."""
    chain = tuple(incident.chain().values())
    return [
        department
        for department in list_departments(session, area_codes=[c for c in chain if c])
        if may_name_department(actor, chain, department.area_code)
    ]


def photos_of(session: Session, *, incident_id: int) -> list[IncidentPhoto]:
    """Every photo of an incident (report and resolution)."""
    return list(
        session.scalars(
            select(IncidentPhoto)
            .where(IncidentPhoto.incident_id == incident_id)
            .order_by(IncidentPhoto.id)
        )
    )


def whistles_of(session: Session, *, incident_id: int) -> list[Whistle]:
    """Departments summoned to an incident."""
    return list(
        session.scalars(
            select(Whistle).where(Whistle.incident_id == incident_id).order_by(Whistle.id)
        )
    )
