"""The catalogue a process keeps in memory: categories, departments and responsibility rules.

Answers and routing read names and rules from here instead of the database. A process
reloads it when the catalogue's version (``cache_versions``, bumped by a trigger on every
write to those tables) has moved; see ``gridgov.cache.GridIndexCache``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.boundaries.levels import Level
from gridgov.departments.models import Department
from gridgov.responsibilities.models import Category, ResponsibilityRule
from gridgov.responsibilities.routing import Assignment, Rule, assignment_from


@dataclass(frozen=True)
class CategoryName:
    """A category as answers name it."""

    code: str
    parent_code: str | None
    name_zh: str
    name_en: str
    urgent: bool

    def name(self, lang: str) -> str:
        """The name in ``lang`` (en, else Chinese)."""
        return self.name_en if lang == "en" else self.name_zh


@dataclass(frozen=True)
class DepartmentRef:
    """A department as routing and answers need it."""

    code: str
    name: str
    level: str
    area_code: str
    role: str | None


@dataclass(frozen=True)
class Catalogue:
    """One version of the catalogue, read once and shared by every request of a process."""

    version: int | None
    categories: Mapping[str, CategoryName]
    departments: Mapping[str, DepartmentRef]
    rules: Mapping[str, tuple[Rule, ...]]  # category code -> its rules
    by_role: Mapping[tuple[str, str, str], DepartmentRef] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, *, version: int | None = None) -> Catalogue:
        """Read the three tables (three statements)."""
        categories = {
            c.code: CategoryName(c.code, c.parent_code, c.name_zh, c.name_en, bool(c.urgent))
            for c in session.scalars(select(Category))
        }
        departments = {
            d.code: DepartmentRef(d.code, d.name, d.level, d.area_code, d.role)
            for d in session.scalars(select(Department))
        }
        rules: dict[str, list[Rule]] = {}
        for r in session.scalars(select(ResponsibilityRule).order_by(ResponsibilityRule.id)):
            rules.setdefault(r.category_code, []).append(
                Rule(r.category_code, Level(r.level), r.area_code, r.department, r.sla_hours)
            )
        by_role: dict[tuple[str, str, str], DepartmentRef] = {}
        for d in sorted(departments.values(), key=lambda d: d.code):
            if d.role:
                by_role.setdefault((d.role, d.level, d.area_code), d)
        return cls(
            version=version,
            categories=categories,
            departments=departments,
            rules={code: tuple(found) for code, found in rules.items()},
            by_role=by_role,
        )

    def department_name(self, code: str | None) -> str | None:
        """The name of a department by code (None when unknown)."""
        department = self.departments.get(code or "")
        return department.name if department else None

    def resolve(self, assignment: Assignment) -> DepartmentRef | None:
        """The department an assignment names: by full code, or by role for its area."""
        return self.departments.get(assignment.department) or self.by_role.get(
            (assignment.department, assignment.level.value, assignment.area_code)
        )

    def route(
        self, *, category_code: str, chain: Mapping[Level, str], above: Level | None = None
    ) -> tuple[Assignment, DepartmentRef] | None:
        """What ``responsibilities.service.route`` decides, from memory."""
        rules = self.rules.get(category_code, ())
        while True:
            assignment = assignment_from(
                rules, category_code=category_code, chain=chain, above=above
            )
            if assignment is None:
                return None
            department = self.resolve(assignment)
            if department is not None:
                return assignment, department
            above = assignment.level  # validated lists never get here; skip a dangling rule
