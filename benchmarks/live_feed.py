"""How soon a new report reaches a subscriber of the live feed (the map's "within 2 s").

Starts a throwaway cluster with the demo city and the real service on 127.0.0.1, opens the
server-sent-event stream as the operator, and posts ``--reports`` reports as the grid head,
one at a time: the latency of each is from the POST until its event arrives. Prints the
core count, p50, p95 and the worst. The browser test only checks that the event comes.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from api.in_thread import served_in_thread
from api.main import create_app
from gridgov.config import PROJECT_ROOT, Settings
from gridgov.db import make_engine, make_session_factory, session_scope
from gridgov.db.embedded import EmbeddedCluster
from gridgov.db.migrate import upgrade
from gridgov.demo import load_demo_city
from gridgov.users.models import User
from gridgov.users.service import issue_token


def listen(base: str, token: str, into: queue.Queue) -> None:
    try:
        _read(base, token, into)
    except httpx.HTTPError:
        return  # the service stopped at the end of the run


def _read(base: str, token: str, into: queue.Queue) -> None:
    with (
        httpx.Client(timeout=None) as client,
        client.stream(
            "GET", f"{base}/api/v1/incidents/stream", params={"access_token": token}
        ) as response,
    ):
        event = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("ready", "incident"):
                data = json.loads(line.split(":", 1)[1])
                into.put((event, data.get("id"), time.perf_counter()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=50)
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
        settings = Settings(database_url=url, environment="test", escalation_interval=0,
                            delivery_interval=0, data_dir=root / "var")  # fmt: skip
        secret = settings.secret_key.get_secret_value()
        with session_scope(factory) as session:
            tokens = {
                name: issue_token(
                    session.scalar(select(User).where(User.username == name)), secret=secret
                ).token
                for name in ("operator", "gridhead")
            }
        with served_in_thread(create_app(settings)) as base:
            events: queue.Queue = queue.Queue()
            threading.Thread(target=listen, args=(base, tokens["operator"], events),
                             daemon=True).start()  # fmt: skip
            assert events.get(timeout=30)[0] == "ready"
            latencies = []
            headers = {"Authorization": f"Bearer {tokens['gridhead']}"}
            with httpx.Client(timeout=30) as client:
                for n in range(args.reports):
                    started = time.perf_counter()
                    made = client.post(
                        f"{base}/api/v1/incidents",
                        data={"lon": 109.1, "lat": 21.55 + n * 1e-5, "category": "0102"},
                        headers=headers,
                    ).json()["id"]
                    while True:
                        _, incident, at = events.get(timeout=30)
                        if incident == made:
                            latencies.append((at - started) * 1000)
                            break
        latencies.sort()
        p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
        print(f"cores: {os.cpu_count()}   reports: {len(latencies)}")
        print(f"report -> event: p50 {statistics.median(latencies):.0f} ms,"
              f" p95 {p95:.0f} ms, worst {latencies[-1]:.0f} ms (target: 2,000 ms)")  # fmt: skip
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
