"""Read boundary files (GeoJSON, GeoPackage, Shapefile, CSV with WKT) into EPSG:4326."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from gridgov.boundaries.levels import Level
from gridgov.errors import Refusal
from gridgov.geo.crs import InputCRS, geometry_to_wgs84
from gridgov.tables import TableError, read_csv_text

GRID_COLUMNS = ("grid_head_name", "grid_head_phone", "households", "population")
WKT_COLUMNS = ("wkt", "geometry", "geom")
# Shapefile field names stop at 10 characters: accept the truncated and the short forms.
ALIASES = {
    "parent_cod": "parent_code",
    "parent": "parent_code",
    "grid_head_": "grid_head_name",
    "head_name": "grid_head_name",
    "grid_hea_1": "grid_head_phone",
    "head_phone": "grid_head_phone",
}


@dataclass(frozen=True)
class Columns:
    """Which of a file's columns hold the code, the name and the parent's code. ``None`` means
    the usual names (code or adcode; name; parent_code or parent). A dotted name reaches into
    an object column: ``parent.adcode`` is the AMap/DataV district download's parent code."""

    code: str | None = None
    name: str | None = None
    parent: str | None = None


class BoundaryFileError(Refusal):
    """A boundary file that cannot be read: the message names the file and the reason."""

    def __init__(self, path: Path | str, key: str, **params: object) -> None:
        super().__init__(key, path=path, **params)
        self.path = str(path)


def required_columns(level: Level) -> tuple[str, ...]:
    """The attribute columns a file of this level must have."""
    return ("code", "name") if level.parent is None else ("code", "name", "parent_code")


def read_boundary_file(
    path: Path | str, *, level: Level, crs: str | None = None, columns: Columns | None = None
) -> gpd.GeoDataFrame:
    """Read one level of boundaries and return it in EPSG:4326 with normalised columns.

    ``crs`` declares the coordinates of the file: wgs84, gcj02, bd09, cgcs2000 or any
    ``EPSG:NNNN``. Without it the file's own CRS is used (WGS84 when it has none).
    """
    path = Path(path)
    if not path.exists():
        raise BoundaryFileError(path, "table.no_such_file")
    try:
        frame = _read_csv(path) if path.suffix.lower() == ".csv" else _read_geo(path)
    except BoundaryFileError:
        raise
    except Exception as exc:  # pyogrio, pandas and shapely each raise their own types
        raise BoundaryFileError(path, "table.unreadable", detail=_first_line(exc)) from exc
    if frame.empty:
        raise BoundaryFileError(path, "boundary_file.empty")
    frame = _pick_columns(frame, path, columns or Columns())
    missing = [c for c in required_columns(level) if c not in frame.columns]
    if missing:
        found = ", ".join(str(c) for c in frame.columns if c != "geometry")
        raise BoundaryFileError(
            path, "table.missing_columns", missing=", ".join(missing), found=found
        )
    return _normalise(_to_wgs84(frame, path, crs), level)


def _pick_columns(frame: gpd.GeoDataFrame, path: Path, chosen: Columns) -> gpd.GeoDataFrame:
    """Rename the file's columns to gridgov's; a column named by ``chosen`` wins over the
    usual names, and one target is never filled twice (a file with parent and parent_code)."""
    frame = frame.rename(columns=lambda c: c.strip().lower() if isinstance(c, str) else c)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    picked: dict[str, pd.Series] = {}
    for target, named, usual in (
        ("code", chosen.code, ("code", "adcode")),
        ("name", chosen.name, ("name",)),
        ("parent_code", chosen.parent, ("parent_code", "parent_cod", "parent.adcode", "parent")),
    ):
        if named is not None:
            picked[target] = _column(frame, path, named.strip().lower(), required=True)
            continue
        for candidate in usual:
            found = _column(frame, path, candidate, required=False)
            if found is not None:
                picked[target] = found
                break
    rest = {ALIASES.get(c, c): frame[c] for c in frame.columns if c in ALIASES}
    for target, values in rest.items():
        picked.setdefault(target, values)
    kept = [c for c in frame.columns if c not in picked and c != frame.geometry.name]
    table = pd.concat([frame[kept], pd.DataFrame(picked, index=frame.index)], axis=1)
    return gpd.GeoDataFrame(table, geometry=frame.geometry.to_numpy(), crs=frame.crs)


