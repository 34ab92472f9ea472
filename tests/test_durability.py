"""Kill -9 the service and its PostgreSQL under load: nothing acknowledged is lost or doubled.

The real service (``gridgov serve``) runs as a process on 127.0.0.1 over its own embedded
cluster in a temporary folder, with the demo city. A client in a thread sends reports (each
with its Idempotency-Key) and readings batches (idempotent by sensor, metric and time),
retrying every one until it is acknowledged. Meanwhile the test kills the API process and
starts it again, then kills the postmaster and waits for the service's watchdog to bring it
back. Afterwards every acknowledged report exists exactly once, with the id the client was
given, and every row of every acknowledged batch exists exactly once.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from gridgov.config import PROJECT_ROOT
from gridgov.db.embedded import EmbeddedCluster, cluster_for

pytestmark = pytest.mark.slow

# Bounds, not pauses: each wait ends as soon as its event happens.
FIRST_START_WITHIN = 150.0  # initdb, migrations and the demo city, on a busy machine
RESTART_WITHIN = 60.0
PROGRESS_WITHIN = 60.0
STEP = 4  # acknowledgements to wait for between the blows


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """``gridgov serve`` as a child process, restartable on the same port and data folder."""

    data_dir: Path
    port: int
    log: Path
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cluster(self) -> EmbeddedCluster:
        return cluster_for(self.data_dir)

    def start(self, within: float) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDGOV_")}
        env |= {
            "GRIDGOV_DATA_DIR": str(self.data_dir),
            "GRIDGOV_SECRET_KEY": self.secret,
            "GRIDGOV_ESCALATION_INTERVAL": "0",
            "GRIDGOV_DELIVERY_INTERVAL": "0",
            "GRIDGOV_DB_WATCHDOG_INTERVAL": "0.5",
            "GRIDGOV_LOG_FORMAT": "json",
            "PYTHONPATH": str(PROJECT_ROOT),
        }
        command = [sys.executable, "-c", "from gridgov.cli import app; app()", "serve"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=self.data_dir.parent,  # no stray .env of the project
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(lambda: self.ready() is not None, within, "the service did not become ready")

    def ready(self) -> dict[str, Any] | None:
        """The readiness answer when ready, else None (raises if the process died)."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the service exited: {self.log.read_text()[-3000:]}")
        try:
            r = httpx.get(f"{self.base}/readyz", timeout=5)
        except httpx.HTTPError:
            return None
        return dict(r.json()) if r.status_code == 200 else None

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def kill_postmaster(self) -> int:
        pid = self.cluster.postmaster_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        return pid


def wait_for(condition: Callable[[], bool], within: float, failure: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(failure)
        time.sleep(0.1)


class RetryingClient(threading.Thread):
    """Sends report i and batch i, each until acknowledged, for i = 0, 1, 2, ..."""

    def __init__(self, base: str, token: str) -> None:
        super().__init__(name="durability-client", daemon=True)
        self.http = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=15
        )
        self.stop = threading.Event()
        self.progress = threading.Condition()
        self.reports: dict[str, int] = {}  # idempotency key -> incident id, acknowledged
        self.batches: list[list[dict[str, Any]]] = []  # acknowledged batches
        self.refusals: list[str] = []  # answers that no retry can fix
        self.unavailable: list[httpx.Response] = []  # the 503s seen on the way
        self.start_at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    @property
    def acknowledged(self) -> int:
        return len(self.reports) + len(self.batches)

    def wait_for_more(self, count: int) -> None:
        target = self.acknowledged + count
        with self.progress:
            if not self.progress.wait_for(
                lambda: self.acknowledged >= target or bool(self.refusals), PROGRESS_WITHIN
            ):
                raise AssertionError(f"no progress past {self.acknowledged} acknowledgements")
        assert not self.refusals, self.refusals

    def run(self) -> None:
        i = 0
        while not self.stop.is_set() and not self.refusals:
            self._report(i)
            self._batch(i)
            i += 1

    def _report(self, i: int) -> None:
        key = f"durability-{i}"
        answer = self._until_acknowledged(
            lambda: self.http.post(
                "/api/v1/incidents",
                data={"lon": "109.1", "lat": "21.55", "category": "0102"},
                headers={"Idempotency-Key": key, "X-Request-ID": f"dur-report-{i}"},
            )
        )
        if answer is not None:
            self._acknowledge(lambda: self.reports.__setitem__(key, answer["id"]))

    def _batch(self, i: int) -> None:
        rows = [
            {
                "sensor": "SN0006",
                "metric": "methane",
                "time": (self.start_at + timedelta(seconds=i * 5 + j)).isoformat(),
                "value": 1.0 + j / 10,
            }
            for j in range(5)
        ]
        answer = self._until_acknowledged(
            lambda: self.http.post(
                "/api/v1/readings", json=rows, headers={"X-Request-ID": f"dur-batch-{i}"}
            )
        )
        if answer is not None:
            self._acknowledge(lambda: self.batches.append(rows))

    def _acknowledge(self, note: Callable[[], None]) -> None:
        with self.progress:
            note()
            self.progress.notify_all()

    def _until_acknowledged(self, send: Callable[[], httpx.Response]) -> dict[str, Any] | None:
        while not self.stop.is_set():
            try:
                r = send()
            except httpx.HTTPError:  # the service is down or restarting
                time.sleep(0.1)
                continue
            if r.status_code in (200, 201):
                return dict(r.json())
            if r.status_code == 503:
                self.unavailable.append(r)
                time.sleep(0.1)
                continue
            self.refusals.append(f"{r.status_code} {r.text}")
            with self.progress:
                self.progress.notify_all()
            return None
        return None


