"""Tables: fences, trackers, each tracker's side of each fence, crossing events, changes."""

from __future__ import annotations

from datetime import datetime, time

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.db import Base


class Fence(Base):
    """A polygon with a rule: no entry, no exit, or watch; optionally only at some hours."""

    __tablename__ = "fences"
    __table_args__ = (
        CheckConstraint("rule IN ('no_entry', 'no_exit', 'watch')", name="ck_fences_rule"),
        Index("ix_fences_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    active_from: Mapped[time | None] = mapped_column(Time)  # local time of day
    active_to: Mapped[time | None] = mapped_column(Time)
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"), server_default="0601")
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False)
    )


class FenceChange(Base):
    """Every add, change or removal of a fence, so each worker updates its index in step."""

    __tablename__ = "fence_changes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    fence_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))


class Tracker(Base):
    """Something that moves (a boat, a vehicle, a person on duty) and whose owner is told."""

    __tablename__ = "trackers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), server_default="")
    kind: Mapped[str] = mapped_column(String(32), server_default="vehicle")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TrackerSide(Base):
    """Which side of a fence a tracker is on (confirmed), and a pending crossing (candidate)."""

    __tablename__ = "tracker_sides"

    tracker_id: Mapped[int] = mapped_column(ForeignKey("trackers.id"), primary_key=True)
    fence_id: Mapped[int] = mapped_column(ForeignKey("fences.id"), primary_key=True)
    inside: Mapped[bool] = mapped_column(Boolean)
    candidate_inside: Mapped[bool | None] = mapped_column(Boolean)
    candidate_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    candidate_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FenceEvent(Base):
    """A real crossing: enter or exit, where, and whether it broke the fence's rule."""

    __tablename__ = "fence_events"
    __table_args__ = (Index("ix_fence_events_tracker", "tracker_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tracker_id: Mapped[int] = mapped_column(ForeignKey("trackers.id"))
    fence_id: Mapped[int] = mapped_column(ForeignKey("fences.id"))
    kind: Mapped[str] = mapped_column(String(8))  # enter / exit
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lon: Mapped[float] = mapped_column()
    lat: Mapped[float] = mapped_column()
    grid_code: Mapped[str | None] = mapped_column(String(32))
    breach: Mapped[bool] = mapped_column(Boolean)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
