"""Tables: boundary generations, administrative areas and grids."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridgov.db import Base

SRID = 4326


class Generation(Base):
    """One complete set of boundaries; exactly one generation is active at a time."""

    __tablename__ = "boundary_generations"
    __table_args__ = (
        Index(
            "uq_boundary_generations_one_active",
            "is_active",
            unique=True,
            postgresql_where=text("is_active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class Area(Base):
    """A city, district, street or community in one generation."""

    __tablename__ = "areas"
    __table_args__ = (
        UniqueConstraint("generation_id", "code", name="uq_areas_generation_code"),
        CheckConstraint(
            "level IN ('city', 'district', 'street', 'community')", name="ck_areas_level"
        ),
        Index("ix_areas_geom", "geom", postgresql_using="gist"),
        Index("ix_areas_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation_id: Mapped[int] = mapped_column(
        ForeignKey("boundary_generations.id", ondelete="CASCADE")
    )
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False)
    )

    parent: Mapped[Area | None] = relationship(remote_side=[id])


class Grid(Base):
    """A grid (网格): the smallest unit, tiling its community (or the street or district a city
    without communities puts it under), with one grid head."""

    __tablename__ = "grids"
    __table_args__ = (
        UniqueConstraint("generation_id", "code", name="uq_grids_generation_code"),
        Index("ix_grids_geom", "geom", postgresql_using="gist"),
        Index("ix_grids_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation_id: Mapped[int] = mapped_column(
        ForeignKey("boundary_generations.id", ondelete="CASCADE")
    )
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    # The area directly above: a community, or a street or district in a city without them.
    parent_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"))
    grid_head_name: Mapped[str | None] = mapped_column(String(100))
    grid_head_phone: Mapped[str | None] = mapped_column(String(32))
    households: Mapped[int | None] = mapped_column(Integer)
    population: Mapped[int | None] = mapped_column(Integer)
    geom: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False)
    )

    parent: Mapped[Area] = relationship()
