"""Several service processes over one database (`gridgov serve --workers N`): each keeps its
own grid index and live feed, and the once-only jobs run in one of them.

The processes are real (`gridgov serve` in subprocesses) over a database of this module's
own in the tests' cluster: activating a generation there leaves the shared demo database
alone."""

from __future__ import annotations

import os
import queue
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from benchmarks.city import make_city
from benchmarks.suite import free_port, served
from gridgov.boundaries.generations import activate_generation, create_generation
from gridgov.boundaries.importer import import_boundaries
from gridgov.boundaries.io import read_boundary_file
from gridgov.db import make_engine, make_session_factory, session_scope
from gridgov.db.migrate import upgrade
from gridgov.demo import LEVEL_FILES, demo_folder, load_demo_city
from gridgov.jobs import PeriodicJob
from gridgov.leader import LEADER_KEY, Leadership
from gridgov.users.models import User
from gridgov.users.service import create_user, issue_token
from tests.conftest import TEST_SECRET
from tests.test_live_feed import subscribe

GRIDGOV = str(Path(sys.executable).parent / "gridgov")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_city(tmp_path_factory.mktemp("city"), 200)


@pytest.fixture(scope="module")
def own_url(database_url: str, city: Path) -> Iterator[str]:
    """A database of this module's own (a small generated city, one operator)."""
    url = make_url(database_url)
    name = "gridgov_workers_test"
    admin = make_engine(database_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    own = url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(own)
    upgrade(engine)
    with session_scope(make_session_factory(engine)) as session:
        load_demo_city(session, geodata_dir=city, accounts=False)
        create_user(
            session,
            username="op",
            password="not-used-here-1",
            role="operator",
            area_code="990100",
        )
    try:
        yield own
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(scope="module")
def own_engine(own_url: str) -> Iterator[Engine]:
    engine = make_engine(own_url)
    yield engine
    engine.dispose()


def _env(url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "GRIDGOV_DATABASE_URL": url,
        "GRIDGOV_DATA_DIR": str(data_dir),
        "GRIDGOV_SECRET_KEY": TEST_SECRET,
        "GRIDGOV_ENVIRONMENT": "test",
        "GRIDGOV_ESCALATION_INTERVAL": "0.2",
        "GRIDGOV_LOG_LEVEL": "WARNING",
    }


def _token(engine: Engine) -> str:
    with make_session_factory(engine)() as session:
        user = session.query(User).filter_by(username="op").one()
        return issue_token(user, secret=TEST_SECRET).token


def _wait_for(condition, what: str, timeout: float = 60) -> None:
    """Wait for an event (a guard against hanging, not a latency claim)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.1)


@pytest.fixture
def two_processes(own_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two service processes on their own ports (what two workers are, addressable)."""
    with (
        served(
            [GRIDGOV, "serve", "--no-demo", "--host", "127.0.0.1", "--port", str(a := free_port())],
            ready_path="/api/v1/health",
            port=a,
            env=_env(own_url, tmp_path / "var"),
            log=tmp_path / "a.log",
        ) as first,
        served(
            [GRIDGOV, "serve", "--no-demo", "--host", "127.0.0.1", "--port", str(b := free_port())],
            ready_path="/api/v1/health",
            port=b,
            env=_env(own_url, tmp_path / "var"),
            log=tmp_path / "b.log",
        ) as second,
    ):
        yield first, second


def test_a_report_through_one_process_reaches_the_feed_of_the_other(
    two_processes: tuple[str, str], own_engine: Engine
) -> None:
    first, second = two_processes
    token = _token(own_engine)
    received, stop = subscribe(second, token)
    try:
        with httpx.Client(timeout=30) as client:
            point = client.get(f"{first}/api/v1/locate", params={"lon": 109.1, "lat": 21.55})
            assert point.status_code == 200, point.text
            answer = client.post(
                f"{first}/api/v1/incidents",
                data={"lon": 109.1, "lat": 21.55, "category": "0101"},
                headers={"Authorization": f"Bearer {token}"},
            )
        assert answer.status_code == 201, answer.text
        incident_id = answer.json()["id"]
        deadline = time.monotonic() + 30
        while True:
            kind, payload = received.get(timeout=max(0.01, deadline - time.monotonic()))
            if kind == "incident" and payload["id"] == incident_id:
                break
    except queue.Empty:
        pytest.fail("the report made through one process never reached the other's feed")
    finally:
        stop.set()


def test_an_activation_is_seen_by_both_processes(
    two_processes: tuple[str, str], own_engine: Engine, city: Path
) -> None:
    def generation_at(base: str) -> int:
        found = httpx.get(f"{base}/api/v1/locate", params={"lon": 109.1, "lat": 21.55}).json()
        return int(found["generation"]["id"])

    before = {generation_at(base) for base in two_processes}
    assert len(before) == 1
    with session_scope(make_session_factory(own_engine)) as session:
        new = create_generation(session, name="second")
        for level, filename in LEVEL_FILES.items():
            frame = read_boundary_file(demo_folder(city) / filename, level=level)
            import_boundaries(session, frame=frame, level=level, generation_id=new.id)
        activate_generation(session, generation_id=new.id)
        new_id = new.id
    assert new_id not in before
    for base in two_processes:
        _wait_for(lambda base=base: generation_at(base) == new_id, f"{base} sees the activation")


def _leader_locks(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND database = (SELECT oid FROM pg_database"
                    "                 WHERE datname = current_database())"
                    " AND ((classid::bigint << 32) | objid::bigint) = :key"
                ),
                {"key": LEADER_KEY},
            )
        )


