"""The command-centre map (全市一张图), built with folium.

folium lays out the Leaflet map, its layer groups, the marker cluster, the heat layer and the
layer control; ``static/app/map.js`` fills the layers from the API (by bounding box) and keeps
them live from the server-sent-event stream. Every script and style sheet is served by
gridgov itself: folium's CDN defaults are replaced with the vendored copies.
"""

from __future__ import annotations

import json
from typing import Any

import folium
from branca.element import MacroElement
from folium.plugins import HeatMap, MarkerCluster
from jinja2 import Template

from api.headers import with_nonce
from api.pages.assets import LEAFLET_CSS, LEAFLET_JS, vendor
from gridgov.config import Settings
from gridgov.i18n import t

# The overlays map.js fills, in the layer control's order, and whether each starts shown.
OVERLAYS: tuple[tuple[str, bool], ...] = (
    ("streets", True),
    ("areas", True),
    ("grids", True),
    ("stockpiles", False),
    ("sensors", True),
    ("fences", True),
    ("visits", False),  # communities by visiting units in a month (调研报备), asked for when shown
    ("tiers_grid", False),  # households per tier (绿黄红) per grid, asked for when shown
    ("tiers_community", False),  # the same per community
)


class ZoomControl(MacroElement):
    """Leaflet's zoom buttons with titles from the catalogue (folium's are Leaflet's English)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "L.control.zoom({{ this.options|tojson }}).addTo({{ this._parent.get_name() }});"
        "{% endmacro %}"
    )

    def __init__(self, *, zoom_in: str, zoom_out: str) -> None:
        super().__init__()
        self._name = "ZoomControl"
        self.options = {"position": "topleft", "zoomInTitle": zoom_in, "zoomOutTitle": zoom_out}


def build_map(
    *, settings: Settings, lang: str, bounds: tuple[float, float, float, float] | None
) -> tuple[folium.Map, dict[str, Any]]:
    """The folium map and the names map.js needs to reach its layers."""
    west, south, east, north = bounds or (73.5, 18.0, 135.0, 53.6)  # China when no city
    city_map = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=11,
        tiles=None,
        prefer_canvas=True,
        maxZoom=19,  # Leaflet options pass through; clustering needs a top zoom without tiles
        zoom_control=False,  # added below, with its buttons' titles in the page's language
    )
    ZoomControl(zoom_in=t("web.map.zoom_in", lang), zoom_out=t("web.map.zoom_out", lang)).add_to(
        city_map
    )
    city_map.default_js = [LEAFLET_JS]
    city_map.default_css = [LEAFLET_CSS]
    if settings.tile_url:
        folium.TileLayer(
            tiles=settings.tile_url,
            attr=settings.tile_attribution or "&nbsp;",
            subdomains=settings.tile_subdomains,
            name=t("web.layer.tiles", lang),
            # The page sends no Referer elsewhere; a tile server whose key is bound to the
            # site (Tianditu's browser keys) is told the origin, never the page's path.
            referrerPolicy="strict-origin",
        ).add_to(city_map)

    layers: dict[str, str] = {}
    for key, show in OVERLAYS:
        group = folium.FeatureGroup(name=t(f"web.layer.{key}", lang), show=show)
        group.add_to(city_map)
        layers[key] = group.get_name()

    cluster = MarkerCluster(
        name=t("web.layer.incidents", lang),
        # Wider clusters and short chunks keep the wall map responsive with 10,000 markers
        # (benchmarks/map.py).
        options={
            "chunkedLoading": True,
            "chunkInterval": 50,
            "showCoverageOnHover": False,
            "maxClusterRadius": 80,
        },
    )
    cluster.default_js = [vendor("leaflet.markercluster/leaflet.markercluster.js")]
    cluster.default_css = [
        vendor("leaflet.markercluster/MarkerCluster.css"),
        vendor("leaflet.markercluster/MarkerCluster.Default.css"),
    ]
    cluster.add_to(city_map)

    heat = HeatMap([], name=t("web.layer.heat", lang), show=False, radius=18, blur=15)
    heat.default_js = [vendor("leaflet.heat/leaflet-heat.js")]
    heat.add_to(city_map)

    folium.LayerControl(collapsed=False, position="topright").add_to(city_map)
    city_map.fit_bounds([[south, west], [north, east]])
    names = {
        "map": city_map.get_name(),
        "cluster": cluster.get_name(),
        "heat": heat.get_name(),
        "layers": layers,
    }
    return city_map, names


def render_map_page(
    *,
    settings: Settings,
    lang: str,
    bounds: tuple[float, float, float, float] | None,
    chrome: str,
    head: str,
    nonce: str,
) -> str:
    """The whole page: folium's map with gridgov's header, filter bar and live panel.

    folium writes its map script and styles inline: each gets the answer's CSP nonce."""
    city_map, names = build_map(settings=settings, lang=lang, bounds=bounds)
    root = city_map.get_root()
    root.header.add_child(folium.Element(head))  # type: ignore[attr-defined]
    root.html.add_child(folium.Element(chrome))  # type: ignore[attr-defined]
    # folium writes the map's own script when it renders, after this one: start once the
    # whole page (and so every layer) exists.
    start = f"GridgovMap.start({json.dumps(names)});"
    root.script.add_child(  # type: ignore[attr-defined]
        folium.Element(f'document.addEventListener("DOMContentLoaded", () => {{ {start} }});')
    )
    html_lang = "zh-CN" if lang == "zh" else lang  # folium's template has no lang attribute
    html = str(root.render()).replace("<html>", f'<html lang="{html_lang}">', 1)
    return with_nonce(html, nonce)
