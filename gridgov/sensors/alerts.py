"""Open and clear alerts from a rule's transitions; an opened alert becomes an incident."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from geoalchemy2.shape import to_shape
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from gridgov.incidents.errors import IncidentError
from gridgov.incidents.events import record
from gridgov.incidents.models import Incident
from gridgov.incidents.reporting import report_incident
from gridgov.notifications.service import department_users, notify
from gridgov.sensors.models import Alert, Sensor, SensorRule
from gridgov.sensors.rules import Transition

if TYPE_CHECKING:
    from gridgov.sensors.ingest import IngestResult


def apply_transitions(
    session: Session,
    sensor: Sensor,
    rule: SensorRule,
    transitions: list[Transition],
    *,
    result: IngestResult,
    now: datetime,
) -> None:
    """Act on what a replay found, against the alerts that exist: never twice, never undone."""
    for transition in transitions:
        current = session.scalar(
            select(Alert)
            .where(
                Alert.sensor_id == sensor.id, Alert.rule_id == rule.id, Alert.cleared_at.is_(None)
            )
            .with_for_update()
        )
        if transition.kind == "open":
            if current is not None or _covered(session, sensor, rule, transition.at):
                continue
            alert = open_alert(session, sensor, rule, transition, now=now)
            result.alerts_opened.append(alert.id)
        elif current is not None and current.opened_at <= transition.at:
            clear_alert(session, current, transition, now=now)
            result.alerts_cleared.append(current.id)


def _covered(session: Session, sensor: Sensor, rule: SensorRule, at: datetime) -> bool:
    """Whether an earlier alert already covered this moment (a replayed window)."""
    return (
        session.scalar(
            select(Alert.id).where(
                Alert.sensor_id == sensor.id,
                Alert.rule_id == rule.id,
                Alert.opened_at <= at,
                or_(Alert.cleared_at.is_(None), and_(Alert.cleared_at >= at)),
            )
        )
        is not None
    )


def open_alert(
    session: Session, sensor: Sensor, rule: SensorRule, transition: Transition, *, now: datetime
) -> Alert:
    """Record the alert, raise an incident at the sensor routed like any report, notify."""
    readings = [{"at": s.at.isoformat(), "value": s.value} for s in transition.samples]
    alert = Alert(sensor_id=sensor.id, rule_id=rule.id, opened_at=transition.at, readings=readings)
    session.add(alert)
    session.flush()
    point = to_shape(sensor.position)
    try:
        with session.begin_nested():
            incident = report_incident(
                session,
                reporter_id=None,
                lon=point.x,
                lat=point.y,
                category_code=rule.category_code,
                description=f"{sensor.name or sensor.code}：{rule.name}",
                source="sensor",
                now=transition.at,
            ).incident
    except IncidentError:
        # The sensor lies outside today's boundaries (or the category cannot be routed):
        # keep the alert and the readings; an operator sees it in /api/v1/alerts, and the
        # sensor's owners are still told.
        _notify_opened(session, sensor, rule, alert, incident_id=None, now=now)
        return alert
    alert.incident_id = incident.id
    record(
        session,
        incident,
        action="alert_opened",
        from_status=incident.status,
        actor_id=None,
        at=transition.at,
        note=rule.name,
        details={
            "alert": alert.id,
            "sensor": sensor.code,
            "metric": rule.metric,
            "readings": readings,
        },
    )
    _notify_opened(session, sensor, rule, alert, incident_id=incident.id, now=now)
    return alert


def _notify_opened(
    session: Session,
    sensor: Sensor,
    rule: SensorRule,
    alert: Alert,
    *,
    incident_id: int | None,
    now: datetime,
) -> None:
    notify(
        session,
        kind="alert",
        title=f"告警：{sensor.name or sensor.code} {rule.name}",
        data={"alert": alert.id, "sensor": sensor.code, "incident": incident_id, "state": "open"},
        user_ids=department_users(session, sensor.owner_department),
        now=now,
    )


def clear_alert(session: Session, alert: Alert, transition: Transition, *, now: datetime) -> None:
    """Close the alert and note it on its incident."""
    alert.cleared_at = transition.at
    if alert.incident_id is not None:
        incident = session.get(Incident, alert.incident_id)
        if incident is not None:
            record(
                session,
                incident,
                action="alert_cleared",
                from_status=incident.status,
                actor_id=None,
                at=transition.at,
                details={"alert": alert.id, "value": transition.samples[-1].value},
            )
    sensor = session.get(Sensor, alert.sensor_id)
    notify(
        session,
        kind="alert",
        title=f"告警解除：{sensor.name if sensor else alert.sensor_id}",
        data={"alert": alert.id, "incident": alert.incident_id, "state": "cleared"},
        user_ids=department_users(session, sensor.owner_department if sensor else None),
        now=now,
    )
