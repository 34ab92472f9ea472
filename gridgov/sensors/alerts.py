"""Open and clear alerts from a rule's transitions; an opened alert becomes an incident.

Late readings may show that the stored alerts were not what the data in time order shows;
``reconcile`` then moves, splits, opens and withdraws them (see ``late``). An alert is
never deleted: one the data no longer shows is withdrawn (``withdrawn_at``, with a reason),
and its incident stays as it is, with the withdrawal in its history, for a person to close.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from geoalchemy2.shape import to_shape
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from gridgov.boundaries.index import GridIndex
from gridgov.incidents.errors import IncidentError
from gridgov.incidents.events import record
from gridgov.incidents.models import Incident
from gridgov.incidents.reporting import report_incident
from gridgov.notifications.service import department_users, notify
from gridgov.sensors.models import Alert, Sensor, SensorRule
from gridgov.sensors.rules import Transition

if TYPE_CHECKING:
    from gridgov.sensors.episodes import Episode, Plan
    from gridgov.sensors.ingest import IngestResult


def apply_transitions(
    session: Session,
    sensor: Sensor,
    rule: SensorRule,
    transitions: list[Transition],
    *,
    result: IngestResult,
    now: datetime,
    index: GridIndex | None = None,
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
            alert = open_alert(session, sensor, rule, transition, now=now, index=index)
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
                Alert.withdrawn_at.is_(None),
                or_(Alert.cleared_at.is_(None), and_(Alert.cleared_at >= at)),
            )
        )
        is not None
    )


def open_alert(
    session: Session,
    sensor: Sensor,
    rule: SensorRule,
    transition: Transition,
    *,
    now: datetime,
    closing: Transition | None = None,
    index: GridIndex | None = None,
) -> Alert:
    """Record the alert, raise an incident at the sensor routed like any report, notify.

    ``closing``: the alert is one of the past, cleared then (it is written closed, so it
    never stands beside the alert open now)."""
    readings = [{"at": s.at.isoformat(), "value": s.value} for s in transition.samples]
    alert = Alert(
        sensor_id=sensor.id,
        rule_id=rule.id,
        opened_at=transition.at,
        cleared_at=closing.at if closing else None,
        readings=readings,
    )
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
                index=index,
            ).incident
    except IncidentError:
        # The sensor lies outside today's boundaries (or the category cannot be routed):
        # keep the alert and the readings; an operator sees it in /api/v1/alerts, and the
        # sensor's owners are still told.
        _notify_opened(session, sensor, rule, alert, incident_id=None, now=now)
        if closing is not None:
            clear_alert(session, alert, closing, now=now)
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
    if closing is not None:
        clear_alert(session, alert, closing, now=now)
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


def reconcile(
    session: Session,
    sensor: Sensor,
    rule: SensorRule,
    plan: Plan,
    *,
    result: IngestResult,
    now: datetime,
) -> None:
    """Make the stored alerts the episodes the data shows (``plan``), never deleting one.

    Withdrawn first, then the kept alerts that end closed, then the one that stays open, then
    the new ones: at no moment are two alerts of a (sensor, rule) open."""
    ids = [s.id for s, _ in plan.keep] + [s.id for s, _ in plan.withdraw]
    alerts = {
        a.id: a for a in session.scalars(select(Alert).where(Alert.id.in_(ids)).with_for_update())
    }
    for stored, reason in plan.withdraw:
        withdraw_alert(session, alerts[stored.id], reason, now=now)
        result.alerts_withdrawn.append(stored.id)
    session.flush()
    for stored, episode in sorted(plan.keep, key=lambda k: k[1].cleared_at is None):
        _correct(session, alerts[stored.id], episode, result=result, now=now)
    session.flush()
    for episode in plan.add:
        opening = Transition("open", episode.opened_at, episode.evidence)
        closing = (
            Transition("clear", episode.cleared_at, episode.cleared_by)
            if episode.cleared_at is not None
            else None
        )
        alert = open_alert(session, sensor, rule, opening, now=now, closing=closing)
        result.alerts_opened.append(alert.id)
        if closing is not None:
            result.alerts_cleared.append(alert.id)


def _correct(
    session: Session, alert: Alert, episode: Episode, *, result: IngestResult, now: datetime
) -> None:
    """Move an alert to its episode's times; closing or reopening it is noted as such."""
    before = {"opened_at": alert.opened_at, "cleared_at": alert.cleared_at}
    if alert.opened_at != episode.opened_at:
        alert.opened_at = episode.opened_at
        if episode.evidence:
            alert.readings = [{"at": s.at.isoformat(), "value": s.value} for s in episode.evidence]
    if episode.cleared_at is not None and alert.cleared_at is None:
        session.flush()
        clear_alert(
            session, alert, Transition("clear", episode.cleared_at, episode.cleared_by), now=now
        )
        result.alerts_cleared.append(alert.id)
    elif episode.cleared_at is None and alert.cleared_at is not None:
        session.flush()  # the alerts closed before it are written: one open at a time
        alert.cleared_at = None
        _note(session, alert, "alert_reopened", at=episode.opened_at, details={})
        result.alerts_opened.append(alert.id)
    else:
        alert.cleared_at = episode.cleared_at
    after = {"opened_at": alert.opened_at, "cleared_at": alert.cleared_at}
    if before["opened_at"] != after["opened_at"] or (
        before["cleared_at"] is not None
        and after["cleared_at"] is not None
        and before["cleared_at"] != after["cleared_at"]
    ):
        moved = {k: [_iso(before[k]), _iso(after[k])] for k in before if before[k] != after[k]}
        _note(session, alert, "alert_corrected", at=episode.opened_at, details=moved)


def withdraw_alert(session: Session, alert: Alert, reason: str, *, now: datetime) -> None:
    """The data in time order does not show this alert (``unsupported``) or shows its time as
    part of another alert's episode (``merged``): it is closed with the reason and kept; its
    incident is left for a person to close, with the withdrawal in its history."""
    alert.withdrawn_at = now
    alert.withdrawn_reason = reason
    alert.cleared_at = alert.cleared_at or alert.opened_at
    _note(session, alert, "alert_withdrawn", at=now, details={"reason": reason})
    sensor = session.get(Sensor, alert.sensor_id)
    notify(
        session,
        kind="alert",
        title=f"告警撤销：{sensor.name if sensor else alert.sensor_id}",
        data={
            "alert": alert.id,
            "incident": alert.incident_id,
            "state": "withdrawn",
            "reason": reason,
        },
        user_ids=department_users(session, sensor.owner_department if sensor else None),
        now=now,
    )


def _note(
    session: Session, alert: Alert, action: str, *, at: datetime, details: Mapping[str, object]
) -> None:
    if alert.incident_id is None:
        return
    incident = session.get(Incident, alert.incident_id)
    if incident is not None:
        record(
            session,
            incident,
            action=action,
            from_status=incident.status,
            actor_id=None,
            at=at,
            details={"alert": alert.id, **details},
        )


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
