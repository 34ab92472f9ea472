"""Tables: incidents, their append-only audit log, photos, whistles and street ratings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.boundaries.levels import Level
from gridgov.context import current_request_id
from gridgov.db import Base

STATUSES = ("reported", "dispatched", "accepted", "rejected", "resolved", "closed")


class Incident(Base):
    """One located incident and where it stands now (its history is in incident_events)."""

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("reporter_id", "idempotency_key", name="uq_incidents_idempotency"),
        CheckConstraint(
            "status IN ('reported', 'dispatched', 'accepted', 'rejected', 'resolved', 'closed')",
            name="ck_incidents_status",
        ),
        CheckConstraint("rating BETWEEN 1 AND 5", name="ck_incidents_rating"),
        Index("ix_incidents_position", "position", postgresql_using="gist"),
        Index("ix_incidents_status_deadline", "status", "deadline_at"),
        Index("ix_incidents_department", "department_code", "status"),
        Index("ix_incidents_reported_at", "reported_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    level: Mapped[str | None] = mapped_column(String(16))
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    description: Mapped[str] = mapped_column(Text, server_default="")
    position: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    reported_crs: Mapped[str] = mapped_column(String(16), server_default="wgs84")
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    snapped: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    generation_id: Mapped[int] = mapped_column(ForeignKey("boundary_generations.id"))
    grid_code: Mapped[str] = mapped_column(String(32))
    # Empty at levels the city does not have (grids straight under a street or district).
    community_code: Mapped[str | None] = mapped_column(String(32))
    street_code: Mapped[str | None] = mapped_column(String(32))
    district_code: Mapped[str | None] = mapped_column(String(32))
    city_code: Mapped[str] = mapped_column(String(32))
    department_code: Mapped[str | None] = mapped_column(String(32))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    source: Mapped[str] = mapped_column(String(16), server_default="report")
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    # SHA-256 of the report the key came with: the key may not be reused for another one.
    request_hash: Mapped[str | None] = mapped_column(String(64))
    possible_duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When the reporter saw it (a report queued offline on the phone); None: at receipt.
    # Deadlines run from reported_at: a department can act only once the report is in.
    observed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    reopen_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # Set when the deadline passed at the city level: nothing higher to escalate to.
    overdue_at_top: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))

    def chain(self) -> dict[Level, str]:
        """The incident's area at each level its city has, city down to community."""
        codes = {
            Level.CITY: self.city_code,
            Level.DISTRICT: self.district_code,
            Level.STREET: self.street_code,
            Level.COMMUNITY: self.community_code,
        }
        return {level: code for level, code in codes.items() if code is not None}


class IncidentEvent(Base):
    """One transition or action: who, when, from, to, why. Append-only (a trigger refuses
    UPDATE and DELETE)."""

    __tablename__ = "incident_events"
    __table_args__ = (Index("ix_incident_events_incident", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    level: Mapped[str | None] = mapped_column(String(16))
    department_code: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, server_default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # The request (or background run) that wrote the row, from the request context.
    request_id: Mapped[str | None] = mapped_column(String(64), default=current_request_id)


class IncidentPhoto(Base):
    """A photo stored on disk under its SHA-256 (content-addressed)."""

    __tablename__ = "incident_photos"
    __table_args__ = (UniqueConstraint("incident_id", "sha256", name="uq_incident_photos"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("incident_events.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)


class Whistle(Base):
    """A department summoned to an incident (吹哨), which must check in (报到) by ``due_at``."""

    __tablename__ = "whistles"
    __table_args__ = (Index("ix_whistles_department", "department_code", "checked_in_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    department_code: Mapped[str] = mapped_column(String(32))
    summoned_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    summoned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checked_in_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    overdue_noted: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class StreetRating(Base):
    """A street's rating of a department that served it in a period (双向测评)."""

    __tablename__ = "street_ratings"
    __table_args__ = (
        UniqueConstraint(
            "street_code", "department_code", "period_start", "period_end", name="uq_street_ratings"
        ),
        CheckConstraint("score BETWEEN 1 AND 5", name="ck_street_ratings_score"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    street_code: Mapped[str] = mapped_column(String(32))
    department_code: Mapped[str] = mapped_column(String(32))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    score: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str] = mapped_column(Text, server_default="")
    rated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    rated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
