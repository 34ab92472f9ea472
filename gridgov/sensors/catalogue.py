"""Import sensors (CSV) and sensor rules (CSV)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.levels import Level
from gridgov.boundaries.lookup import locate_near
from gridgov.db import upsert
from gridgov.departments.models import Department
from gridgov.geo.crs import InputCRS, to_wgs84
from gridgov.i18n import Message
from gridgov.responsibilities.models import Category
from gridgov.sensors.models import Sensor, SensorRule
from gridgov.tables import line_problem, parse_number

METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
SENSOR_COLUMNS = ("code", "name", "kind", "owner_department", "lon", "lat", "metrics")
RULE_COLUMNS = (
    "name",
    "metric",
    "condition",
    "low",
    "high",
    "max_rate_per_minute",
    "sustain_count",
    "sustain_minutes",
    "clear_minutes",
    "category_code",
)
# A rule is for every sensor of a kind (sensor_kind) or for one sensor (sensor, its code):
# exactly one of the two per row; at least one of the columns must be there.
RULE_TARGETS = ("sensor_kind", "sensor")
RULE_NUMBERS = ("low", "high", "max_rate_per_minute")
RULE_DURATIONS = {"sustain_minutes": 0.0, "clear_minutes": 0.0, "max_gap_minutes": 60.0}
# The conditions, with the thresholds each compares with.
NEEDED_BY = {
    "above": ("high",),
    "below": ("low",),
    "outside": ("low", "high"),
    "rate": ("max_rate_per_minute",),
}


@dataclass(frozen=True)
class CatalogueProblem:
    line: int
    field: str
    reason: str | Message

    def say(self, lang: str = "zh") -> str:
        """The problem in ``lang``: ``第 3 行：lon：'east' 不是数字`` (line 0: the whole file)."""
        return line_problem(lang, self.line, self.field, self.reason)

    def __str__(self) -> str:
        return self.say("en")


class CatalogueError(ValueError):
    def __init__(self, problems: list[CatalogueProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def parse_metrics(text: str) -> dict[str, str]:
    """``"dissolved_oxygen:mg/L;ph:pH"`` -> ``{"dissolved_oxygen": "mg/L", "ph": "pH"}``.

    >>> parse_metrics("dissolved_oxygen:mg/L; ph:pH")
    {'dissolved_oxygen': 'mg/L', 'ph': 'pH'}
    """
    pairs = [part.split(":", 1) for part in text.split(";") if part.strip()]
    return {name.strip(): (unit[0].strip() if unit else "") for name, *unit in pairs}


def _read(
    path: Path, columns: tuple[str, ...], *, one_of: tuple[str, ...] = ()
) -> list[dict[str, str]]:
    """The rows, stripped; every column of ``columns`` and one of ``one_of`` must be there
    (an optional column that is absent reads as blank)."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in columns if c not in header]
        if one_of and not any(c in header for c in one_of):
            missing.append(" or ".join(one_of))
        if missing:
            raise CatalogueError(
                [CatalogueProblem(1, c, Message("sensor_file.missing_column")) for c in missing]
            )
        return [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]


def _position(
    line: int, row: dict[str, str], crs: InputCRS
) -> tuple[tuple[float, float] | None, list[CatalogueProblem]]:
    """The row's (lon, lat) in WGS84, or the problems that stop it."""
    values = {name: parse_number(row[name]) for name in ("lon", "lat")}
    problems = [
        CatalogueProblem(line, name, Message("sensor_file.not_number", {"value": row[name]}))
        for name, value in values.items()
        if value is None
    ]
    lon, lat = values["lon"], values["lat"]
    if lon is not None and not -180 <= lon <= 180:
        problems.append(
            CatalogueProblem(
                line,
                "lon",
                Message("sensor_file.not_between", {"value": lon, "low": -180, "high": 180}),
            )
        )
    if lat is not None and not -90 <= lat <= 90:
        problems.append(
            CatalogueProblem(
                line,
                "lat",
                Message("sensor_file.not_between", {"value": lat, "low": -90, "high": 90}),
            )
        )
    if problems or lon is None or lat is None:
        return None, problems
    try:
        return to_wgs84(lon, lat, crs), []
    except (ValueError, ArithmeticError) as exc:
        reason = Message(
            "sensor_file.no_wgs84", {"lon": lon, "lat": lat, "crs": crs.value, "detail": str(exc)}
        )
        return None, [CatalogueProblem(line, "crs", reason)]