def _column(frame: pd.DataFrame, path: Path, name: str, *, required: bool) -> pd.Series | None:
    """A column, or a key inside an object column (``parent.adcode``)."""
    if name in frame.columns:
        values = frame[name]
        if name == "parent" and values.map(_is_object).any():
            return values.map(lambda v: _inside(v, ["adcode"]))
        return values
    head, _, rest = name.partition(".")
    if rest and head in frame.columns:
        return frame[head].map(lambda v: _inside(v, rest.split(".")))
    if required:
        found = ", ".join(str(c) for c in frame.columns if c != frame.geometry.name)
        raise BoundaryFileError(path, "boundary_file.no_column", name=name, found=found)
    return None


def _is_object(value: object) -> bool:
    return isinstance(value, dict) or (isinstance(value, str) and value.lstrip().startswith("{"))


def _inside(value: object, keys: list[str]) -> object:
    """``{"adcode": 110000}`` (or its JSON text, as GDAL gives it) -> 110000."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _read_geo(path: Path) -> gpd.GeoDataFrame:
    # GDAL's GeoJSON reader takes text that looks like a time or date for one: a code such as
    # "T1111" would arrive as 11:11:00. Codes are text.
    if path.suffix.lower() in (".geojson", ".json"):
        return gpd.read_file(path, DATE_AS_STRING="YES")
    return gpd.read_file(path)


def _read_csv(path: Path) -> gpd.GeoDataFrame:
    try:
        table = read_csv_text(path).frame
    except TableError as exc:
        raise BoundaryFileError(path, exc.key, **exc.params) from exc
    table.columns = [c.strip().lower() for c in table.columns]
    column = next((c for c in WKT_COLUMNS if c in table.columns), None)
    if column is None:
        raise BoundaryFileError(path, "boundary_file.no_wkt")
    try:
        geoms = shapely.from_wkt(table[column].replace("", None))
    except shapely.errors.GEOSException as exc:
        raise BoundaryFileError(path, "boundary_file.bad_wkt", detail=_first_line(exc)) from exc
    return gpd.GeoDataFrame(table.drop(columns=[column]), geometry=geoms, crs=None)


def _to_wgs84(frame: gpd.GeoDataFrame, path: Path, crs: str | None) -> gpd.GeoDataFrame:
    if crs is not None and crs.lower() in {c.value for c in InputCRS}:
        declared = InputCRS(crs.lower())
        frame = frame.set_crs("EPSG:4326", allow_override=True)
        if declared in (InputCRS.GCJ02, InputCRS.BD09):
            frame = frame.set_geometry(
                [geometry_to_wgs84(g, declared) if g is not None else None for g in frame.geometry],
                crs="EPSG:4326",
            )
        return frame
    if crs is not None:
        try:
            frame = frame.set_crs(CRS.from_user_input(crs), allow_override=True)
        except CRSError as exc:
            raise BoundaryFileError(path, "boundary_file.unknown_crs", crs=crs) from exc
    elif frame.crs is None:
        _refuse_projected_without_crs(frame, path)
        frame = frame.set_crs("EPSG:4326")
    return frame.to_crs("EPSG:4326")


def _refuse_projected_without_crs(frame: gpd.GeoDataFrame, path: Path) -> None:
    """A file without a CRS (a shapefile without .prj) whose numbers cannot be degrees."""
    minx, miny, maxx, maxy = frame.total_bounds
    if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
        return
    raise BoundaryFileError(
        path, "boundary_file.projected_without_crs", x=f"{minx:.0f}", y=f"{miny:.0f}"
    )


def _normalise(frame: gpd.GeoDataFrame, level: Level) -> gpd.GeoDataFrame:
    columns = {"code": _as_code(frame["code"]), "name": frame["name"].map(_as_text)}
    columns["parent_code"] = (
        _as_code(frame["parent_code"])
        if "parent_code" in frame.columns
        else pd.Series([None] * len(frame))
    )
    if level is Level.GRID:
        for column in GRID_COLUMNS:
            columns[column] = frame[column] if column in frame.columns else None
    geometry = gpd.GeoSeries(frame.geometry.to_numpy(), crs="EPSG:4326", name="geometry")
    return gpd.GeoDataFrame(pd.DataFrame(columns).reset_index(drop=True), geometry=geometry)


def _as_code(values: pd.Series) -> pd.Series:
    def one(v: object) -> str | None:
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        text = str(v).strip()
        return text or None

    return values.map(one)


def _as_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return str(value).strip() or None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