@pytest.fixture
def service() -> Iterator[Service]:
    root = Path(tempfile.mkdtemp(prefix="gridgov-durability-"))
    service = Service(data_dir=root / "var", port=free_port(), log=root / "service.log")
    try:
        yield service
    finally:
        if service.process is not None and service.process.poll() is None:
            service.kill()
        service.cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(service.cluster.socket_dir, ignore_errors=True)


def test_kill_api_and_postgres_under_load_loses_and_doubles_nothing(service: Service):
    service.start(FIRST_START_WITHIN)
    login = httpx.post(
        f"{service.base}/api/v1/auth/token",
        data={"username": "operator", "password": "gridgov-demo"},
        timeout=30,
    )
    assert login.status_code == 200, login.text
    client = RetryingClient(service.base, login.json()["access_token"])
    client.start()
    try:
        client.wait_for_more(STEP)

        service.kill()  # the API, mid-load
        service.start(RESTART_WITHIN)
        client.wait_for_more(STEP)

        restarts_before = service.ready() or {}
        old_postmaster = service.kill_postmaster()  # PostgreSQL, mid-load
        wait_for(
            lambda: (
                (service.ready() or {}).get("database", {}).get("restarts", 0)
                > restarts_before.get("database", {}).get("restarts", 0)
            ),
            RESTART_WITHIN,
            "the watchdog did not start PostgreSQL again",
        )
        assert service.cluster.postmaster_pid() != old_postmaster
        client.wait_for_more(STEP)
    finally:
        client.stop.set()
        client.join(timeout=30)
    assert not client.refusals, client.refusals

    with psycopg.connect(service.cluster.conninfo()) as conn:
        stored = dict(
            conn.execute(
                "SELECT idempotency_key, id FROM incidents"
                " WHERE idempotency_key LIKE 'durability-%'"
            ).fetchall()
        )
        per_key = conn.execute(
            "SELECT idempotency_key, count(*) FROM incidents"
            " WHERE idempotency_key LIKE 'durability-%' GROUP BY 1 HAVING count(*) > 1"
        ).fetchall()
        readings = conn.execute(
            "SELECT r.at, count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id"
            " WHERE s.code = 'SN0006' AND r.metric = 'methane' AND r.at >= %s GROUP BY r.at",
            (client.start_at,),
        ).fetchall()
        (audit,) = conn.execute(
            "SELECT count(*) FROM incident_events e JOIN incidents i ON i.id = e.incident_id"
            " WHERE i.idempotency_key LIKE 'durability-%' AND e.request_id LIKE 'dur-report-%'"
        ).fetchone() or (0,)
    assert per_key == []
    # Every acknowledged report is there, once, under the id the client was told.
    assert {key: stored.get(key) for key in client.reports} == client.reports
    counts = {at: n for at, n in readings}
    for batch in client.batches:
        for row in batch:
            assert counts.get(datetime.fromisoformat(row["time"])) == 1, row
    assert audit >= len(client.reports)

    # 503s, when the client met any, were problem documents telling it when to come back.
    for r in client.unavailable:
        assert r.headers["content-type"].startswith("application/problem+json")
        assert int(r.headers["Retry-After"]) > 0
    # The service's log: one JSON object per line, request lines carrying the client's id.
    lines = [
        json.loads(line) for line in service.log.read_text().splitlines() if line.startswith("{")
    ]
    assert any(line.get("request_id") == "dur-report-0" for line in lines)
    assert any("starting it again" in line.get("event", "") for line in lines)
