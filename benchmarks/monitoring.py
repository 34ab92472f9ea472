"""Readings ingested per second (library and HTTP, rules evaluated) against a plain COPY of
the same rows, and fence checks per second for positions against 1,000 fences.

Targets on 2 cores: at least 50,000 readings/s with rules (and at least a third of the plain
COPY rate), and at least 20,000 positions/s through fence checks.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
from shapely.geometry import box
from sqlalchemy import select, text

from api.in_thread import served_in_thread
from api.main import create_app
from gridgov.cache import GridIndexCache
from gridgov.config import PROJECT_ROOT, Settings
from gridgov.db import make_engine, make_session_factory, session_scope
from gridgov.db.embedded import EmbeddedCluster
from gridgov.db.migrate import upgrade
from gridgov.demo import load_demo_city
from gridgov.fences.crossing import Dwell
from gridgov.fences.index import FenceIndex
from gridgov.fences.models import Tracker
from gridgov.fences.service import process_positions, save_fence
from gridgov.sensors.ingest import ingest
from gridgov.sensors.models import Sensor
from gridgov.sensors.partitions import ensure_partitions
from gridgov.users.models import User
from gridgov.users.service import issue_token

START = datetime(2026, 1, 1, tzinfo=UTC)


# Typical values (mean, spread) per metric: breaches are rare, as on a normal day.
NORMAL = {
    "dissolved_oxygen": (7.0, 0.6),
    "ph": (7.5, 0.25),
    "turbidity": (10.0, 3.0),
    "tilt": (2.0, 1.0),
    "water_level": (30.0, 8.0),
    "methane": (2.0, 1.0),
    "noise": (55.0, 4.0),
    "temperature": (40.0, 0.3),
    "pressure": (1.0, 0.1),
}


def reading_batches(
    sensors: list[Sensor], total: int, batch: int, offset_days: int
) -> list[list[dict[str, Any]]]:
    """Readings every minute per sensor and metric, mostly normal, sometimes breaching."""
    rng = np.random.default_rng(offset_days)
    series = [(s.code, m) for s in sensors for m in s.metrics]
    rows = []
    minute = 0
    while len(rows) < total:
        at = (START + timedelta(days=offset_days, minutes=minute)).isoformat()
        for code, metric in series:
            rows.append(
                {"sensor": code, "metric": metric, "time": at, "value": _value(rng, metric)}
            )
        minute += 1
    rows = rows[:total]
    return [rows[i : i + batch] for i in range(0, total, batch)]


def _value(rng: np.random.Generator, metric: str) -> float:
    mean, spread = NORMAL.get(metric, (5.0, 1.0))
    return float(rng.normal(mean, spread))


def per_second(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--positions", type=int, default=50_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gridgov-bench-"))
    cluster = EmbeddedCluster(root=root, fast_unsafe=True)
    url = cluster.start()
    try:
        engine = make_engine(url)
        upgrade(engine)
        factory = make_session_factory(engine)
        with session_scope(factory) as session:
            load_demo_city(session, geodata_dir=PROJECT_ROOT / "geodata")
        with session_scope(factory) as session:
            sensors = list(session.scalars(select(Sensor).order_by(Sensor.id)))
            session.expunge_all()
        print(f"cores: {os.cpu_count()}   sensors: {len(sensors)}   batch: {args.batch:,} rows")

        # 1. The library: validation, COPY, duplicates skipped, rules replayed.
        batches = reading_batches(sensors, args.readings, args.batch, offset_days=0)
        started = time.perf_counter()
        for batch in batches:
            with session_scope(factory) as session:
                ingest(session, rows=batch, now=START + timedelta(days=400))
        library = per_second(args.readings, time.perf_counter() - started)

        # 2. HTTP: the same path behind FastAPI, NDJSON bodies.
        secret = secrets.token_urlsafe(32)
        settings = Settings(
            database_url=url,
            environment="test",
            secret_key=secret,
            escalation_interval=0,
            delivery_interval=0,
            data_dir=root / "var",
        )
        with served_in_thread(create_app(settings)) as base:
            with session_scope(factory) as session:
                admin = session.scalar(select(User).where(User.username == "admin"))
                token = issue_token(admin, secret=secret).token
            batches = reading_batches(sensors, args.readings, args.batch, offset_days=100)
            bodies = ["\n".join(json.dumps(r) for r in batch) for batch in batches]
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
            with httpx.Client(timeout=120) as client:
                started = time.perf_counter()
                for body in bodies:
                    response = client.post(f"{base}/api/v1/readings", content=body, headers=headers)
                    response.raise_for_status()
                http = per_second(args.readings, time.perf_counter() - started)

        # 3. The ceiling: a plain COPY of the same number of rows into the same table.
        ids = {s.code: s.id for s in sensors}
        batches = reading_batches(sensors, args.readings, args.batch, offset_days=200)
        with session_scope(factory) as session:  # the same partitions ingest would make
            days = {START + timedelta(days=200 + d) for d in range(0, 60)}
            ensure_partitions(session, {(d.year, d.month) for d in days})
        conninfo = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo) as conn:
            started = time.perf_counter()
            for batch in batches:
                with conn.cursor().copy(
                    "COPY readings (sensor_id, metric, at, value) FROM STDIN"
                ) as copy:
                    for r in batch:
                        copy.write_row((ids[r["sensor"]], r["metric"], r["time"], r["value"]))
                conn.commit()
            plain = per_second(args.readings, time.perf_counter() - started)
        print(
            f"readings/s  library with rules: {library:,.0f}   HTTP with rules: {http:,.0f}"
            f"   plain COPY: {plain:,.0f}"
        )
        print(
            f"ratio to plain COPY  library: {library / plain:.2f}   HTTP: {http / plain:.2f}"
            f"   (targets: >= 50,000/s and >= 0.33)"
        )

        # 4. Fences: 1,000 small fences over the city, trackers wandering through them.
        rng = np.random.default_rng(5)
        with session_scope(factory) as session:
            for n in range(1000):
                x, y = 108.95 + rng.uniform(0, 0.3), 21.4 + rng.uniform(0, 0.3)
                save_fence(
                    session,
                    code=f"BF{n}",
                    name=f"fence {n}",
                    rule="watch",
                    geom=box(x, y, x + 0.005, y + 0.005),
                )
            for n in range(100):
                session.add(Tracker(code=f"BT{n}", name=f"tracker {n}"))
        with factory() as session:  # statistics, as a running database has (autovacuum)
            session.execute(text("ANALYZE"))
            session.commit()
        index = FenceIndex()
        rows = []
        lon = 108.95 + rng.uniform(0, 0.3, 100)
        lat = 21.4 + rng.uniform(0, 0.3, 100)
        for step_no in range(args.positions // 100):
            lon += rng.normal(0, 0.0005, 100)
            lat += rng.normal(0, 0.0005, 100)
            at = (START + timedelta(seconds=5 * step_no)).isoformat()
            rows += [
                {"tracker": f"BT{n}", "time": at, "lon": lon[n], "lat": lat[n]} for n in range(100)
            ]
        with session_scope(factory) as session:
            index.sync(session)
            grids = GridIndexCache().get(session)
        started = time.perf_counter()
        checks = sum(len(index.covering(r["lon"], r["lat"])) >= 0 for r in rows)
        pure = per_second(checks, time.perf_counter() - started)
        started = time.perf_counter()
        events = 0
        for i in range(0, len(rows), 5000):
            with session_scope(factory) as session:
                result = process_positions(
                    session,
                    rows=rows[i : i + 5000],
                    index=index,
                    grid_index=grids,
                    dwell=Dwell(30, 3),
                    now=START + timedelta(days=30),
                )
                events += len(result.events)
        full = per_second(len(rows), time.perf_counter() - started)
        print(
            f"positions/s  index lookups: {pure:,.0f}   full pipeline: {full:,.0f}"
            f"   crossings: {events:,}   (target >= 20,000/s)"
        )
        engine.dispose()
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
