"""Conversions between WGS84 and the Chinese web-map systems GCJ-02 and BD-09.

gridgov stores WGS84 (EPSG:4326). Phones and Chinese web maps give GCJ-02 (AMap, Tencent,
WeChat) or BD-09 (Baidu); CGCS2000 (EPSG:4490) differs from WGS84 by centimetres and is
taken as equal. The GCJ-02/BD-09 formulas come from ``prcoords`` (public domain), whose
inverse iterates to sub-millimetre precision. Outside China GCJ-02 equals WGS84.
"""

from __future__ import annotations

import warnings
from enum import StrEnum
from typing import TypeVar

import numpy as np
import prcoords
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

G = TypeVar("G", bound=BaseGeometry)


class InputCRS(StrEnum):
    """The coordinate systems that input may declare."""

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"
    CGCS2000 = "cgcs2000"


def in_china(lon: float, lat: float) -> bool:
    """Whether GCJ-02 obfuscation applies at this point (prcoords' bounding box).

    >>> in_china(109.1, 21.5), in_china(2.35, 48.85)
    (True, False)
    """
    return bool(prcoords.sanity_in_china_p(prcoords.Coords(lat, lon)))


def to_wgs84(lon: float, lat: float, crs: InputCRS | str) -> tuple[float, float]:
    """Convert one (lon, lat) in ``crs`` to WGS84.

    >>> to_wgs84(116.38404722455657, 39.91334545536069, "gcj02")  # doctest: +ELLIPSIS
    (116.37781..., 39.91195...)
    """
    crs = InputCRS(crs)
    if crs in (InputCRS.WGS84, InputCRS.CGCS2000):
        return lon, lat
    if crs is InputCRS.GCJ02:
        if not in_china(lon, lat):
            return lon, lat
        out = prcoords.gcj_wgs_bored(prcoords.Coords(lat, lon), False)
        return out.lon, out.lat
    gcj = prcoords.bd_gcj_bored(prcoords.Coords(lat, lon), False)
    return to_wgs84(gcj.lon, gcj.lat, InputCRS.GCJ02)


def from_wgs84(lon: float, lat: float, crs: InputCRS | str) -> tuple[float, float]:
    """Convert one WGS84 (lon, lat) to ``crs``.

    >>> from_wgs84(116.377817, 39.911954, "gcj02")  # doctest: +ELLIPSIS
    (116.38404..., 39.91334...)
    """
    crs = InputCRS(crs)
    if crs in (InputCRS.WGS84, InputCRS.CGCS2000):
        return lon, lat
    if in_china(lon, lat):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gcj = prcoords.wgs_gcj(prcoords.Coords(lat, lon), False)
    else:
        gcj = prcoords.Coords(lat, lon)
    if crs is InputCRS.GCJ02:
        return gcj.lon, gcj.lat
    bd = prcoords.gcj_bd(gcj)
    return bd.lon, bd.lat


def to_wgs84_arrays(
    lons: ArrayLike, lats: ArrayLike, crs: InputCRS | str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Convert arrays of coordinates to WGS84 (a no-op copy for WGS84/CGCS2000)."""
    crs = InputCRS(crs)
    lon_arr = np.asarray(lons, dtype=float)
    lat_arr = np.asarray(lats, dtype=float)
    if crs in (InputCRS.WGS84, InputCRS.CGCS2000):
        return lon_arr.copy(), lat_arr.copy()
    pairs = [to_wgs84(x, y, crs) for x, y in zip(lon_arr.tolist(), lat_arr.tolist(), strict=True)]
    out = np.array(pairs, dtype=float).reshape(-1, 2)
    return out[:, 0], out[:, 1]


def geometry_to_wgs84(geom: G, crs: InputCRS | str) -> G:
    """Convert every vertex of a geometry from ``crs`` to WGS84."""

    def convert(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        lon, lat = to_wgs84_arrays(coords[:, 0], coords[:, 1], crs)
        return np.column_stack([lon, lat])

    return shapely.transform(geom, convert)
