"""Load categories, import and validate the responsibility list, and route by it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.levels import Level
from gridgov.boundaries.models import Area
from gridgov.db import upsert
from gridgov.departments.models import Department
from gridgov.i18n import Message
from gridgov.responsibilities.models import Category, ResponsibilityRule
from gridgov.responsibilities.routing import ESCALATION_LEVELS, Assignment, Rule, assignment_from
from gridgov.tables import Column, TableError, line_problem, read_reference_table, read_table

# Headers as cities keep them (Chinese) or as gridgov writes them (English).
HEADERS = {
    "category_code": "category_code",
    "事项编码": "category_code",
    "类别编码": "category_code",
    "level": "level",
    "层级": "level",
    "area_code": "area_code",
    "区域编码": "area_code",
    "department": "department",
    "责任部门": "department",
    "sla_hours": "sla_hours",
    "时限（小时）": "sla_hours",
    "时限(小时)": "sla_hours",
}
LEVEL_NAMES = {
    "community": Level.COMMUNITY, "社区": Level.COMMUNITY, "村": Level.COMMUNITY,
    "street": Level.STREET, "街道": Level.STREET, "乡镇": Level.STREET,
    "district": Level.DISTRICT, "区": Level.DISTRICT, "县": Level.DISTRICT, "区县": Level.DISTRICT,
    "city": Level.CITY, "市": Level.CITY,
}  # fmt: skip
REQUIRED = ("category_code", "level", "department", "sla_hours")


@dataclass(frozen=True)
class Problem:
    """One reason a responsibility list is refused: which row, which field, why."""

    line: int | None
    field: str
    reason: str | Message

    def say(self, lang: str = "zh") -> str:
        """The problem in ``lang``: ``第 3 行：level：未知层级 'town'``."""
        return line_problem(lang, self.line, self.field, self.reason)

    def __str__(self) -> str:
        return self.say("en")


class ResponsibilityListError(ValueError):
    """The list has problems; nothing was written. ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


CATEGORY_COLUMNS = (
    Column("code", 16, headers=("编码", "类别编码")),
    Column("parent_code", 16, required=False, headers=("上级编码", "大类编码")),
    Column("name_zh", 100, headers=("名称", "中文名称")),
    Column("name_en", 200, headers=("英文名称",)),
    Column("urgent", 8, required=False, headers=("紧急",)),
)
_YES, _NO = ("true", "1", "yes", "是"), ("", "false", "0", "no", "否")


def load_categories(session: Session, *, path: Path) -> int:
    """Insert or update the category catalogue from a file (code, parent_code, name_zh,
    name_en, urgent); a parent must be in the file or the catalogue already."""
    rows = read_reference_table(path, CATEGORY_COLUMNS)
    known = {r["code"] for r in rows} | set(session.scalars(select(Category.code)))
    problems = []
    for line, row in enumerate(rows, start=2):
        if row["parent_code"] and row["parent_code"] not in known:
            problems.append(
                Message("category.unknown_parent", {"row": line, "code": row["parent_code"]})
            )
        if row["urgent"].lower() not in (*_YES, *_NO):
            problems.append(Message("category.bad_urgent", {"row": line, "value": row["urgent"]}))
    if problems:
        raise TableError("table.bad_rows", path=path, problems=problems)
    records = [
        {**row, "parent_code": row["parent_code"] or None, "urgent": row["urgent"].lower() in _YES}
        for row in rows
    ]
    # Major classes first, so that sub-classes find their parent.
    records.sort(key=lambda r: (r["parent_code"] is not None, r["code"]))
    return upsert(session, Category, records, keys=["code"])


