"""The demo city at a chosen size: the same generator (Voronoi grids dissolved into
communities, streets, districts and the city), with the grid spacing shrunk so that about
``grids`` grids fill the same outline. Communities, streets and districts keep their size, so
a larger city has more grids per community, as a denser real one would.

The result is a geodata folder ``load_demo_city`` (and ``gridgov serve --demo`` with
``GRIDGOV_GEODATA_DIR``) reads: ``demo_city/`` generated, the catalogues linked from the
project's own ``geodata/``.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from types import ModuleType

from gridgov.config import PROJECT_ROOT

DEMO_GRIDS = 2206  # what the shipped demo city holds at 570 m
CATALOGUES = ("categories.csv", "items.csv", "sensor_rules.csv")


def _generator() -> ModuleType:
    path = PROJECT_ROOT / "geodata" / "demo_city" / "generate.py"
    spec = importlib.util.spec_from_file_location("gridgov_bench_city_generator", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_city(folder: Path, grids: int) -> Path:
    """The geodata folder of a city of about ``grids`` grids (made once per folder)."""
    done = folder / "demo_city" / "grids.geojson"
    if done.exists():
        return folder
    generator = _generator()
    generator.GRID_SPACING_M = generator.GRID_SPACING_M * math.sqrt(DEMO_GRIDS / grids)
    features = generator.build()
    (folder / "demo_city").mkdir(parents=True, exist_ok=True)
    for name in CATALOGUES:
        link = folder / name
        if not link.exists():
            link.symlink_to(PROJECT_ROOT / "geodata" / name)
    # grids.geojson last: its presence says the folder is complete.
    generator.write(features, folder / "demo_city.part")
    for path in sorted(
        (folder / "demo_city.part").iterdir(), key=lambda p: p.name == "grids.geojson"
    ):
        path.replace(folder / "demo_city" / path.name)
    (folder / "demo_city.part").rmdir()
    return folder


def grid_count(folder: Path) -> int:
    data = json.loads((folder / "demo_city" / "grids.geojson").read_text(encoding="utf-8"))
    return len(data["features"])
