"""The ceilings over HTTP: a minimal FastAPI app doing only the core of each hot path.

    GRIDGOV_BENCH_BARE=config.json uvicorn benchmarks.bare:create_app --factory

- ``GET /locate?lon=&lat=``: an in-memory STRtree lookup of the same grids, prepared
  ``covers``, the smallest code (no areas, no generation, no names);
- ``POST /insert`` (form ``lon``, ``lat``, ``category``): one bare ``INSERT`` of the same
  incident row a report writes (a fixed area chain, no locate, no routing, no audit, no
  notification), committed, through gridgov's own engine and pool;
- ``GET /knn?lon=&lat=&item=``: the raw PostGIS KNN query over the lots of one item, through
  the same pool.

Served by the same uvicorn as gridgov, one process, loaded by the same client, so the ratios
compare the work each request does, not the HTTP stack.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import shapely
from fastapi import FastAPI, Form
from sqlalchemy import text

from gridgov.db import make_engine

_INSERT = text(
    """
    INSERT INTO incidents (status, category_code, position, generation_id, grid_code,
        community_code, street_code, district_code, city_code, department_code, reporter_id,
        reported_at, updated_at)
    VALUES ('dispatched', :category, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :generation,
        :grid, :community, :street, :district, :city, :department, :reporter, :now, :now)
    RETURNING id
    """
)
_KNN = text(
    """
    SELECT stockpile_id, quantity - reserved AS free
    FROM stock_lots
    WHERE item_code = :item AND quantity > reserved
      AND (expires_on IS NULL OR expires_on >= :today)
    ORDER BY position <-> CAST(:point AS geography)
    LIMIT :k
    """
)


def create_app() -> FastAPI:
    config = json.loads(Path(os.environ["GRIDGOV_BENCH_BARE"]).read_text())
    features = json.loads(Path(config["grids"]).read_text(encoding="utf-8"))["features"]
    codes = np.array([f["properties"]["code"] for f in features], dtype=object)
    order = np.argsort(codes)
    codes = codes[order]
    polygons = np.array(
        [shapely.from_geojson(json.dumps(f["geometry"])) for f in features], dtype=object
    )[order]
    shapely.prepare(polygons)
    tree = shapely.STRtree(polygons)
    engine = make_engine(config["database_url"])
    row = config["row"]  # the area chain and ids a report of that grid writes
    app = FastAPI()

    @app.get("/locate")
    def locate(lon: float, lat: float) -> dict[str, Any]:
        point = shapely.Point(lon, lat)
        hits = sorted(int(i) for i in tree.query(point) if polygons[i].covers(point))
        return {"grid": codes[hits[0]] if hits else None}

    @app.post("/insert")
    def insert(
        lon: Annotated[float, Form()],
        lat: Annotated[float, Form()],
        category: Annotated[str, Form()],
    ) -> dict[str, Any]:
        with engine.begin() as conn:
            new_id = conn.execute(
                _INSERT, {**row, "lon": lon, "lat": lat, "category": category, "now": _now()}
            ).scalar_one()
        return {"id": new_id}

    @app.get("/knn")
    def knn(lon: float, lat: float, item: str) -> dict[str, Any]:
        with engine.connect() as conn:
            rows = conn.execute(
                _KNN,
                {
                    "item": item,
                    "today": config["today"],
                    "point": f"SRID=4326;POINT({lon} {lat})",
                    "k": 10,
                },
            ).all()
        return {"lots": [[r.stockpile_id, r.free] for r in rows]}

    return app


def _now() -> datetime:
    return datetime.now(UTC)
