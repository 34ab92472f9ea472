"""Bring in the incidents a city already has (a hotline, a previous system): original times,
department and place, written as history. History sends no notifications, escalates nothing
and is never flagged as a duplicate, so evaluation and trends start with the years before.

Each row becomes one incident and the audit rows its times imply (report, dispatch, accept,
resolve, close), with the deadline computed from the original dispatch time, so the
four-quadrant evaluation reads history exactly as it reads live work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridgov.boundaries.classify import classify_points
from gridgov.boundaries.index import GridIndex
from gridgov.boundaries.levels import Level
from gridgov.db.copy import copy_rows
from gridgov.departments.models import Department
from gridgov.i18n import Message
from gridgov.incidents.models import Incident
from gridgov.responsibilities.models import Category
from gridgov.responsibilities.routing import Rule, pick_rule
from gridgov.responsibilities.service import route, rules_for
from gridgov.tables import RowProblem, RowsRefused, parse_local_time, parse_number, read_table

SOURCE = "history"
HEADERS = {
    "原编号": "external_id",
    "工单编号": "external_id",
    "编号": "external_id",
    "类别编码": "category",
    "事件类别": "category",
    "category_code": "category",
    "描述": "description",
    "事件描述": "description",
    "经度": "lon",
    "纬度": "lat",
    "上报时间": "reported_at",
    "派遣时间": "dispatched_at",
    "受理时间": "accepted_at",
    "办结时间": "resolved_at",
    "结案时间": "closed_at",
    "处置部门": "department",
    "部门编码": "department",
    "满意度": "rating",
}
REQUIRED = ("external_id", "category", "lon", "lat", "reported_at")
# The times of a life cycle, in the order they must come.
TIMES = ("reported_at", "dispatched_at", "accepted_at", "resolved_at", "closed_at")
STATUS_AFTER = {
    "reported_at": "reported",
    "dispatched_at": "dispatched",
    "accepted_at": "accepted",
    "resolved_at": "resolved",
    "closed_at": "closed",
}
ACTION_AT = {
    "reported_at": "report",
    "dispatched_at": "dispatch",
    "accepted_at": "accept",
    "resolved_at": "resolve",
    "closed_at": "close",
}


@dataclass(frozen=True)
class HistoryImport:
    """What a history file held: incidents written (or that would be, in a dry run), rows
    already imported by an earlier run (skipped), and rows outside every grid (refused)."""

    imported: int
    already_imported: int


@dataclass
class _Row:
    number: int
    external_id: str
    category: str
    description: str
    times: dict[str, datetime]
    department: str
    rating: int | None
    lon: float
    lat: float


def read_history_file(path: Path | str) -> list[dict[str, str]]:
    """The rows of a history file (CSV in UTF-8 or GBK, or .xlsx), headers normalised."""
    table = read_table(path, HEADERS)
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        found = ", ".join(str(c) for c in table.columns)
        raise RowsRefused(
            [RowProblem(1, c, Message("history.missing_column", {"found": found})) for c in missing]
        )
    return [{str(k): str(v).strip() for k, v in r.items()} for r in table.to_dict("records")]


def import_history(
    session: Session,
    *,
    rows: list[dict[str, str]],
    index: GridIndex,
    timezone: tzinfo,
    now: datetime,
) -> HistoryImport:
    """Check every row, then write them all (or nothing: RowsRefused lists every problem).
    Rows whose external id an earlier import brought in are skipped, so a re-run is safe."""
    categories = {
        code: parent
        for code, parent in session.execute(select(Category.code, Category.parent_code))
    }
    departments = {d.code: d for d in session.scalars(select(Department))}
    problems: list[RowProblem] = []
    parsed = [
        _parse(n, r, categories, departments, timezone, now, problems) for n, r in _numbered(rows)
    ]
    keys = [f"{SOURCE}:{r.external_id}" for r in parsed if r is not None]
    done = set(
        session.scalars(
            select(Incident.idempotency_key).where(
                Incident.source == SOURCE, Incident.idempotency_key.in_(keys)
            )
        )
    )
    todo = [r for r in parsed if r is not None and f"{SOURCE}:{r.external_id}" not in done]
    places = classify_points(
        session, index=index, lons=[r.lon for r in todo], lats=[r.lat for r in todo]
    )
    outside = places["grid_code"].isna().to_numpy() if len(todo) else np.array([], dtype=bool)
    for row, out in zip(todo, outside, strict=True):
        if out:
            problems.append(RowProblem(row.number, "lon", Message("locate.reason.outside")))
    if problems:
        problems.sort(key=lambda p: p.row)
        raise RowsRefused(problems)
    routing = _Routing(session, departments)
    incidents = [
        _incident(row, place, index.generation_id, routing, now)
        for row, place in zip(todo, places.to_dict("records"), strict=True)
    ]
    session.add_all(incidents)
    session.flush()
    _copy_events(session, [e for r, i in zip(todo, incidents, strict=True) for e in _events(r, i)])
    # A bulk load leaves the planner's statistics behind: without them the evaluation's
    # semi-join over the audit log became a nested loop of sequential scans (minutes).
    session.execute(text("ANALYZE incidents"))
    session.execute(text("ANALYZE incident_events"))
    return HistoryImport(imported=len(incidents), already_imported=len(rows) - len(todo))


def _numbered(rows: list[dict[str, str]]) -> list[tuple[int, dict[str, str]]]:
    return [(n, row) for n, row in enumerate(rows, start=2)]


def _parse(
    number: int,
    row: dict[str, str],
    categories: dict[str, str | None],
    departments: dict[str, Department],
    timezone: tzinfo,
    now: datetime,
    problems: list[RowProblem],
) -> _Row | None:
    found: list[RowProblem] = []
    external_id = row.get("external_id", "")
    if not external_id or len(external_id) > 80:
        found.append(RowProblem(number, "external_id", Message("history.bad_id", {"limit": 80})))
    category = row.get("category", "")
    if category not in categories:
        found.append(
            RowProblem(number, "category", Message("history.unknown_category", {"code": category}))
        )
    elif categories[category] is None:
        found.append(
            RowProblem(number, "category", Message("history.major_class", {"code": category}))
        )
    department = row.get("department", "")
    if department and department not in departments:
        found.append(
            RowProblem(number, "department", Message("history.no_department", {"code": department}))
        )
    lon, lat = parse_number(row.get("lon")), parse_number(row.get("lat"))
    if lon is None or lat is None or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        found.append(
            RowProblem(
                number,
                "lon",
                Message("history.no_position", {"lon": row.get("lon"), "lat": row.get("lat")}),
            )
        )
    times = _times(number, row, timezone, now, found)
    rating = None
    if row.get("rating"):
        value = parse_number(row["rating"])
        if value is None or not value.is_integer() or not 1 <= value <= 5:
            found.append(
                RowProblem(
                    number, "rating", Message("history.bad_rating", {"value": row["rating"]})
                )
            )
        else:
            rating = int(value)
    if rating is not None and "closed_at" not in times:
        found.append(RowProblem(number, "rating", Message("history.rating_needs_closed")))
    problems.extend(found)
    if found or lon is None or lat is None:
        return None
    return _Row(
        number, external_id, category, row.get("description", ""), times, department, rating,
        lon, lat,
    )  # fmt: skip


def _times(
    number: int, row: dict[str, str], timezone: tzinfo, now: datetime, found: list[RowProblem]
) -> dict[str, datetime]:
    """The row's times, each after the one before it, none in the future."""
    times: dict[str, datetime] = {}
    for column in TIMES:
        text = row.get(column, "")
        if not text:
            continue
        at = parse_local_time(text, timezone)
        if at is None:
            found.append(RowProblem(number, column, Message("history.no_time", {"value": text})))
        elif at > now:
            found.append(RowProblem(number, column, Message("history.future", {"value": text})))
        else:
            times[column] = at
    stages = [c for c in TIMES if c in times]
    for before, after in pairwise(stages):
        if times[after] < times[before]:
            found.append(RowProblem(number, after, Message("history.before", {"earlier": before})))
    if stages and stages[0] != "reported_at":
        found.append(RowProblem(number, "reported_at", Message("history.empty")))
    for gap, later in pairwise(TIMES):
        if later in times and gap not in times and gap != "reported_at":
            found.append(RowProblem(number, gap, Message("history.gap", {"later": later})))
    return times


