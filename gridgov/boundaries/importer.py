"""Import one level of boundaries into a generation: check everything, then write all or nothing."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session, aliased

from gridgov.boundaries.frames import read_level
from gridgov.boundaries.levels import ORDER, Level
from gridgov.boundaries.models import SRID, Area, Grid
from gridgov.boundaries.quality import DEFAULT_SLIVER_M2, Finding, QualityReport, check_boundaries


class ImportRefused(ValueError):
    """The file has errors; nothing was written. ``report`` lists every one."""

    def __init__(self, report: QualityReport) -> None:
        super().__init__(report.render("en"))
        self.report = report


@dataclass(frozen=True)
class ImportResult:
    """What an import checked and (unless a dry run) wrote."""

    report: QualityReport
    written: int
    generation_id: int


def import_boundaries(
    session: Session,
    *,
    frame: gpd.GeoDataFrame,
    level: Level,
    generation_id: int,
    sliver_m2: float = DEFAULT_SLIVER_M2,
    dry_run: bool = False,
    within: str | None = None,
) -> ImportResult:
    """Check ``frame`` against its parents in the generation and write it if it passes.

    The parents are the nearest level above that the generation has: a city without
    communities puts its grids straight under its streets (or districts), and no polygon is
    copied into the empty levels. Levels go in from the top down, so a level cannot be
    imported once a level below it has boundaries.

    ``within`` (an area code) imports one part of a level at a time, for example the grids
    of one street: only the parents under that area are checked for coverage, and only
    their children count as already imported."""
    parent_level = _parent_level(session, level=level, generation_id=generation_id)
    parents = (
        read_level(session, level=parent_level, generation_id=generation_id)
        if parent_level is not None
        else None
    )
    all_parents = set(parents["code"]) if parents is not None else set()
    scope: set[str] | None = None
    if within is not None and parents is not None and parent_level is not None:
        scope = _codes_under(session, code=within, level=parent_level, generation_id=generation_id)
        parents = parents[parents["code"].isin(scope)]
    report = check_boundaries(
        frame, level=level, parents=parents, sliver_m2=sliver_m2, parent_level=parent_level
    )
    if scope is not None:
        report.findings[:] = [_outside_within(f, all_parents, within) for f in report.findings]
    existing = _count_existing(session, level=level, generation_id=generation_id, parents=scope)
    if existing:
        report.findings.insert(
            0, Finding("level_exists", "error", {"level": level.value, "count": existing})
        )
    below = _level_below(session, level=level, generation_id=generation_id)
    if below is not None:
        report.findings.insert(0, Finding("level_below_exists", "error", {"below": below.value}))
    # What only the database would refuse at the commit, found by the dry run too.
    report.findings.extend(_value_findings(frame, level))
    if level is not Level.GRID:
        report.findings.extend(_codes_in_use(session, frame=frame, generation_id=generation_id))
    if not report.ok:
        raise ImportRefused(report)
    if dry_run:
        return ImportResult(report=report, written=0, generation_id=generation_id)
    parent_ids = (
        dict(zip(parents["code"], parents["id"], strict=True)) if parents is not None else {}
    )
    rows = [_row(record, level, generation_id, parent_ids) for record in _records(frame)]
    table = Grid if level is Level.GRID else Area
    session.execute(insert(table), rows)
    session.flush()
    return ImportResult(report=report, written=len(rows), generation_id=generation_id)


def _levels_present(session: Session, *, generation_id: int) -> set[Level]:
    """The levels that have boundaries in a generation."""
    present = {
        Level(level)
        for level in session.scalars(
            select(Area.level).where(Area.generation_id == generation_id).distinct()
        )
    }
    grids = select(Grid.id).where(Grid.generation_id == generation_id).limit(1)
    if session.scalar(grids) is not None:
        present.add(Level.GRID)
    return present


def _parent_level(session: Session, *, level: Level, generation_id: int) -> Level | None:
    """The nearest level above ``level`` with boundaries in the generation, else the level
    directly above (whose absence the checks then report); None for the city."""
    present = _levels_present(session, generation_id=generation_id)
    above = ORDER[: ORDER.index(level)]
    return next((lvl for lvl in reversed(above) if lvl in present), level.parent)


def _level_below(session: Session, *, level: Level, generation_id: int) -> Level | None:
    """A level below ``level`` that already has boundaries (levels go in top down)."""
    present = _levels_present(session, generation_id=generation_id)
    return next((lvl for lvl in ORDER[ORDER.index(level) + 1 :] if lvl in present), None)


def _count_existing(
    session: Session, *, level: Level, generation_id: int, parents: set[str] | None = None
) -> int:
    """Features of this level already in the generation (only under ``parents`` if given)."""
    parent = aliased(Area)
    if level is Level.GRID:
        query = select(func.count()).select_from(Grid).where(Grid.generation_id == generation_id)
        if parents is not None:
            query = query.join(parent, parent.id == Grid.parent_id).where(parent.code.in_(parents))
    else:
        query = (
            select(func.count())
            .select_from(Area)
            .where(Area.generation_id == generation_id, Area.level == level.value)
        )
        if parents is not None:
            query = query.join(parent, parent.id == Area.parent_id).where(parent.code.in_(parents))
    return int(session.scalar(query) or 0)


_UNDER = text(
    """
    WITH RECURSIVE under AS (
        SELECT id, code, level FROM areas WHERE generation_id = :generation AND code = :code
        UNION ALL
        SELECT a.id, a.code, a.level FROM areas a JOIN under u ON a.parent_id = u.id
    )
    SELECT code FROM under WHERE level = :level
    """
)


def _codes_under(session: Session, *, code: str, level: Level, generation_id: int) -> set[str]:
    """The areas of ``level`` at or below the area ``code``."""
    params = {"generation": generation_id, "code": code, "level": level.value}
    return set(session.scalars(_UNDER, params))


def _outside_within(finding: Finding, all_parents: set[str], within: str | None) -> Finding:
    """A parent that exists but lies outside the part being imported is named as such."""
    if finding.check == "unknown_parent" and finding.params.get("parent") in all_parents:
        return Finding("outside_within", "error", {**finding.params, "within": within})
    return finding


# Column widths of the areas and grids tables.
_WIDTHS = {"code": 32, "name": 200, "grid_head_name": 100, "grid_head_phone": 32}
_COUNTS = ("households", "population")


def _value_findings(frame: gpd.GeoDataFrame, level: Level) -> list[Finding]:
    """Values the tables cannot hold: text too long, counts that are no whole numbers."""
    findings = []
    for record in _records(frame):
        code = record.get("code")
        for column, width in _WIDTHS.items():
            text = _text_or_none(record.get(column))
            if text is not None and len(text) > width:
                findings.append(
                    Finding("too_long", "error", {"code": code, "column": column, "limit": width})
                )
        if level is Level.GRID:
            for column in _COUNTS:
                text = _text_or_none(record.get(column))
                if text is not None and _whole_number(text) is None:
                    params = {"code": code, "column": column, "value": text}
                    findings.append(Finding("not_a_count", "error", params))
    return findings


def _codes_in_use(
    session: Session, *, frame: gpd.GeoDataFrame, generation_id: int
) -> list[Finding]:
    """Area codes are unique in a generation across levels, not only within one."""
    codes = [c for c in frame["code"].dropna().unique().tolist()]
    if not codes:
        return []
    taken = session.execute(
        select(Area.code, Area.level).where(
            Area.generation_id == generation_id, Area.code.in_(codes)
        )
    ).all()
    return [
        Finding("code_in_use", "error", {"code": code, "level": taken_level})
        for code, taken_level in taken
    ]


def _whole_number(text: str) -> int | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() and 0 <= number < 2**31 else None


def _records(frame: gpd.GeoDataFrame) -> list[dict[str, object]]:
    records = frame.drop(columns=frame.geometry.name).to_dict("records")
    for record, geom in zip(records, frame.geometry, strict=True):
        record["geometry"] = geom
    return records


def _row(
    record: dict[str, object], level: Level, generation_id: int, parent_ids: dict[str, int]
) -> dict[str, object]:
    geom = record["geometry"]
    assert isinstance(geom, BaseGeometry)
    multi = MultiPolygon([geom]) if geom.geom_type == "Polygon" else geom
    parent_id = parent_ids.get(str(record["parent_code"])) if record["parent_code"] else None
    row: dict[str, object] = {
        "generation_id": generation_id,
        "code": record["code"],
        "name": record["name"],
        "geom": from_shape(multi, srid=SRID),
    }
    if level is Level.GRID:
        row["parent_id"] = int(parent_id) if parent_id is not None else None
        row["grid_head_name"] = _text_or_none(record.get("grid_head_name"))
        row["grid_head_phone"] = _text_or_none(record.get("grid_head_phone"))
        row["households"] = _int_or_none(record.get("households"))
        row["population"] = _int_or_none(record.get("population"))
    else:
        row["level"] = level.value
        row["parent_id"] = int(parent_id) if parent_id is not None else None
    return row


def _text_or_none(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return str(value).strip() or None


def _int_or_none(value: object) -> int | None:
    text = _text_or_none(value)
    return _whole_number(text) if text is not None else None
