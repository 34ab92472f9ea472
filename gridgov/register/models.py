"""Tables of the register (一张表): houses, households, people and their tags, enterprises,
things; the import batches with every change they made, conflicts, and the access log.

Provenance: every row keeps, in one JSONB column, the source, batch, time and author of each
of its fields (``{"name": {"source": "民政局", "batch": 3, "at": "...", "by": 1}}``), plus
``confirmed_at``/``confirmed_by`` when a grid head confirmed it on a visit. One column read
with the row answers "where does this value come from" without a join over millions of
rows; the history (old -> new, for undo) lives in ``register_changes``.

ID numbers and phones are never stored in clear: ``id_hash`` is a keyed HMAC-SHA256 (for
matching), ``id_sealed`` and ``phone_sealed`` are AES-GCM ciphertexts (gridgov.register.protect).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.db import Base

PLACE_COLUMNS = ("grid_code", "community_code", "street_code", "district_code", "city_code")


def _provenance() -> Mapped[dict[str, Any]]:
    return mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class Placed:
    """A row that lies somewhere: its grid and the areas above it (active generation)."""

    position: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False)
    )
    grid_code: Mapped[str | None] = mapped_column(String(32))
    community_code: Mapped[str | None] = mapped_column(String(32))
    street_code: Mapped[str | None] = mapped_column(String(32))
    district_code: Mapped[str | None] = mapped_column(String(32))
    city_code: Mapped[str | None] = mapped_column(String(32))


class House(Placed, Base):
    """A dwelling or shop unit (房): address, building/unit/room, position, use, tenure."""

    __tablename__ = "houses"
    __table_args__ = (
        Index("ix_houses_grid", "grid_code"),
        Index("ix_houses_position", "position", postgresql_using="gist"),
        CheckConstraint(
            "use IN ('residential', 'shop', 'mixed', 'office', 'other')", name="ck_houses_use"
        ),
        CheckConstraint("tenure IN ('owned', 'rented', 'vacant')", name="ck_houses_tenure"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    address: Mapped[str] = mapped_column(String(300))
    building: Mapped[str] = mapped_column(String(32), server_default="")
    unit: Mapped[str] = mapped_column(String(32), server_default="")
    room: Mapped[str] = mapped_column(String(32), server_default="")
    footprint: Mapped[WKBElement | None] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=False)
    )
    use: Mapped[str] = mapped_column(String(16), server_default="residential")
    tenure: Mapped[str] = mapped_column(String(16), server_default="owned")
    provenance: Mapped[dict[str, Any]] = _provenance()


class Household(Base):
    """A household (户) living in one house, with the tier the rules give it (绿黄红) and the
    time of its latest doorstep visit."""

    __tablename__ = "households"
    __table_args__ = (
        Index("ix_households_house", "house_id"),
        Index("ix_households_tier", "tier"),
        CheckConstraint("tier IN ('green', 'yellow', 'red')", name="ck_households_tier"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    house_id: Mapped[int | None] = mapped_column(ForeignKey("houses.id", ondelete="SET NULL"))
    provenance: Mapped[dict[str, Any]] = _provenance()
    tier: Mapped[str | None] = mapped_column(String(8))
    tier_rule: Mapped[str | None] = mapped_column(String(64))
    tier_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_visit_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The due date the grid heads were last reminded of (a re-run reminds nobody twice).
    visit_reminded_on: Mapped[date | None] = mapped_column(Date)


class HouseholdVisit(Base):
    """A grid head's doorstep visit (入户走访): when and where, what was confirmed and what
    corrected. ``client_id`` (unique per user) makes a visit queued offline count once."""

    __tablename__ = "household_visits"
    __table_args__ = (
        UniqueConstraint("user_id", "client_id", name="uq_household_visits_client"),
        Index("ix_household_visits_household", "household_id", "visited_at"),
        Index("ix_household_visits_grid", "grid_code", "visited_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    grid_code: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"))
    client_id: Mapped[str] = mapped_column(String(64))
    visited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    position: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False)
    )
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    # ["person:12:name", "tag:12:allowance", "house:5:use"] and
    # [{"entity", "id", "field", "old", "new"}, ...] (gridgov/register/doorstep.py);
    # superseded: corrections not written because the register's value was observed after
    # the visit, [{"entity", "id", "field", "new", "source", "observed_at"}, ...]
    confirmed: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    corrected: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    superseded: Mapped[list[Any]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    note: Mapped[str] = mapped_column(Text, server_default="")


class PatrolPosition(Base):
    """A position a grid head's patrol tracker sent (kept ``patrol_trace_days``)."""

    __tablename__ = "patrol_positions"
    __table_args__ = (
        UniqueConstraint("tracker_id", "at", name="uq_patrol_positions_time"),
        Index("ix_patrol_positions_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tracker_id: Mapped[int] = mapped_column(Integer, ForeignKey("trackers.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)


class PatrolPass(Base):
    """A house or enterprise a grid head's patrol passed, once per place and local day."""

    __tablename__ = "patrol_passes"
    __table_args__ = (
        CheckConstraint("entity IN ('house', 'enterprise')", name="ck_patrol_passes_entity"),
        UniqueConstraint(
            "user_id", "entity", "entity_id", "passed_on", name="uq_patrol_passes_daily"
        ),
        Index("ix_patrol_passes_grid", "grid_code", "passed_on"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"))
    tracker_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("trackers.id", ondelete="SET NULL")
    )
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    grid_code: Mapped[str | None] = mapped_column(String(32))
    passed_on: Mapped[date] = mapped_column(Date)
    passed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    distance_m: Mapped[float] = mapped_column(Float)


class Person(Base):
    """A resident (人). Removing one (``removed_at``) clears every personal field and keeps
    sex, birth year, household and tags, which the aggregates count."""

    __tablename__ = "people"
    __table_args__ = (
        Index("ix_people_household", "household_id"),
        Index("ix_people_name_birth", "name", "birth_date"),
        CheckConstraint("sex IN ('male', 'female')", name="ck_people_sex"),
        CheckConstraint(
            "relation IN ('head', 'spouse', 'child', 'parent', 'grandchild', 'other')",
            name="ck_people_relation",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(100))
    id_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
    id_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    sex: Mapped[str | None] = mapped_column(String(8))
    birth_date: Mapped[date | None] = mapped_column(Date)
    phone_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL")
    )
    relation: Mapped[str | None] = mapped_column(String(16))
    # The address a department gives for someone the register has not housed yet.
    address: Mapped[str | None] = mapped_column(String(300))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    provenance: Mapped[dict[str, Any]] = _provenance()


class PersonTag(Base):
    """A tag a person carries (低保, disability ...), with its details, source and validity."""

    __tablename__ = "person_tags"
    __table_args__ = (
        UniqueConstraint("person_id", "tag", name="uq_person_tags"),
        Index("ix_person_tags_tag", "tag"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[int | None] = mapped_column(
        ForeignKey("register_batches.id", ondelete="SET NULL")
    )
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Enterprise(Placed, Base):
    """An enterprise or shop (企) by its unified social credit code."""

    __tablename__ = "enterprises"
    __table_args__ = (
        Index("ix_enterprises_grid", "grid_code"),
        Index("ix_enterprises_position", "position", postgresql_using="gist"),
        CheckConstraint(
            "risk_class IN ('low', 'normal', 'elevated', 'high')", name="ck_enterprises_risk"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), server_default="")
    industry: Mapped[str | None] = mapped_column(String(32))
    risk_class: Mapped[str | None] = mapped_column(String(16))
    contact: Mapped[str | None] = mapped_column(String(100))
    phone_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    provenance: Mapped[dict[str, Any]] = _provenance()


class Thing(Placed, Base):
    """A registered facility (物): hydrant, camera, AED, manhole, charging pile."""

    __tablename__ = "things"
    __table_args__ = (
        Index("ix_things_grid", "grid_code"),
        Index("ix_things_position", "position", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200), server_default="")
    provenance: Mapped[dict[str, Any]] = _provenance()


class RegisterBatch(Base):
    """One committed import: who brought which file from which source, and its counts."""

    __tablename__ = "register_batches"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The date the department drew its list: newer than a visit's confirmation, it wins.
    as_of: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    undone_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class RegisterChange(Base):
    """One field a batch wrote (old -> new), or a row it created (``field`` = ``*``).

    Protected values are kept sealed (base64 of the ciphertext), never in clear."""

    __tablename__ = "register_changes"
    __table_args__ = (Index("ix_register_changes_batch", "batch_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("register_batches.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    field: Mapped[str] = mapped_column(String(64))
    old: Mapped[Any] = mapped_column(JSONB, nullable=True)
    new: Mapped[Any] = mapped_column(JSONB, nullable=True)
    old_provenance: Mapped[Any] = mapped_column(JSONB, nullable=True)


class RegisterConflict(Base):
    """A department's value for a field a grid head confirmed more recently: kept for the
    grid head to settle, never written over the confirmed value."""

    __tablename__ = "register_conflicts"
    __table_args__ = (
        Index(
            "ix_register_conflicts_open",
            "entity",
            "entity_id",
            postgresql_where=text("settled_at IS NULL"),
        ),
        CheckConstraint("status IN ('open', 'kept', 'taken')", name="ck_register_conflicts"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("register_batches.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    field: Mapped[str] = mapped_column(String(64))
    current: Mapped[Any] = mapped_column(JSONB, nullable=True)
    proposed: Mapped[Any] = mapped_column(JSONB, nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(8), server_default="open")
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class RegisterAccess(Base):
    """One read of a person's record: who, when, which record, what was shown, and why."""

    __tablename__ = "register_access_log"
    __table_args__ = (
        Index("ix_register_access_person", "person_id"),
        Index("ix_register_access_user", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"))
    person_id: Mapped[int] = mapped_column(BigInteger)  # kept after the person is removed
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    reason: Mapped[str] = mapped_column(Text)
    shown: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