def read_responsibility_file(path: Path | str) -> list[dict[str, object]]:
    """Rows of a CSV or spreadsheet (.xlsx) with English or Chinese headers."""
    try:
        table = read_table(path, HEADERS)
    except TableError as exc:
        raise ResponsibilityListError(
            [Problem(None, "file", Message(exc.key, exc.params))]
        ) from exc
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise ResponsibilityListError(
            [Problem(None, c, Message("responsibility.missing_column")) for c in missing]
        )
    if "area_code" not in table.columns:
        table["area_code"] = ""
    return [
        {k: str(v).strip() for k, v in row.items() if k in (*REQUIRED, "area_code")}
        for row in table.to_dict("records")
    ]


@dataclass
class _Catalogue:
    """What a responsibility list is checked against."""

    categories: dict[str, Category]
    departments: dict[str, Department]
    areas: dict[str, Area]
    served: dict[tuple[str, str], set[str]]  # (level, role) -> area codes with such a department

    @classmethod
    def load(cls, session: Session) -> _Catalogue:
        generation = active_generation(session)
        areas = (
            session.scalars(select(Area).where(Area.generation_id == generation.id)).all()
            if generation
            else []
        )
        departments = session.scalars(select(Department)).all()
        served: dict[tuple[str, str], set[str]] = {}
        for d in departments:
            if d.role:
                served.setdefault((d.level, d.role), set()).add(d.area_code)
        return cls(
            categories={c.code: c for c in session.scalars(select(Category))},
            departments={d.code: d for d in departments},
            areas={a.code: a for a in areas},
            served=served,
        )

    @property
    def leaves(self) -> set[str]:
        return {code for code, c in self.categories.items() if c.parent_code is not None}

    def within(self, area: Area, ancestor_code: str) -> bool:
        by_id = {a.id: a for a in self.areas.values()}
        current: Area | None = area
        while current is not None:
            if current.code == ancestor_code:
                return True
            current = by_id.get(current.parent_id) if current.parent_id is not None else None
        return False


def validate_rules(session: Session, rows: list[dict[str, object]]) -> list[Rule]:
    """Turn rows into rules, or raise with every problem (lines count the header as 1)."""
    catalogue = _Catalogue.load(session)
    problems: list[Problem] = []
    rules: list[Rule] = []
    for line, row in enumerate(rows, start=2):
        rule = _rule_from_row(catalogue, line, row, problems)
        if rule is not None:
            rules.append(rule)
    keys = Counter((r.category_code, r.level.value, r.area_code or "*") for r in rules)
    for (category, level, area), count in sorted(keys.items()):
        if count > 1:
            problems.append(
                Problem(
                    None,
                    "rule",
                    Message(
                        "responsibility.rule_twice",
                        {"category": category, "level": level, "area": area, "count": count},
                    ),
                )
            )
    covered = {r.category_code for r in rules if r.level is Level.CITY and r.area_code is None}
    for code in sorted(catalogue.leaves - covered):
        problems.append(
            Problem(
                None,
                "level",
                Message("responsibility.no_city_rule", {"code": code}),
            )
        )
    if problems:
        raise ResponsibilityListError(problems)
    return rules


def _rule_from_row(
    catalogue: _Catalogue, line: int, row: dict[str, object], problems: list[Problem]
) -> Rule | None:
    found: list[Problem] = []
    category = str(row.get("category_code", ""))
    if category not in catalogue.categories:
        found.append(
            Problem(
                line,
                "category_code",
                Message("responsibility.unknown_category", {"code": category}),
            )
        )
    elif category not in catalogue.leaves:
        found.append(
            Problem(
                line, "category_code", Message("responsibility.major_class", {"code": category})
            )
        )
    level = LEVEL_NAMES.get(str(row.get("level", "")).strip().lower())
    if level is None:
        found.append(
            Problem(
                line, "level", Message("responsibility.unknown_level", {"value": row.get("level")})
            )
        )
    area_code = str(row.get("area_code") or "") or None
    if area_code is not None:
        found += _area_problems(catalogue, line, area_code, level)
    sla = _positive_hours(row.get("sla_hours"))
    if sla is None:
        found.append(
            Problem(
                line,
                "sla_hours",
                Message("responsibility.bad_sla", {"value": row.get("sla_hours")}),
            )
        )
    department = str(row.get("department", ""))
    if not department:
        found.append(Problem(line, "department", Message("responsibility.empty")))
    elif level is not None:
        found += _department_problems(catalogue, line, department, level, area_code)
    problems += found
    if found or level is None or sla is None:
        return None
    return Rule(category, level, area_code, department, sla)