class _Routing:
    """Department, level and SLA for each incident: the department the file names (at its
    own level), else the one the responsibility list names; rules read once per category."""

    def __init__(self, session: Session, departments: dict[str, Department]) -> None:
        self.session = session
        self.departments = departments
        self.rules: dict[str, list[Rule]] = {}
        self.known: dict[tuple[str, str, str], tuple[str, Level, float] | None] = {}

    def assign(
        self, category: str, chain: dict[Level, str], department: str
    ) -> tuple[str, Level, float] | None:
        key = (category, "/".join(chain.values()), department)
        if key not in self.known:
            self.known[key] = self._assign(category, chain, department)
        return self.known[key]

    def _assign(
        self, category: str, chain: dict[Level, str], department: str
    ) -> tuple[str, Level, float] | None:
        if category not in self.rules:
            self.rules[category] = rules_for(self.session, category_code=category)
        routed = route(self.session, category_code=category, chain=chain)
        if not department:
            if routed is None:
                return None
            assignment, found = routed
            return found.code, assignment.level, assignment.sla_hours
        level = Level(self.departments[department].level)
        rule = pick_rule(self.rules[category], category_code=category, level=level, chain=chain)
        sla = rule.sla_hours if rule else (routed[0].sla_hours if routed else None)
        return (department, level, sla) if sla is not None else None


