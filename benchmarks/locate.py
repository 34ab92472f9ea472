"""GET /api/v1/locate against its ceiling: a bare FastAPI app doing only an STRtree lookup.

Starts a throwaway PostGIS cluster (or uses ``GRIDGOV_BENCH_DATABASE_URL``), loads the demo
city, then serves, one after the other on 127.0.0.1, the real service and a minimal FastAPI
app that answers the grid code from an in-memory STRtree over the same grids. Each is loaded
from a separate process (``--load``: a small asyncio HTTP/1.1 keep-alive client, bounded in
time and in requests) at each number of connections, with the same query points inside the
grids, and the script prints requests/s, p50 and p99, and gridgov's ratio to the bare app.

    .venv/bin/python benchmarks/locate.py --seconds 3 --connections 1,16

Only 127.0.0.1 is ever contacted. Figures from a shared or busy machine are noisy: say so
when quoting them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from fastapi import FastAPI
from geoalchemy2.shape import to_shape
from sqlalchemy import select

from api.in_thread import served_in_thread
from api.main import create_app
from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.models import Grid
from gridgov.config import PROJECT_ROOT, Settings
from gridgov.db import make_engine, make_session_factory, session_scope
from gridgov.db.embedded import EmbeddedCluster
from gridgov.db.migrate import upgrade
from gridgov.demo import load_demo_city

MAX_REQUESTS = 200_000  # per run, whatever the time: the load is bounded in count too


# -- the bare ceiling ----------------------------------------------------------------------


def bare_app(codes: list[str], geoms: list[Any]) -> FastAPI:
    """FastAPI doing only the lookup: STRtree candidates, prepared ``covers``, smallest code."""
    order = np.argsort(codes)
    codes_sorted = np.array(codes, dtype=object)[order]
    polygons = np.array(geoms, dtype=object)[order]
    shapely.prepare(polygons)
    tree = shapely.STRtree(polygons)
    app = FastAPI()

    @app.get("/locate")
    def locate(lon: float, lat: float) -> dict[str, Any]:
        point = shapely.Point(lon, lat)
        hits = sorted(int(i) for i in tree.query(point) if polygons[i].covers(point))
        return {"grid": codes_sorted[hits[0]] if hits else None}

    return app


# -- the load, from its own process ---------------------------------------------------------


async def _one_connection(
    host: str, port: int, paths: list[str], start: int, deadline: float, budget: list[int]
) -> tuple[list[float], int]:
    """Requests one after another on one kept-alive connection until the deadline or the
    shared budget runs out: latencies in ms and the count of answers other than 200."""
    reader, writer = await asyncio.open_connection(host, port)
    latencies: list[float] = []
    errors = 0
    n = start
    try:
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            path = paths[n % len(paths)]
            n += 1
            sent = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - sent) * 1000)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
    finally:
        writer.close()
    return latencies, errors


async def _load(base: str, paths: list[str], connections: int, seconds: float) -> dict[str, Any]:
    host, port = base.removeprefix("http://").split(":")
    assert host in ("127.0.0.1", "::1", "localhost"), "local services only"
    # A short warm-up (caches, first index build), not counted.
    await _one_connection(host, int(port), paths, 0, time.perf_counter() + 0.5, [1000])
    budget = [MAX_REQUESTS]
    started = time.perf_counter()
    deadline = started + seconds
    results = await asyncio.gather(
        *(
            _one_connection(host, int(port), paths, c * 7919, deadline, budget)
            for c in range(connections)
        )
    )
    elapsed = time.perf_counter() - started
    latencies = np.array([ms for found, _ in results for ms in found])
    return {
        "connections": connections,
        "requests": int(latencies.size),
        "errors": sum(e for _, e in results),
        "seconds": elapsed,
        "rps": latencies.size / elapsed,
        "p50_ms": float(np.percentile(latencies, 50)) if latencies.size else None,
        "p99_ms": float(np.percentile(latencies, 99)) if latencies.size else None,
    }


def load_from_another_process(
    base: str, paths: list[str], connections: int, seconds: float
) -> dict[str, Any]:
    """Run ``--load`` in a fresh interpreter, so the client never shares the server's GIL."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(paths, fh)
    try:
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--load",
                base,
                "--paths",
                fh.name,
                "--connections",
                str(connections),
                "--seconds",
                str(seconds),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 120,
        )
    finally:
        os.unlink(fh.name)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# -- the city and the two services -----------------------------------------------------------


