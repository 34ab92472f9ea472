"""Tables: the item catalogue, stockpiles, stock lots, reservations and their audit log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geography, Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.context import current_request_id
from gridgov.db import Base


class Item(Base):
    """A kind of supply (tents, drinking water ...) and its unit."""

    __tablename__ = "items"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    unit_zh: Mapped[str] = mapped_column(String(16))
    unit_en: Mapped[str] = mapped_column(String(16))


class Stockpile(Base):
    """A place that holds supplies (储备点), with its owner and the areas it lies in."""

    __tablename__ = "stockpiles"
    __table_args__ = (Index("ix_stockpiles_position", "position", postgresql_using="gist"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    owner_department: Mapped[str] = mapped_column(String(32))
    contact_name: Mapped[str] = mapped_column(String(100), server_default="")
    contact_phone: Mapped[str] = mapped_column(String(32), server_default="")
    opening_hours: Mapped[str] = mapped_column(String(100), server_default="")
    position: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=4326, spatial_index=False))
    grid_code: Mapped[str | None] = mapped_column(String(32))
    community_code: Mapped[str | None] = mapped_column(String(32))
    street_code: Mapped[str | None] = mapped_column(String(32))
    district_code: Mapped[str | None] = mapped_column(String(32))
    city_code: Mapped[str | None] = mapped_column(String(32))


class StockLot(Base):
    """Some quantity of one item at one stockpile, with one expiry date (or none).

    ``position`` repeats the stockpile's position as geography so that one GiST index on
    (item_code, position) answers "nearest stock of this item" by KNN without a scan.
    """

    __tablename__ = "stock_lots"
    __table_args__ = (
        UniqueConstraint(
            "stockpile_id",
            "item_code",
            "expires_on",
            name="uq_stock_lots",
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint("quantity >= 0", name="ck_stock_lots_quantity"),
        CheckConstraint("reserved >= 0 AND reserved <= quantity", name="ck_stock_lots_reserved"),
        Index("ix_stock_lots_item_position", "item_code", "position", postgresql_using="gist"),
        Index("ix_stock_lots_stockpile", "stockpile_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    stockpile_id: Mapped[int] = mapped_column(ForeignKey("stockpiles.id"))
    item_code: Mapped[str] = mapped_column(ForeignKey("items.code"))
    quantity: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    expires_on: Mapped[date | None] = mapped_column(Date)
    position: Mapped[WKBElement] = mapped_column(Geography("POINT", srid=4326, spatial_index=False))


class Reservation(Base):
    """Quantities held for an incident or an emergency: reserved, then released or fulfilled."""

    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint(
            "status IN ('reserved', 'released', 'fulfilled')", name="ck_reservations_status"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    purpose: Mapped[str] = mapped_column(Text, server_default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReservationLine(Base):
    """How much of one lot a reservation holds."""

    __tablename__ = "reservation_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="ck_reservation_lines_quantity"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    reservation_id: Mapped[int] = mapped_column(ForeignKey("reservations.id"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("stock_lots.id"))
    stockpile_id: Mapped[int] = mapped_column(ForeignKey("stockpiles.id"))
    item_code: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)


class SupplyEvent(Base):
    """One step of a reservation (append-only)."""

    __tablename__ = "supply_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    reservation_id: Mapped[int] = mapped_column(ForeignKey("reservations.id"))
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    # The request (or background run) that wrote the row, from the request context.
    request_id: Mapped[str | None] = mapped_column(String(64), default=current_request_id)


class Road(Base):
    """A road segment of the network used for travel distances."""

    __tablename__ = "roads"
    __table_args__ = (Index("ix_roads_geom", "geom", postgresql_using="gist"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), server_default="")
    geom: Mapped[WKBElement] = mapped_column(Geometry("LINESTRING", srid=4326, spatial_index=False))
