"""Read boundary files (GeoJSON, GeoPackage, Shapefile, CSV with WKT) into EPSG:4326."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from gridgov.boundaries.levels import Level
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


class BoundaryFileError(ValueError):
    """A boundary file that cannot be read: the message names the file and the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def required_columns(level: Level) -> tuple[str, ...]:
    """The attribute columns a file of this level must have."""
    return ("code", "name") if level.parent is None else ("code", "name", "parent_code")


def read_boundary_file(
    path: Path | str, *, level: Level, crs: str | None = None
) -> gpd.GeoDataFrame:
    """Read one level of boundaries and return it in EPSG:4326 with normalised columns.

    ``crs`` declares the coordinates of the file: wgs84, gcj02, bd09, cgcs2000 or any
    ``EPSG:NNNN``. Without it the file's own CRS is used (WGS84 when it has none).
    """
    path = Path(path)
    if not path.exists():
        raise BoundaryFileError(path, "no such file")
    try:
        frame = _read_csv(path) if path.suffix.lower() == ".csv" else gpd.read_file(path)
    except BoundaryFileError:
        raise
    except Exception as exc:  # pyogrio, pandas and shapely each raise their own types
        raise BoundaryFileError(path, _first_line(exc)) from exc
    if frame.empty:
        raise BoundaryFileError(path, "the file holds no features")
    frame = frame.rename(columns=_column_name)
    missing = [c for c in required_columns(level) if c not in frame.columns]
    if missing:
        raise BoundaryFileError(path, f"missing column(s): {', '.join(missing)}")
    return _normalise(_to_wgs84(frame, path, crs), level)


def _column_name(column: object) -> object:
    if not isinstance(column, str) or column == "geometry":
        return column
    name = column.strip().lower()
    return ALIASES.get(name, name)


def _read_csv(path: Path) -> gpd.GeoDataFrame:
    try:
        table = read_csv_text(path).frame
    except TableError as exc:
        raise BoundaryFileError(path, str(exc).removeprefix(f"{path}: ")) from exc
    table.columns = [c.strip().lower() for c in table.columns]
    column = next((c for c in WKT_COLUMNS if c in table.columns), None)
    if column is None:
        raise BoundaryFileError(path, "a CSV needs a 'wkt' column with the geometry")
    try:
        geoms = shapely.from_wkt(table[column].replace("", None))
    except shapely.errors.GEOSException as exc:
        raise BoundaryFileError(path, f"bad WKT: {_first_line(exc)}") from exc
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
            raise BoundaryFileError(path, f"unknown CRS {crs!r}") from exc
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
        path,
        f"coordinates such as ({minx:.0f}, {miny:.0f}) are not degrees and the file names no "
        "CRS (a shapefile without .prj): pass the CRS it was drawn in, e.g. --crs EPSG:4545 "
        "(CGCS2000 / 3-degree Gauss-Kruger CM 108E)",
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
