"""Quality checks on a level of boundaries before anything is written.

Pure functions over GeoDataFrames in EPSG:4326 (columns ``code``, ``name``, ``parent_code``
and the geometry); no database. Areas are measured in metres in the local UTM zone.
Overlaps, gaps and overhangs smaller than ``sliver_m2`` are warnings (slivers) that do not
block an import; anything under ``NOISE_M2`` is floating-point residue of shared edges.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.geometry
from shapely.geometry.base import BaseGeometry

from gridgov.boundaries.levels import Level
from gridgov.geo.measure import metric_crs
from gridgov.i18n import t

NOISE_M2 = 0.01
DEFAULT_SLIVER_M2 = 100.0
Severity = Literal["error", "warning"]
_LOCATION = re.compile(r"\[(-?[\d.eE+-]+) (-?[\d.eE+-]+)\]")


@dataclass(frozen=True)
class Finding:
    """One problem: which check, how bad, where, and the values its message needs."""

    check: str
    severity: Severity
    params: dict[str, Any] = field(default_factory=dict)
    lon: float | None = None
    lat: float | None = None
    # The piece itself (an overlap, a gap, an overhang), to look at in a GIS.
    geometry: BaseGeometry | None = field(default=None, compare=False, repr=False)

    def message(self, lang: str = "zh") -> str:
        """The finding as one line of text."""
        text = f"{t('quality.' + self.severity, lang)} [{self.check}] "
        text += t("quality." + self.check, lang, **self.params)
        if self.lon is not None and self.lat is not None:
            text += f" ({t('quality.at', lang)} {self.lon:.6f}, {self.lat:.6f})"
        return text


@dataclass
class QualityReport:
    """Everything the checks found on one level of one file."""

    level: Level
    features: int
    findings: list[Finding]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when nothing blocks the import (warnings do not)."""
        return not self.errors

    def render(self, lang: str = "zh") -> str:
        """The report as text: a summary line, then one line per finding."""
        summary = t(
            "quality.summary",
            lang,
            level=t("level." + self.level.value, lang),
            features=self.features,
            errors=len(self.errors),
            warnings=len(self.warnings),
        )
        return "\n".join([summary, *(f"  {f.message(lang)}" for f in self.findings)])

    def to_geojson(self, lang: str = "zh") -> dict[str, Any]:
        """The findings as a GeoJSON FeatureCollection (QGIS opens it): the piece where there
        is one, else the point, else no geometry."""
        features = []
        for finding in self.findings:
            geometry = finding.geometry
            if geometry is None and finding.lon is not None and finding.lat is not None:
                geometry = shapely.Point(finding.lon, finding.lat)
            properties = {
                "check": finding.check,
                "severity": finding.severity,
                "message": finding.message(lang),
                **{k: v for k, v in finding.params.items() if isinstance(v, str | int | float)},
            }
            features.append(
                {
                    "type": "Feature",
                    "properties": properties,
                    "geometry": shapely.geometry.mapping(geometry) if geometry else None,
                }
            )
        return {"type": "FeatureCollection", "features": features}


def check_boundaries(
    frame: gpd.GeoDataFrame,
    *,
    level: Level,
    parents: gpd.GeoDataFrame | None = None,
    sliver_m2: float = DEFAULT_SLIVER_M2,
    parent_level: Level | None = None,
) -> QualityReport:
    """Run every check on one level; ``parents`` are the areas of ``parent_level`` in the
    same generation: the level directly above by default, a higher one in a city that
    skips levels (grids straight under districts)."""
    findings = check_codes(frame) + check_geometries(frame)
    usable = frame[_usable_mask(frame)]
    findings += check_overlaps(usable, sliver_m2=sliver_m2)
    parent_level = parent_level or level.parent
    if parent_level is not None:
        findings += check_against_parents(
            frame, usable, parents, parent_level=parent_level, sliver_m2=sliver_m2
        )
    return QualityReport(level=level, features=len(frame), findings=findings)


def check_codes(frame: gpd.GeoDataFrame) -> list[Finding]:
    """Missing codes, missing names and duplicate codes."""
    findings: list[Finding] = []
    codes = frame["code"]
    for row, (code, name) in enumerate(zip(codes, frame["name"], strict=True), start=1):
        if _blank(code):
            findings.append(Finding("missing_code", "error", {"row": row}))
        elif _blank(name):
            findings.append(Finding("missing_name", "error", {"code": code}))
    counts = Counter(c for c in codes if not _blank(c))
    for code, count in sorted(counts.items()):
        if count > 1:
            findings.append(Finding("duplicate_code", "error", {"code": code, "count": count}))
    return findings


def check_geometries(frame: gpd.GeoDataFrame) -> list[Finding]:
    """Empty, non-polygonal and invalid geometries, with the reason and the location."""
    findings: list[Finding] = []
    for code, geom in zip(frame["code"], frame.geometry, strict=True):
        label = {"code": code}
        if geom is None or geom.is_empty:
            findings.append(Finding("empty_geometry", "error", label))
        elif geom.geom_type not in ("Polygon", "MultiPolygon"):
            findings.append(Finding("not_polygon", "error", {**label, "geom_type": geom.geom_type}))
        elif not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            lon, lat = _reason_location(reason, geom)
            findings.append(
                Finding("invalid_geometry", "error", {**label, "reason": reason}, lon, lat)
            )
    return findings


