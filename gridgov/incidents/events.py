"""The audit log and the live feed: every change is one event row and one NOTIFY."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridgov.incidents.lifecycle import Move
from gridgov.incidents.models import Incident, IncidentEvent, Whistle
from gridgov.notifications.service import department_users, notify, notify_department
from gridgov.users.roles import Target

CHANNEL = "gridgov_incidents"

# What an audit row may say happened: a life-cycle move, or one of these. The pages label
# each one (move.* or web.event.* in the catalogues).
OTHER_ACTIONS = frozenset(
    {
        "report",
        "overdue",
        "check_in_overdue",
        "alert_opened",
        "alert_cleared",
        "alert_reopened",
        "alert_corrected",
        "alert_withdrawn",
    }
)
ACTIONS = frozenset(m.value for m in Move) | OTHER_ACTIONS


def record(
    session: Session,
    incident: Incident,
    *,
    action: str,
    from_status: str | None,
    actor_id: int | None,
    at: datetime,
    note: str = "",
    details: dict[str, Any] | None = None,
) -> IncidentEvent:
    """Append one audit row for ``incident`` as it is now, and publish the change."""
    event = event_row(
        incident,
        action=action,
        from_status=from_status,
        actor_id=actor_id,
        at=at,
        note=note,
        details=details,
    )
    session.add(event)
    session.flush()
    publish(session, incident, action=action)
    tell(session, incident, action=action, at=at, details=details or {})
    return event


def event_row(
    incident: Incident,
    *,
    action: str,
    from_status: str | None,
    actor_id: int | None,
    at: datetime,
    note: str = "",
    details: dict[str, Any] | None = None,
) -> IncidentEvent:
    """The audit row for ``incident`` as it is now (not yet added to a session)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown incident action {action!r}")
    return IncidentEvent(
        incident_id=incident.id,
        at=at,
        actor_id=actor_id,
        action=action,
        from_status=from_status,
        to_status=incident.status,
        level=incident.level,
        department_code=incident.department_code,
        note=note,
        details=details or {},
    )


# Who hears about which change (besides the live feed): the department an incident is sent
# to, the reporter when it is resolved or rejected back, the departments summoned.
ASSIGNING = {"dispatch", "escalate", "reopen"}


def tell(
    session: Session, incident: Incident, *, action: str, at: datetime, details: dict[str, Any]
) -> None:
    """Put the change in the inboxes (and webhooks) of the people it concerns."""
    users: list[int] = []
    data = {
        "incident": incident.id,
        "action": action,
        "status": incident.status,
        "department": incident.department_code,
    }
    title = f"事件 {incident.id}：{action}"
    if action in ASSIGNING:
        notify_department(
            session,
            department_code=incident.department_code,
            kind="incident",
            title=title,
            data=data,
            now=at,
        )
        return
    if action == "resolve" and incident.reporter_id is not None:
        users = [incident.reporter_id]
    elif action == "whistle":
        for code in details.get("summoned", []):
            users += department_users(session, code)
    if not users:
        return
    notify(session, kind="incident", title=title, data=data, user_ids=users, now=at)


def feed_payload(
    incident: Incident, *, action: str, summoned: list[str] | None = None
) -> dict[str, Any]:
    """What the live feed says about a change (enough to filter by scope and redraw)."""
    return {
        "id": incident.id,
        "action": action,
        "status": incident.status,
        "level": incident.level,
        "category": incident.category_code,
        "department": incident.department_code,
        "grid": incident.grid_code,
        "areas": [
            incident.city_code,
            incident.district_code,
            incident.street_code,
            incident.community_code,
        ],
        "reporter_id": incident.reporter_id,
        "summoned": summoned or [],
        "updated_at": incident.updated_at.isoformat(),
    }


def publish(session: Session, incident: Incident, *, action: str) -> None:
    """NOTIFY the change; PostgreSQL delivers it to every listener when the transaction commits."""
    summoned = list(
        session.scalars(select(Whistle.department_code).where(Whistle.incident_id == incident.id))
    )
    payload = json.dumps(
        feed_payload(incident, action=action, summoned=summoned), ensure_ascii=False
    )
    session.execute(
        text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
    )


def publish_new(session: Session, incident: Incident, events: list[IncidentEvent]) -> None:
    """NOTIFY each event of an incident just written, in one statement (a new incident has
    no summoned departments); each notice shows the incident as its event left it."""
    payloads = [
        json.dumps(
            {
                **feed_payload(incident, action=event.action),
                "status": event.to_status,
                "level": event.level,
                "department": event.department_code,
            },
            ensure_ascii=False,
        )
        for event in events
    ]
    calls = ", ".join(f"pg_notify(:channel, :p{n})" for n in range(len(payloads)))
    session.execute(
        text(f"SELECT {calls}"),
        {"channel": CHANNEL, **{f"p{n}": p for n, p in enumerate(payloads)}},
    )


def target_of(session: Session, incident: Incident) -> Target:
    """The incident as the permission table sees it."""
    summoned = session.scalars(
        select(Whistle.department_code).where(Whistle.incident_id == incident.id)
    ).all()
    return Target(
        area_codes=frozenset(incident.chain().values()),
        department_code=incident.department_code,
        summoned=frozenset(summoned),
        grid_code=incident.grid_code,
        reporter_id=incident.reporter_id,
    )


def target_from_payload(payload: dict[str, Any]) -> Target:
    """The same Target, rebuilt from a feed payload (for filtering the stream by scope)."""
    return Target(
        area_codes=frozenset(payload["areas"]),
        department_code=payload["department"],
        summoned=frozenset(payload.get("summoned", [])),
        grid_code=payload["grid"],
        reporter_id=payload["reporter_id"],
    )