def _area_problems(
    catalogue: _Catalogue, line: int, area_code: str, level: Level | None
) -> list[Problem]:
    area = catalogue.areas.get(area_code)
    if area is None:
        return [Problem(line, "area_code", Message("responsibility.no_area", {"code": area_code}))]
    order = ESCALATION_LEVELS.index
    if level is not None and order(Level(area.level)) < order(level):
        return [
            Problem(
                line,
                "area_code",
                Message(
                    "responsibility.area_below",
                    {
                        "code": area_code,
                        "area_level": Message(f"level.{area.level}"),
                        "level": Message(f"level.{level.value}"),
                    },
                ),
            )
        ]
    return []


def _department_problems(
    catalogue: _Catalogue, line: int, department: str, level: Level, area_code: str | None
) -> list[Problem]:
    if department in catalogue.departments:
        return []
    served = catalogue.served.get((level.value, department))
    if not served:
        return [
            Problem(
                line,
                "department",
                Message(
                    "responsibility.no_role",
                    {"department": department, "level": Message(f"level.{level.value}")},
                ),
            )
        ]
    missing = sorted(
        a.code
        for a in catalogue.areas.values()
        if a.level == level.value
        and (area_code is None or catalogue.within(a, area_code))
        and a.code not in served
    )
    if not missing:
        return []
    shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
    return [
        Problem(
            line,
            "department",
            Message("responsibility.not_served", {"department": department, "areas": shown}),
        )
    ]


def _positive_hours(value: object) -> float | None:
    try:
        hours = float(str(value))
    except ValueError:
        return None
    return hours if hours > 0 else None


def replace_rules(session: Session, *, rules: list[Rule]) -> int:
    """Make ``rules`` the whole responsibility list (in the caller's transaction)."""
    session.execute(delete(ResponsibilityRule))
    session.add_all(
        ResponsibilityRule(
            category_code=r.category_code,
            level=r.level.value,
            area_code=r.area_code,
            department=r.department,
            sla_hours=r.sla_hours,
        )
        for r in rules
    )
    session.flush()
    return len(rules)


def rules_for(session: Session, *, category_code: str) -> list[Rule]:
    """Every rule of one category."""
    rows = session.scalars(
        select(ResponsibilityRule).where(ResponsibilityRule.category_code == category_code)
    )
    return [
        Rule(r.category_code, Level(r.level), r.area_code, r.department, r.sla_hours) for r in rows
    ]


def resolve_department(session: Session, *, assignment: Assignment) -> Department | None:
    """The department row an assignment names (by full code, or by role for its area)."""
    by_code = session.scalar(select(Department).where(Department.code == assignment.department))
    if by_code is not None:
        return by_code
    return session.scalar(
        select(Department).where(
            Department.role == assignment.department,
            Department.level == assignment.level.value,
            Department.area_code == assignment.area_code,
        )
    )


def route(
    session: Session, *, category_code: str, chain: Mapping[Level, str], above: Level | None = None
) -> tuple[Assignment, Department] | None:
    """The assignment and department for an incident, from the community up (or above a level)."""
    rules = rules_for(session, category_code=category_code)
    while True:
        assignment = assignment_from(rules, category_code=category_code, chain=chain, above=above)
        if assignment is None:
            return None
        department = resolve_department(session, assignment=assignment)
        if department is not None:
            return assignment, department
        above = assignment.level  # validated lists never get here; skip a dangling rule
