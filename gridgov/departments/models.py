"""Table: departments."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.db import Base


class Department(Base):
    """A department that handles incidents at one level for one jurisdiction.

    The jurisdiction is an area *code*, not a row: departments outlive boundary generations.
    """

    __tablename__ = "departments"
    __table_args__ = (
        CheckConstraint(
            "level IN ('city', 'district', 'street', 'community')", name="ck_departments_level"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    area_code: Mapped[str] = mapped_column(String(32))
    # The kind of department (e.g. ZF: street law enforcement), as the responsibility list names it.
    role: Mapped[str | None] = mapped_column(String(16))
