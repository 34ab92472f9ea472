"""The embedded cluster: created on first use, owned by an unprivileged user, stoppable."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import threading
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from gridgov.cli import app
from gridgov.config import get_settings
from gridgov.db.embedded import cluster_for

runner = CliRunner(env={"GRIDGOV_LANG": "en"})


@pytest.fixture
def private_data_dir(monkeypatch):
    # A 0700 folder, like `mktemp -d`: the cluster must still be reachable by its user.
    root = Path(tempfile.mkdtemp(prefix="gridgov-embedded-"))
    monkeypatch.delenv("GRIDGOV_DATABASE_URL", raising=False)
    monkeypatch.setenv("GRIDGOV_DATA_DIR", str(root / "var"))
    get_settings.cache_clear()
    yield root / "var"
    cluster_for(root / "var").stop()
    get_settings.cache_clear()
    shutil.rmtree(root, ignore_errors=True)


def test_db_start_status_stop(private_data_dir):
    started = runner.invoke(app, ["db", "start"])
    assert started.exit_code == 0, started.output
    cluster = cluster_for(private_data_dir)
    assert cluster.is_running()
    with psycopg.connect(cluster.conninfo()) as conn:
        version = conn.execute("SELECT postgis_lib_version()").fetchone()[0]
        assert version.startswith("3.")
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables")}
        assert {"areas", "grids", "boundary_generations", "departments"} <= tables
    if os.geteuid() == 0:
        assert pwd.getpwuid(cluster.pgdata.stat().st_uid).pw_name == "postgres"
    # Listens on a unix socket only: no TCP port is configured.
    conf = cluster.pgdata.joinpath("postgresql.conf").read_text()
    assert "listen_addresses = ''" in conf

    status = runner.invoke(app, ["db", "status"])
    assert status.exit_code == 0 and status.output.startswith("running at ")
    stopped = runner.invoke(app, ["db", "stop"])
    assert stopped.output.strip() == "stopped"
    assert not cluster.is_running()
    status = runner.invoke(app, ["db", "status"])
    assert (status.exit_code, status.output.strip()) == (1, "not running")
    # A second start reuses the cluster (idempotent), and a second stop is harmless.
    assert runner.invoke(app, ["db", "start"]).exit_code == 0
    assert runner.invoke(app, ["db", "stop"]).output.strip() == "stopped"
    assert runner.invoke(app, ["db", "stop"]).output.strip() == "not running"


def test_db_start_refuses_when_an_external_server_is_configured(monkeypatch):
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", "postgresql://example/db")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["db", "start"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "GRIDGOV_DATABASE_URL" in result.output


def test_watchdogs_of_several_workers_restart_a_dead_cluster_once(private_data_dir):
    """Every API worker runs a watchdog; when the server dies they all try to start it at
    the same moment. One starts it, the others wait for it and find it running."""
    cluster = cluster_for(private_data_dir)
    cluster.start()
    cluster.stop()
    ready = threading.Barrier(3)
    failures: list[BaseException] = []

    def start() -> None:
        ready.wait()
        try:
            cluster.start()
        except BaseException as error:  # reported by the assertion below
            failures.append(error)

    workers = [threading.Thread(target=start) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    assert cluster.is_running()