@dataclass(frozen=True)
class SensorImport:
    """How many sensors a file held, which lie just outside the city and were attached to the
    nearest grid (code, grid, metres), and which lie farther out (registered outside)."""

    count: int
    attached: list[tuple[str, str, float]] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


def import_sensors(
    session: Session, *, path: Path, crs: str = "wgs84", edge_tolerance_m: float = 0.0
) -> SensorImport:
    """Insert or update sensors, each in its grid. One just outside every grid (within
    ``edge_tolerance_m``) belongs to the nearest grid; one farther out (an upstream station)
    is registered outside the city: no grid, its alerts go to its owner department."""
    try:
        input_crs = InputCRS(crs)
    except ValueError:
        known = ", ".join(c.value for c in InputCRS)
        raise CatalogueError(
            [
                CatalogueProblem(
                    0, "crs", Message("sensor_file.unknown_crs", {"crs": crs, "known": known})
                )
            ]
        ) from None
    rows = _read(path, SENSOR_COLUMNS)
    departments = set(session.scalars(select(Department.code)))
    generation = active_generation(session)
    if generation is None:  # without boundaries every sensor would seem outside the city
        raise CatalogueError([CatalogueProblem(0, "file", Message("error.no_active_generation"))])
    problems: list[CatalogueProblem] = []
    values = []
    first_row: dict[str, int] = {}
    attached: list[tuple[str, str, float]] = []
    outside: list[str] = []
    for line, row in enumerate(rows, start=2):
        if row["code"] in first_row:
            reason = Message(
                "sensor_file.code_twice", {"code": row["code"], "row": first_row[row["code"]]}
            )
            problems.append(CatalogueProblem(line, "code", reason))
        first_row.setdefault(row["code"], line)
        if row["owner_department"] not in departments:
            problems.append(
                CatalogueProblem(
                    line,
                    "owner_department",
                    Message("sensor_file.no_department", {"code": row["owner_department"]}),
                )
            )
        metrics = parse_metrics(row["metrics"])
        if not metrics:
            problems.append(CatalogueProblem(line, "metrics", Message("sensor_file.no_metric")))
        for metric in metrics:
            if not METRIC_NAME.match(metric):
                reason = Message("sensor_file.bad_metric", {"metric": metric})
                problems.append(CatalogueProblem(line, "metrics", reason))
        position, found = _position(line, row, input_crs)
        if position is None:
            problems += found
            continue
        lon, lat = position
        place, distance = locate_near(
            session, lon=lon, lat=lat, generation_id=generation.id, tolerance_m=edge_tolerance_m
        )
        if place is None:
            outside.append(row["code"])
        elif distance > 0:
            attached.append((row["code"], place.grid.code, round(distance, 1)))
        chain = {Level(a.level): a.code for a in place.areas} if place else {}
        values.append(
            {
                "code": row["code"],
                "name": row["name"],
                "kind": row["kind"],
                "owner_department": row["owner_department"],
                "metrics": metrics,
                "position": from_shape(Point(lon, lat), srid=4326),
                "grid_code": place.grid.code if place else None,
                "community_code": chain.get(Level.COMMUNITY),
                "street_code": chain.get(Level.STREET),
                "district_code": chain.get(Level.DISTRICT),
                "city_code": chain.get(Level.CITY),
            }
        )
    if problems:
        raise CatalogueError(problems)
    count = upsert(session, Sensor, values, keys=["code"])
    return SensorImport(count=count, attached=attached, outside=outside)


