"""Tables: sensors, readings (partitioned by month), rules and alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.db import Base


class Sensor(Base):
    """A monitoring device at a place, reporting some metrics in known units."""

    __tablename__ = "sensors"
    __table_args__ = (Index("ix_sensors_position", "position", postgresql_using="gist"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), server_default="")
    kind: Mapped[str] = mapped_column(String(32))
    owner_department: Mapped[str] = mapped_column(String(32))
    metrics: Mapped[dict[str, str]] = mapped_column(JSONB)  # metric -> unit
    position: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    grid_code: Mapped[str | None] = mapped_column(String(32))
    community_code: Mapped[str | None] = mapped_column(String(32))
    street_code: Mapped[str | None] = mapped_column(String(32))
    district_code: Mapped[str | None] = mapped_column(String(32))
    city_code: Mapped[str | None] = mapped_column(String(32))


class Reading(Base):
    """One value of one metric at one time. Range-partitioned by month (see the migration);
    (sensor, metric, time) is unique, so a re-sent batch writes nothing twice."""

    __tablename__ = "readings"
    __table_args__ = (
        PrimaryKeyConstraint("sensor_id", "metric", "at", name="pk_readings"),
        {"postgresql_partition_by": "RANGE (at)"},
    )

    sensor_id: Mapped[int] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    value: Mapped[float] = mapped_column(Float)


class SensorRule(Base):
    """When to raise an alert: a condition on one metric, sustained, with hysteresis."""

    __tablename__ = "sensor_rules"
    __table_args__ = (
        CheckConstraint(
            "condition IN ('above', 'below', 'outside', 'rate')", name="ck_rule_condition"
        ),
        CheckConstraint("sensor_kind IS NOT NULL OR sensor_id IS NOT NULL", name="ck_rule_target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sensor_kind: Mapped[str | None] = mapped_column(String(32))
    sensor_id: Mapped[int | None] = mapped_column(ForeignKey("sensors.id"))
    metric: Mapped[str] = mapped_column(String(32))
    condition: Mapped[str] = mapped_column(String(16))
    low: Mapped[float | None] = mapped_column(Float)
    high: Mapped[float | None] = mapped_column(Float)
    # rate: the largest allowed change per minute (absolute)
    max_rate_per_minute: Mapped[float | None] = mapped_column(Float)
    sustain_count: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    sustain_minutes: Mapped[float] = mapped_column(Float, server_default=text("0"))
    clear_minutes: Mapped[float] = mapped_column(Float, server_default=text("0"))
    # A silence longer than this breaks a run of breaches (the sensor was offline).
    max_gap_minutes: Mapped[float] = mapped_column(Float, server_default=text("60"))
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"))


class Alert(Base):
    """An open (or cleared) breach of one rule by one sensor; one open per (sensor, rule)."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open",
            "sensor_id",
            "rule_id",
            unique=True,
            postgresql_where=text("cleared_at IS NULL"),
        ),
        Index("ix_alerts_sensor_rule_opened", "sensor_id", "rule_id", "opened_at"),
        Index("ix_alerts_opened", "opened_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sensor_id: Mapped[int] = mapped_column(ForeignKey("sensors.id"))
    rule_id: Mapped[int] = mapped_column(ForeignKey("sensor_rules.id"))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    readings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)  # the ones that triggered it
    # Set when late readings showed the data in time order has no such alert: "unsupported"
    # (no episode at its time) or "merged" (its time is another alert's episode). A
    # withdrawn alert is closed and kept, with its incident; it is no part of the history.
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_reason: Mapped[str | None] = mapped_column(String(32))


class RuleState(Base):
    """Where each (sensor, rule) evaluation stands, so in-order readings go on from here
    without reading the past again."""

    __tablename__ = "rule_states"

    sensor_id: Mapped[int] = mapped_column(ForeignKey("sensors.id"), primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("sensor_rules.id"), primary_key=True)
    is_open: Mapped[bool] = mapped_column(Boolean)
    run: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    run_length: Mapped[int] = mapped_column(Integer)
    run_started: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fine_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    previous_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    previous_value: Mapped[float | None] = mapped_column(Float)
