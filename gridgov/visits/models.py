"""Tables: registered visits and the communities each one goes to."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.db import Base


class VisitRegistration(Base):
    """A planned visit, inspection or survey by a unit, registered before it happens."""

    __tablename__ = "visit_registrations"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="ck_visit_registrations_dates"),
        Index("ix_visit_registrations_dates", "starts_on", "ends_on"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    unit: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(Text)
    people: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    registered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    registered_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class VisitPlace(Base):
    """One community a registered visit goes to."""

    __tablename__ = "visit_places"
    __table_args__ = (Index("ix_visit_places_community", "community_code"),)

    registration_id: Mapped[int] = mapped_column(
        ForeignKey("visit_registrations.id", ondelete="CASCADE"), primary_key=True
    )
    community_code: Mapped[str] = mapped_column(String(32), primary_key=True)