def import_rules(session: Session, *, path: Path) -> int:
    """Add the rules of a CSV (each for a kind of sensor or for one sensor); a rule with a
    known name is updated."""
    rows = _read(path, RULE_COLUMNS, one_of=RULE_TARGETS)
    categories = set(session.scalars(select(Category.code)))
    sensors = {
        code: (id_, set(metrics))
        for code, id_, metrics in session.execute(select(Sensor.code, Sensor.id, Sensor.metrics))
    }
    problems: list[CatalogueProblem] = []
    rules = []
    for line, row in enumerate(rows, start=2):
        found: list[CatalogueProblem] = []
        if row["category_code"] not in categories:
            found.append(
                CatalogueProblem(
                    line,
                    "category_code",
                    Message("sensor_file.unknown_category", {"code": row["category_code"]}),
                )
            )
        if row["condition"] not in NEEDED_BY:
            found.append(
                CatalogueProblem(
                    line,
                    "condition",
                    Message("sensor_file.unknown_condition", {"value": row["condition"]}),
                )
            )
        kind, code = row.get("sensor_kind", ""), row.get("sensor", "")
        if not kind and not code:
            found.append(CatalogueProblem(line, "sensor_kind", Message("sensor_file.no_target")))
        elif kind and code:
            found.append(CatalogueProblem(line, "sensor", Message("sensor_file.both_targets")))
        elif code and code not in sensors:
            found.append(
                CatalogueProblem(line, "sensor", Message("sensor_file.no_sensor", {"code": code}))
            )
        elif code and row["metric"] not in sensors[code][1]:
            # A rule on a metric its sensor never reports would silently never fire.
            reason = Message(
                "sensor_file.metric_not_reported", {"code": code, "metric": row["metric"]}
            )
            found.append(CatalogueProblem(line, "metric", reason))
        numbers = {k: _number(line, k, row[k], found) for k in RULE_NUMBERS}
        for column in NEEDED_BY.get(row["condition"], ()):
            if not row[column]:  # without its threshold the rule would silently never fire
                reason = Message(
                    "sensor_file.needs", {"condition": row["condition"], "column": column}
                )
                found.append(CatalogueProblem(line, column, reason))
        durations = {
            k: _number(line, k, row.get(k, ""), found, minimum=0.0, blank=blank)
            for k, blank in RULE_DURATIONS.items()
        }
        sustain = _number(line, "sustain_count", row["sustain_count"], found, blank=1.0)
        if sustain is not None and (sustain < 1 or not sustain.is_integer()):
            found.append(
                CatalogueProblem(line, "sustain_count", Message("sensor_file.sustain_count"))
            )
        problems += found
        if found:
            continue
        rules.append(
            SensorRule(
                name=row["name"],
                sensor_kind=kind or None,
                sensor_id=sensors[code][0] if code else None,
                metric=row["metric"],
                condition=row["condition"],
                sustain_count=int(sustain or 1),
                category_code=row["category_code"],
                **numbers,
                **durations,
            )
        )
    if problems:
        raise CatalogueError(problems)
    existing = {r.name: r for r in session.scalars(select(SensorRule))}
    fields = (
        "sensor_kind",
        "sensor_id",
        *(c for c in RULE_COLUMNS if c != "name"),
        "max_gap_minutes",
    )
    for rule in rules:
        kept = existing.get(rule.name)
        if kept is None:
            session.add(rule)
        else:  # alerts refer to the rule: change it in place
            for name in fields:
                setattr(kept, name, getattr(rule, name))
    session.flush()
    return len(rules)


def _number(
    line: int,
    field: str,
    text: str,
    problems: list[CatalogueProblem],
    *,
    minimum: float | None = None,
    blank: float | None = None,
) -> float | None:
    """The number in a cell (``blank`` when empty); a bad one is added to ``problems``."""
    if not text:
        return blank
    number = parse_number(text)
    if number is None:
        problems.append(
            CatalogueProblem(line, field, Message("sensor_file.not_number", {"value": text}))
        )
    elif minimum is not None and number < minimum:
        problems.append(
            CatalogueProblem(
                line, field, Message("sensor_file.below", {"value": number, "minimum": minimum})
            )
        )
        return None
    return number
