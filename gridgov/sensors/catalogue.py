"""Import sensors (CSV) and sensor rules (CSV)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.levels import Level
from gridgov.boundaries.lookup import locate
from gridgov.db import upsert
from gridgov.departments.models import Department
from gridgov.geo.crs import InputCRS, to_wgs84
from gridgov.responsibilities.models import Category
from gridgov.sensors.models import Sensor, SensorRule

METRIC_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
SENSOR_COLUMNS = ("code", "name", "kind", "owner_department", "lon", "lat", "metrics")
RULE_COLUMNS = (
    "name",
    "sensor_kind",
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


@dataclass(frozen=True)
class CatalogueProblem:
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


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


def _read(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise CatalogueError([CatalogueProblem(1, c, "missing column") for c in missing])
        return [{k: (v or "").strip() for k, v in row.items()} for row in reader]


def import_sensors(session: Session, *, path: Path, crs: str = "wgs84") -> int:
    """Insert or update sensors; each is located in its grid (outside the city is refused)."""
    rows = _read(path, SENSOR_COLUMNS)
    departments = set(session.scalars(select(Department.code)))
    generation = active_generation(session)
    problems: list[CatalogueProblem] = []
    values = []
    for line, row in enumerate(rows, start=2):
        if row["owner_department"] not in departments:
            problems.append(
                CatalogueProblem(
                    line, "owner_department", f"no department {row['owner_department']}"
                )
            )
        metrics = parse_metrics(row["metrics"])
        if not metrics:
            problems.append(CatalogueProblem(line, "metrics", "name at least one metric"))
        for metric in metrics:
            if not METRIC_NAME.match(metric):
                reason = f"{metric!r}: use lower-case letters, digits and _"
                problems.append(CatalogueProblem(line, "metrics", reason))
        try:
            lon, lat = to_wgs84(float(row["lon"]), float(row["lat"]), InputCRS(crs))
        except ValueError:
            problems.append(CatalogueProblem(line, "lon", "lon and lat must be numbers"))
            continue
        place = (
            locate(session, lon=lon, lat=lat, generation_id=generation.id) if generation else None
        )
        if place is None:
            problems.append(CatalogueProblem(line, "lon", f"{row['code']} lies outside the city"))
            continue
        chain = {Level(a.level): a.code for a in place.areas}
        values.append(
            {
                "code": row["code"],
                "name": row["name"],
                "kind": row["kind"],
                "owner_department": row["owner_department"],
                "metrics": metrics,
                "position": from_shape(Point(lon, lat), srid=4326),
                "grid_code": place.grid.code,
                "community_code": chain[Level.COMMUNITY],
                "street_code": chain[Level.STREET],
                "district_code": chain[Level.DISTRICT],
                "city_code": chain[Level.CITY],
            }
        )
    if problems:
        raise CatalogueError(problems)
    return upsert(session, Sensor, values, keys=["code"])


def import_rules(session: Session, *, path: Path) -> int:
    """Add the rules of a CSV (by kind of sensor); a rule with a known name is updated."""
    rows = _read(path, RULE_COLUMNS)
    categories = set(session.scalars(select(Category.code)))
    problems: list[CatalogueProblem] = []
    rules = []
    for line, row in enumerate(rows, start=2):
        if row["category_code"] not in categories:
            problems.append(
                CatalogueProblem(line, "category_code", f"unknown category {row['category_code']}")
            )
        if row["condition"] not in ("above", "below", "outside", "rate"):
            problems.append(
                CatalogueProblem(line, "condition", f"unknown condition {row['condition']!r}")
            )
        try:
            numbers = {
                k: float(row[k]) if row[k] else None for k in ("low", "high", "max_rate_per_minute")
            }
            counts = {k: float(row[k] or 0) for k in ("sustain_minutes", "clear_minutes")}
            sustain = int(row["sustain_count"] or 1)
        except ValueError:
            problems.append(
                CatalogueProblem(line, "low", "thresholds and durations must be numbers")
            )
            continue
        rules.append(
            SensorRule(
                name=row["name"],
                sensor_kind=row["sensor_kind"],
                metric=row["metric"],
                condition=row["condition"],
                sustain_count=sustain,
                category_code=row["category_code"],
                **numbers,
                **counts,
            )
        )
    if problems:
        raise CatalogueError(problems)
    existing = {r.name: r for r in session.scalars(select(SensorRule))}
    fields = (*RULE_COLUMNS[1:],)
    for rule in rules:
        kept = existing.get(rule.name)
        if kept is None:
            session.add(rule)
        else:  # alerts refer to the rule: change it in place
            for name in fields:
                setattr(kept, name, getattr(rule, name))
    session.flush()
    return len(rules)