def check_overlaps(usable: gpd.GeoDataFrame, *, sliver_m2: float) -> list[Finding]:
    """Pairs of features at one level whose interiors overlap (index first, exact second)."""
    geoms = usable.geometry.to_numpy()
    codes = usable["code"].to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    interiors_meet = shapely.relate_pattern(geoms[left], geoms[right], "2********")
    left, right = left[interiors_meet], right[interiors_meet]
    pieces = shapely.intersection(geoms[left], geoms[right])
    areas = _areas_m2(pieces, usable)
    findings = []
    for i, j, piece, area in zip(left, right, pieces, areas, strict=True):
        params = {"a": codes[i], "b": codes[j]}
        finding = _sized("overlap", "sliver_overlap", params, piece, area, sliver_m2)
        if finding:
            findings.append(finding)
    return findings


def check_against_parents(
    frame: gpd.GeoDataFrame,
    usable: gpd.GeoDataFrame,
    parents: gpd.GeoDataFrame | None,
    *,
    parent_level: Level,
    sliver_m2: float,
) -> list[Finding]:
    """Parent codes that are missing or unknown, children outside parents, gaps in parents."""
    if parents is None or parents.empty:
        return [Finding("no_parent_level", "error", {"parent_level": parent_level.value})]
    parent_geoms = dict(zip(parents["code"], parents.geometry, strict=True))
    findings: list[Finding] = []
    for code, parent in zip(frame["code"], frame["parent_code"], strict=True):
        if _blank(parent):
            findings.append(Finding("missing_parent_code", "error", {"code": code}))
        elif parent not in parent_geoms:
            findings.append(Finding("unknown_parent", "error", {"code": code, "parent": parent}))
    placed = usable[usable["parent_code"].isin(parent_geoms.keys())]
    findings += _outside_parents(placed, parent_geoms, sliver_m2)
    findings += _gaps(placed, parents, sliver_m2)
    return findings


def _outside_parents(
    placed: gpd.GeoDataFrame, parent_geoms: dict[str, BaseGeometry], sliver_m2: float
) -> list[Finding]:
    own_parents = np.array([parent_geoms[p] for p in placed["parent_code"]], dtype=object)
    overhangs = shapely.difference(placed.geometry.to_numpy(), own_parents)
    areas = _areas_m2(overhangs, placed)
    findings = []
    for code, parent, piece, area in zip(
        placed["code"], placed["parent_code"], overhangs, areas, strict=True
    ):
        params = {"code": code, "parent": parent}
        finding = _sized("outside_parent", "sliver_outside", params, piece, area, sliver_m2)
        if finding:
            findings.append(finding)
    return findings


def _gaps(placed: gpd.GeoDataFrame, parents: gpd.GeoDataFrame, sliver_m2: float) -> list[Finding]:
    children_by_parent = placed.groupby("parent_code").geometry.apply(
        lambda geoms: shapely.union_all(geoms.to_numpy())
    )
    findings: list[Finding] = []
    pieces, owners = [], []
    for code, parent_geom in zip(parents["code"], parents.geometry, strict=True):
        if code not in children_by_parent.index:
            findings.append(Finding("uncovered_parent", "error", {"parent": code}))
            continue
        gap = shapely.difference(parent_geom, children_by_parent[code])
        for part in shapely.get_parts(gap):
            if part.geom_type == "Polygon":
                pieces.append(part)
                owners.append(code)
    areas = _areas_m2(np.array(pieces, dtype=object), parents)
    for code, piece, area in zip(owners, pieces, areas, strict=True):
        finding = _sized("gap", "sliver_gap", {"parent": code}, piece, area, sliver_m2)
        if finding:
            findings.append(finding)
    return findings


def _sized(
    check: str,
    sliver_check: str,
    params: dict[str, Any],
    piece: BaseGeometry,
    area: float,
    sliver_m2: float,
) -> Finding | None:
    """An error, a sliver warning, or nothing (numerical residue), by the piece's area."""
    if area < NOISE_M2:
        return None
    point = piece.representative_point()
    params = {**params, "area_m2": round(area, 2)}
    if area < sliver_m2:
        return Finding(sliver_check, "warning", params, point.x, point.y, piece)
    return Finding(check, "error", params, point.x, point.y, piece)


def _areas_m2(geoms: np.ndarray, like: gpd.GeoDataFrame) -> np.ndarray:
    if len(geoms) == 0:
        return np.zeros(0)
    series = gpd.GeoSeries(geoms, crs="EPSG:4326")
    return np.asarray(series.to_crs(metric_crs(like)).area.to_numpy(), dtype=float)


def _usable_mask(frame: gpd.GeoDataFrame) -> pd.Series:
    geoms = frame.geometry
    return (
        ~geoms.isna()
        & ~geoms.is_empty
        & geoms.geom_type.isin(["Polygon", "MultiPolygon"])
        & geoms.is_valid
        & frame["code"].map(lambda c: not _blank(c))
    )


def _reason_location(reason: str, geom: BaseGeometry) -> tuple[float | None, float | None]:
    match = _LOCATION.search(reason)
    if match:
        return float(match.group(1)), float(match.group(2))
    point = geom.centroid
    return (point.x, point.y) if not point.is_empty else (None, None)


def _blank(value: object) -> bool:
    return (
        value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == ""
    )
