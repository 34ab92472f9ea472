"""GeoJSON (RFC 7946) features from ORM rows."""

from __future__ import annotations

from typing import Any

from geoalchemy2 import WKBElement
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping


def geometry(geom: WKBElement) -> dict[str, Any]:
    """A stored geometry as a GeoJSON geometry object."""
    return dict(mapping(to_shape(geom)))


def feature(
    geom: WKBElement, properties: dict[str, Any], feature_id: str | None = None
) -> dict[str, Any]:
    """A GeoJSON Feature."""
    out: dict[str, Any] = {"type": "Feature", "geometry": geometry(geom), "properties": properties}
    if feature_id is not None:
        out["id"] = feature_id
    return out


def feature_collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection."""
    return {"type": "FeatureCollection", "features": features}
