"""Load and query departments."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.boundaries.levels import AREA_LEVELS
from gridgov.boundaries.models import Area
from gridgov.db import upsert
from gridgov.departments.models import Department
from gridgov.errors import Refusal
from gridgov.i18n import Message
from gridgov.tables import Column, TableError, read_reference_table

COLUMNS = (
    Column("code", 32, headers=("编码", "部门编码")),
    Column("name", 200, headers=("名称", "部门名称")),
    Column("level", 16, headers=("层级",)),
    Column("area_code", 32, headers=("区域编码", "辖区编码")),
    Column("role", 16, required=False, headers=("角色", "职能")),
)


class DepartmentFileError(Refusal):
    """A department file with bad rows: the message lists each (row, field, reason)."""


def read_departments_csv(path: Path | str) -> list[dict[str, str]]:
    """Read and validate a departments file (code, name, level, area_code, role)."""
    try:
        rows = read_reference_table(path, COLUMNS)
    except TableError as exc:
        raise DepartmentFileError(exc.key, **exc.params) from exc
    levels = {level.value for level in AREA_LEVELS}
    problems = [
        Message(
            "department.bad_level",
            {"row": line, "value": row["level"], "levels": ", ".join(sorted(levels))},
        )
        for line, row in enumerate(rows, start=2)
        if row["level"] not in levels
    ]
    if problems:
        raise DepartmentFileError("table.bad_rows", path=path, problems=problems)
    return rows


def check_department_areas(session: Session, *, rows: list[dict[str, str]]) -> list[Message]:
    """Rows whose area code no boundary generation knows (typing mistakes, another city)."""
    codes = {row["area_code"] for row in rows}
    known = set(session.scalars(select(Area.code).where(Area.code.in_(codes)).distinct()))
    return [
        Message("department.unknown_area", {"row": line, "code": row["area_code"]})
        for line, row in enumerate(rows, start=2)
        if row["area_code"] not in known
    ]


def upsert_departments(session: Session, *, rows: list[dict[str, str]]) -> int:
    """Insert departments, updating name, level and area of codes that already exist."""
    records = [{**row, "role": row.get("role") or None} for row in rows]
    return upsert(session, Department, records, keys=["code"])


LEVEL_ORDER = {level.value: n for n, level in enumerate(reversed(AREA_LEVELS))}


def list_departments(session: Session, *, area_codes: Sequence[str] = ()) -> list[Department]:
    """Departments, optionally only those serving these areas; nearest level first
    (community, street, district, city), then by code."""
    query = select(Department)
    if area_codes:
        query = query.where(Department.area_code.in_(area_codes))
    found = session.scalars(query)
    return sorted(found, key=lambda d: (LEVEL_ORDER.get(d.level, len(LEVEL_ORDER)), d.code))
