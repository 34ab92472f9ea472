"""Nearest-stockpile search over 50,000 stockpiles x 30 items.

Prints p50/p99 of the one-item search and p99 of a three-item plan (straight-line), with
the core count. Targets on 2 cores: one item p99 < 20 ms, three-item plan p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import psycopg
from sqlalchemy import select

from gridgov.config import PROJECT_ROOT
from gridgov.db import make_engine, make_session_factory
from gridgov.db.embedded import EmbeddedCluster
from gridgov.db.migrate import upgrade
from gridgov.supplies.models import Item
from gridgov.supplies.search import find_supplies
from gridgov.supplies.stock import load_items

CENTRE = (109.1, 21.55)
SPAN = 0.5  # degrees each way: a region of about 100 km x 110 km
TODAY = date(2026, 11, 22)


def build(url: str, stockpiles: int, seed: int = 7) -> list[str]:
    """Create the stockpiles and their lots with COPY; return the item codes."""
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine)() as session:
        load_items(session, path=PROJECT_ROOT / "geodata" / "items.csv")
        session.commit()
        items = sorted(session.scalars(select(Item.code)))
    engine.dispose()
    rng = np.random.default_rng(seed)
    lons = CENTRE[0] + rng.uniform(-SPAN, SPAN, stockpiles)
    lats = CENTRE[1] + rng.uniform(-SPAN, SPAN, stockpiles)
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        conn.execute("TRUNCATE stock_lots, stockpiles RESTART IDENTITY CASCADE")
        with conn.cursor().copy(
            "COPY stockpiles (id, code, name, kind, owner_department, position) FROM STDIN"
        ) as copy:
            for n in range(stockpiles):
                copy.write_row(
                    (
                        n + 1,
                        f"B{n:06d}",
                        f"bench {n}",
                        "warehouse",
                        "bench",
                        f"SRID=4326;POINT({lons[n]} {lats[n]})",
                    )
                )
        quantities = rng.integers(0, 200, size=(stockpiles, len(items)))
        reserved = (quantities * rng.uniform(0, 0.3, quantities.shape)).astype(int)
        expired = rng.random(quantities.shape) < 0.1
        buffer = io.StringIO()
        for n in range(stockpiles):
            point = f"SRID=4326;POINT({lons[n]} {lats[n]})"
            for k, item in enumerate(items):
                expires = "2025-01-01" if expired[n, k] else "\\N"
                buffer.write(
                    f"{n + 1}\t{item}\t{quantities[n, k]}\t{reserved[n, k]}\t{expires}\t{point}\n"
                )
        with conn.cursor().copy(
            "COPY stock_lots (stockpile_id, item_code, quantity, reserved, expires_on, position)"
            " FROM STDIN"
        ) as copy:
            copy.write(buffer.getvalue())
        conn.execute("ANALYZE stockpiles")
        conn.execute("ANALYZE stock_lots")
    return items


def _items(url: str) -> list[str]:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        items = sorted(session.scalars(select(Item.code)))
    engine.dispose()
    return items


def timed(fn: Callable[[], None], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stockpiles", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the data already in GRIDGOV_BENCH_DATABASE_URL"
    )
    args = parser.parse_args()
    root = None
    url = os.environ.get("GRIDGOV_BENCH_DATABASE_URL")
    cluster = None
    if url is None:
        root = Path(tempfile.mkdtemp(prefix="gridgov-bench-"))
        cluster = EmbeddedCluster(root=root, fast_unsafe=True)
        url = cluster.start()
    try:
        started = time.perf_counter()
        items = build(url, args.stockpiles) if not args.reuse else _items(url)
        took = time.perf_counter() - started
        print(f"built {args.stockpiles:,} stockpiles x {len(items)} items in {took:.1f} s")
        engine = make_engine(url)
        rng = np.random.default_rng(11)
        with make_session_factory(engine)() as session:

            def one() -> None:
                lon, lat = CENTRE[0] + rng.uniform(-0.3, 0.3), CENTRE[1] + rng.uniform(-0.3, 0.3)
                item = items[rng.integers(len(items))]
                find_supplies(
                    session,
                    lon=lon,
                    lat=lat,
                    demand={item: int(rng.integers(50, 1000))},
                    today=TODAY,
                    limit=10,
                )

            def three() -> None:
                lon, lat = CENTRE[0] + rng.uniform(-0.3, 0.3), CENTRE[1] + rng.uniform(-0.3, 0.3)
                chosen = rng.choice(len(items), 3, replace=False)
                demand = {items[k]: int(rng.integers(50, 1000)) for k in chosen}
                find_supplies(session, lon=lon, lat=lat, demand=demand, today=TODAY, limit=10)

            timed(one, 50)  # warm the caches
            single = timed(one, args.runs)
            plans = timed(three, args.runs)
        engine.dispose()
        print(f"cores: {os.cpu_count()}")
        for label, values, target in (("one item", single, 20), ("three-item plan", plans, 50)):
            print(
                f"{label}: p50 {statistics.median(values):.2f} ms"
                f"   p99 {percentile(values, 99):.2f} ms   (target p99 < {target} ms)"
            )
    finally:
        if cluster is not None and root is not None:
            cluster.stop()
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
