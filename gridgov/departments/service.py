"""Load and query departments."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.boundaries.levels import AREA_LEVELS
from gridgov.db import upsert
from gridgov.departments.models import Department

COLUMNS = ("code", "name", "level", "area_code")


class DepartmentFileError(ValueError):
    """A department file with bad rows: the message lists each (line, field, reason)."""


def read_departments_csv(path: Path | str) -> list[dict[str, str]]:
    """Read and validate a departments CSV (code, name, level, area_code)."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DepartmentFileError(f"{path}: missing column(s): {', '.join(missing)}")
        rows = [{c: (row.get(c) or "").strip() for c in (*COLUMNS, "role")} for row in reader]
    for row in rows:
        row["role"] = row["role"] or None
    problems = []
    seen: set[str] = set()
    levels = {level.value for level in AREA_LEVELS}
    for line, row in enumerate(rows, start=2):
        for column in COLUMNS:
            if not row[column]:
                problems.append(f"line {line}: {column} is empty")
        if row["level"] and row["level"] not in levels:
            problems.append(f"line {line}: level {row['level']!r} is not one of {sorted(levels)}")
        if row["code"] in seen:
            problems.append(f"line {line}: code {row['code']} is duplicated")
        seen.add(row["code"])
    if problems:
        raise DepartmentFileError(f"{path}: " + "; ".join(problems))
    return rows


def upsert_departments(session: Session, *, rows: list[dict[str, str]]) -> int:
    """Insert departments, updating name, level and area of codes that already exist."""
    return upsert(session, Department, rows, keys=["code"])


LEVEL_ORDER = {level.value: n for n, level in enumerate(reversed(AREA_LEVELS))}


def list_departments(session: Session, *, area_codes: Sequence[str] = ()) -> list[Department]:
    """Departments, optionally only those serving these areas; nearest level first
    (community, street, district, city), then by code."""
    query = select(Department)
    if area_codes:
        query = query.where(Department.area_code.in_(area_codes))
    found = session.scalars(query)
    return sorted(found, key=lambda d: (LEVEL_ORDER.get(d.level, len(LEVEL_ORDER)), d.code))
