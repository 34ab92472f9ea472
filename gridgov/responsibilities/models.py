"""Tables: incident categories and responsibility rules."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.db import Base


class Category(Base):
    """An incident category: a major class (parent_code NULL) or one of its sub-classes."""

    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("categories.code"))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))
    urgent: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class ResponsibilityRule(Base):
    """(category, level, optional area) -> department and SLA; the most specific rule wins.

    ``department`` is a department role (e.g. ``ZF``: the department of that role serving
    the incident's area at ``level``) or one department's full code.
    """

    __tablename__ = "responsibility_rules"
    __table_args__ = (
        CheckConstraint(
            "level IN ('community', 'street', 'district', 'city')",
            name="ck_responsibility_rules_level",
        ),
        CheckConstraint("sla_hours > 0", name="ck_responsibility_rules_sla"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    level: Mapped[str] = mapped_column(String(16))
    area_code: Mapped[str | None] = mapped_column(String(32))
    department: Mapped[str] = mapped_column(String(32))
    sla_hours: Mapped[float] = mapped_column(Float)
