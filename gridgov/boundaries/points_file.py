"""Locate the rows of a table people keep: find its coordinate columns (lon/lat, 经度/纬度 ...),
place every row, say why a row could not be placed, and leave every other cell as it was."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from gridgov.boundaries.classify import classify_points
from gridgov.boundaries.index import GridIndex
from gridgov.errors import FieldError
from gridgov.geo.crs import InputCRS

# Header names offices use for coordinates, compared without case and surrounding spaces.
LON_NAMES = ("lon", "lng", "long", "longitude", "经度", "gps经度", "经度坐标", "东经")
LAT_NAMES = ("lat", "latitude", "纬度", "gps纬度", "纬度坐标", "北纬")


class CoordinateColumnMissing(FieldError):
    """No column holds the longitude (or latitude); the message lists the columns found."""

    def __init__(self, axis: str, columns: Sequence[str]) -> None:
        super().__init__(
            f"{axis}_column",
            f"locate.column_missing.{axis}",
            columns=", ".join(str(c) for c in columns),
        )


@dataclass(frozen=True)
class Unplaced:
    """A row that got no grid: its row number as a spreadsheet shows it, and why."""

    row: int
    reason: str  # an i18n key under locate.reason.*
    value: str = ""


@dataclass(frozen=True)
class LocatedTable:
    """The table with the codes added, and the rows that could not be placed."""

    frame: pd.DataFrame
    unplaced: list[Unplaced]

    @property
    def located(self) -> int:
        return len(self.frame) - len(self.unplaced)


def coordinate_columns(
    columns: Sequence[str], *, lon: str | None = None, lat: str | None = None
) -> tuple[str, str]:
    """The longitude and latitude columns: the ones named, else the first known header.

    >>> coordinate_columns(["编号", " 经度 ", "纬度"])
    (' 经度 ', '纬度')
    >>> coordinate_columns(["id", "LNG", "Lat"], lat="Lat")
    ('LNG', 'Lat')
    """

    def find(axis: str, named: str | None, known: Sequence[str]) -> str:
        if named is not None:
            if named in columns:
                return named
            raise CoordinateColumnMissing(axis, columns)
        for column in columns:
            if str(column).strip().lower() in known:
                return column
        raise CoordinateColumnMissing(axis, columns)

    return find("lon", lon, LON_NAMES), find("lat", lat, LAT_NAMES)


def parse_coordinates(
    lon_text: pd.Series, lat_text: pd.Series
) -> tuple[np.ndarray, np.ndarray, list[Unplaced]]:
    """Numbers from the two text columns; rows that hold none are returned as Unplaced."""
    lon = pd.to_numeric(lon_text.str.strip(), errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(lat_text.str.strip(), errors="coerce").to_numpy(dtype=float)
    problems: list[Unplaced] = []
    for i, (x, y, raw_x, raw_y) in enumerate(zip(lon, lat, lon_text, lat_text, strict=True)):
        row = i + 2  # the header is row 1
        if not raw_x.strip() or not raw_y.strip():
            problems.append(Unplaced(row, "locate.reason.empty"))
        elif not np.isfinite(x):
            problems.append(Unplaced(row, "locate.reason.lon_not_a_number", raw_x))
        elif not np.isfinite(y):
            problems.append(Unplaced(row, "locate.reason.lat_not_a_number", raw_y))
        elif not (-180 <= x <= 180 and -90 <= y <= 90):
            problems.append(Unplaced(row, "locate.reason.out_of_range", f"{raw_x}, {raw_y}"))
    return lon, lat, problems


def locate_table(
    session: Session,
    *,
    index: GridIndex,
    table: pd.DataFrame,
    lon_column: str,
    lat_column: str,
    crs: InputCRS | str = InputCRS.WGS84,
) -> LocatedTable:
    """Add WGS84 coordinates and grid/area codes to every row; other cells are untouched
    (unplaced rows get empty codes)."""
    lon, lat, unplaced = parse_coordinates(table[lon_column], table[lat_column])
    bad_rows = {p.row - 2 for p in unplaced}
    good = np.array([i not in bad_rows for i in range(len(table))], dtype=bool)
    codes = classify_points(session, index=index, lons=lon[good], lats=lat[good], crs=crs)
    added = pd.DataFrame("", index=table.index, columns=codes.columns, dtype=object)
    for column in codes.columns:
        values = codes[column].to_numpy(dtype=object)
        added.loc[good, column] = [
            "" if v is None else (repr(v) if isinstance(v, float) else str(v)) for v in values
        ]
    outside = np.flatnonzero(good)[codes["grid_code"].isna().to_numpy()]
    unplaced += [Unplaced(int(i) + 2, "locate.reason.outside") for i in outside]
    unplaced.sort(key=lambda p: p.row)
    clash = [c for c in added.columns if c in table.columns]
    frame = pd.concat([table, added.add_suffix("_gridgov") if clash else added], axis=1)
    return LocatedTable(frame=frame, unplaced=unplaced)
