"""Where the pages' scripts and styles live: all served by gridgov, none from a CDN."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_URL = "/static"


def vendor(path: str) -> tuple[str, str]:
    """A (name, URL) pair, folium's form, for a file under static/vendor/."""
    return path.rsplit("/", 1)[-1], f"{STATIC_URL}/vendor/{path}"


LEAFLET_JS = vendor("leaflet/leaflet.js")
LEAFLET_CSS = vendor("leaflet/leaflet.css")