def _contenders(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND application_name = 'gridgov-leader'"
                )
            )
        )


def test_two_workers_elect_one_leader(own_url: str, own_engine: Engine, tmp_path: Path) -> None:
    port = free_port()
    command = [GRIDGOV, "serve", "--no-demo", "--host", "127.0.0.1", "--port", str(port)]
    with served(
        [*command, "--workers", "2"],
        ready_path="/api/v1/health",
        port=port,
        env=_env(own_url, tmp_path / "var"),
        log=tmp_path / "workers.log",
    ):
        # Both workers' jobs have asked for the lock (one connection each) ...
        _wait_for(lambda: _contenders(own_engine) == 2, "both workers ask for the leader lock")
        # ... and one of them holds it.
        assert _leader_locks(own_engine) == 1
    _wait_for(lambda: _contenders(own_engine) == 0, "the workers let go")


def test_a_job_runs_in_the_leading_process_only_and_moves_when_it_goes(
    own_url: str, own_engine: Engine
) -> None:
    conninfo = own_url.replace("postgresql+psycopg://", "postgresql://")
    with own_engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS job_runs_test (process text)"))
        conn.execute(text("TRUNCATE job_runs_test"))

    def runs(process: str) -> int:
        with own_engine.connect() as conn:
            return int(
                conn.scalar(
                    text("SELECT count(*) FROM job_runs_test WHERE process = :p"), {"p": process}
                )
            )

    def work(process: str):
        def run() -> None:
            with own_engine.begin() as conn:
                conn.execute(text("INSERT INTO job_runs_test VALUES (:p)"), {"p": process})

        return run

    first_leader, second_leader = Leadership(conninfo), Leadership(conninfo)
    assert first_leader.holds()  # the first to ask leads
    first = PeriodicJob("first", 0.05, work("first"), leader=first_leader)
    second = PeriodicJob("second", 0.05, work("second"), leader=second_leader)
    first.start()
    second.start()
    try:
        _wait_for(lambda: runs("first") >= 10, "the leader's job runs")
        # Ten ticks of the leader's job, as many of the other's: none of them ran the work.
        assert runs("second") == 0
        first.stop()
        first_leader.close()  # the leading process goes: its session and lock with it
        _wait_for(lambda: runs("second") >= 1, "the other process takes over")
    finally:
        first.stop()
        second.stop()
        first_leader.close()
        second_leader.close()
        with own_engine.begin() as conn:
            conn.execute(text("DROP TABLE job_runs_test"))