def _incident(
    row: _Row, place: dict[str, Any], generation_id: int, routing: _Routing, now: datetime
) -> Incident:
    codes = {
        Level.CITY: place["city_code"],
        Level.DISTRICT: place["district_code"],
        Level.STREET: place["street_code"],
        Level.COMMUNITY: place["community_code"],
    }
    chain = {level: code for level, code in codes.items() if code is not None}
    times = row.times
    stages = [c for c in TIMES if c in times]
    assigned = (
        routing.assign(row.category, chain, row.department) if "dispatched_at" in times else None
    )
    deadline = (
        times["dispatched_at"] + timedelta(hours=assigned[2]) if assigned is not None else None
    )
    return Incident(
        status=STATUS_AFTER[stages[-1]],
        level=assigned[1].value if assigned else None,
        category_code=row.category,
        description=row.description,
        position=from_shape(Point(row.lon, row.lat), srid=4326),
        generation_id=generation_id,
        grid_code=place["grid_code"],
        community_code=place["community_code"],
        street_code=place["street_code"],
        district_code=place["district_code"],
        city_code=place["city_code"],
        department_code=assigned[0] if assigned else None,
        source=SOURCE,
        idempotency_key=f"{SOURCE}:{row.external_id}",
        reported_at=times["reported_at"],
        deadline_at=deadline,
        accepted_at=times.get("accepted_at"),
        resolved_at=times.get("resolved_at"),
        closed_at=times.get("closed_at"),
        updated_at=times[stages[-1]],
        rating=row.rating,
    )


EVENT_COLUMNS = ("incident_id", "at", "actor_id", "action", "from_status", "to_status", "level",
                 "department_code", "note", "details")  # fmt: skip


def _copy_events(session: Session, events: list[dict[str, Any]]) -> None:
    """Audit rows by COPY: a history of years is hundreds of thousands of rows."""
    rows = ([event[c] for c in EVENT_COLUMNS] for event in events)
    copy_rows(session, "incident_events", EVENT_COLUMNS, rows, json_columns=("details",))


def _events(row: _Row, incident: Incident) -> list[dict[str, Any]]:
    """The audit rows the times imply, as the live actions would have written them."""
    events = []
    before: str | None = None
    for column in (c for c in TIMES if c in row.times):
        status = STATUS_AFTER[column]
        details: dict[str, Any] = {"imported": True, "external_id": row.external_id}
        if column == "dispatched_at" and incident.deadline_at is not None:
            details["deadline"] = incident.deadline_at.isoformat()
        if column == "resolved_at":
            deadline = incident.deadline_at
            details["within_sla"] = deadline is None or row.times[column] <= deadline
        if column == "closed_at":
            details["rating"] = row.rating
        events.append(
            {
                "incident_id": incident.id,
                "at": row.times[column],
                "actor_id": None,
                "action": ACTION_AT[column],
                "from_status": before,
                "to_status": status,
                "level": incident.level if column != "reported_at" else None,
                "department_code": incident.department_code if column != "reported_at" else None,
                "note": "",
                "details": details,
            }
        )
        before = status
    return events
