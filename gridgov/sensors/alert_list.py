"""Alerts as a list an operator pages through: by sensor, rule, period and status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gridgov.sensors.models import Alert, Sensor, SensorRule

STATUSES = ("open", "cleared", "withdrawn")


@dataclass(frozen=True)
class AlertRow:
    alert: Alert
    sensor_code: str
    rule_name: str


@dataclass(frozen=True)
class AlertPage:
    rows: list[AlertRow]
    total: int  # how many match, over every page


def list_alerts(
    session: Session,
    *,
    sensor: str | None = None,
    rule_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> AlertPage:
    """Open alerts first, then the newest; ``since``/``until``: alerts open at any moment of
    that period; ``status``: open, cleared (withdrawn ones excluded) or withdrawn."""
    query = (
        select(Alert, Sensor.code, SensorRule.name)
        .join(Sensor, Sensor.id == Alert.sensor_id)
        .join(SensorRule, SensorRule.id == Alert.rule_id)
    )
    if sensor is not None:
        query = query.where(Sensor.code == sensor)
    if rule_id is not None:
        query = query.where(Alert.rule_id == rule_id)
    if until is not None:
        query = query.where(Alert.opened_at < until)
    if since is not None:
        query = query.where(or_(Alert.cleared_at.is_(None), Alert.cleared_at >= since))
    if status == "open":
        query = query.where(Alert.cleared_at.is_(None))
    elif status == "cleared":
        query = query.where(Alert.cleared_at.is_not(None), Alert.withdrawn_at.is_(None))
    elif status == "withdrawn":
        query = query.where(Alert.withdrawn_at.is_not(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(Alert.cleared_at.is_not(None), Alert.opened_at.desc(), Alert.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return AlertPage([AlertRow(a, code, name) for a, code, name in rows], total)