@contextmanager
def database() -> Iterator[str]:
    """GRIDGOV_BENCH_DATABASE_URL, or a throwaway embedded cluster."""
    if url := os.environ.get("GRIDGOV_BENCH_DATABASE_URL"):
        yield url
        return
    root = Path(tempfile.mkdtemp(prefix="gridgov-bench-"))
    cluster = EmbeddedCluster(root=root, fast_unsafe=True)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(cluster.socket_dir, ignore_errors=True)


def query_points(codes: list[str], geoms: list[Any], count: int, seed: int) -> list[tuple]:
    """Points inside the grids (every query finds a grid), the same for both services."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = shapely.total_bounds(np.array(geoms, dtype=object))
    union = shapely.union_all(geoms)
    shapely.prepare(union)
    points: list[tuple] = []
    while len(points) < count:
        lons, lats = rng.uniform(minx, maxx, count), rng.uniform(miny, maxy, count)
        inside = shapely.contains_xy(union, lons, lats)
        points += [
            (round(x, 6), round(y, 6)) for x, y in zip(lons[inside], lats[inside], strict=True)
        ]
    return points[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="per service and load")
    parser.add_argument("--connections", default="1,16", help="comma-separated, e.g. 1,16")
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--load", help=argparse.SUPPRESS)  # the client process
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",")]
    if args.load:
        paths = json.loads(Path(args.paths).read_text())
        print(json.dumps(asyncio.run(_load(args.load, paths, connections[0], args.seconds))))
        return 0
    if not 0 < args.seconds <= 60 or not all(0 < c <= 256 for c in connections):
        parser.error("--seconds in (0, 60], connections in 1..256")

    with database() as url:
        engine = make_engine(url)
        upgrade(engine)
        factory = make_session_factory(engine)
        with session_scope(factory) as session:
            generation = active_generation(session) or load_demo_city(
                session, geodata_dir=PROJECT_ROOT / "geodata"
            )
            rows = session.execute(
                select(Grid.code, Grid.geom).where(Grid.generation_id == generation.id)
            ).all()
        engine.dispose()
        codes = [r.code for r in rows]
        geoms = [to_shape(r.geom) for r in rows]
        points = query_points(codes, geoms, args.points, args.seed)
        print(f"{len(codes):,} grids, {len(points):,} query points, {os.cpu_count()} cores")

        settings = Settings(
            database_url=url,
            environment="test",
            escalation_interval=0,
            delivery_interval=0,
            data_dir=Path(tempfile.mkdtemp(prefix="gridgov-bench-var-")),
        )
        services = {
            "gridgov": (create_app(settings), "/api/v1/locate?lon={}&lat={}"),
            "bare": (bare_app(codes, geoms), "/locate?lon={}&lat={}"),
        }
        figures: dict[str, dict[int, dict[str, Any]]] = {}
        for name, (app, template) in services.items():
            paths = [template.format(lon, lat) for lon, lat in points]
            with served_in_thread(app) as base:
                figures[name] = {
                    c: load_from_another_process(base, paths, c, args.seconds) for c in connections
                }
        shutil.rmtree(settings.data_dir, ignore_errors=True)

    print(f"\n{'service':<9}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, by_connections in figures.items():
        for c, f in by_connections.items():
            print(
                f"{name:<9}{c:>6}{f['rps']:>10.0f}{f['p50_ms']:>9.2f}{f['p99_ms']:>9.2f}"
                f"{f['errors']:>8}"
            )
    for c in connections:
        ratio = figures["gridgov"][c]["rps"] / figures["bare"][c]["rps"]
        print(f"gridgov / bare at {c} connection(s): {ratio:.2f}x")
    errors = sum(f["errors"] for by in figures.values() for f in by.values())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
