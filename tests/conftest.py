"""A throwaway PostGIS cluster for the whole run; one rolled-back transaction per test."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from api.deps import get_session
from api.in_thread import served_in_thread
from api.main import create_app
from gridgov.boundaries.models import Generation
from gridgov.config import PROJECT_ROOT, Settings
from gridgov.db import make_engine, make_session_factory, session_scope
from gridgov.db.embedded import EmbeddedCluster
from gridgov.db.migrate import upgrade
from gridgov.demo import load_demo_city
from gridgov.users.models import User
from gridgov.users.service import issue_token
from tests.database import claim, cleaned_up_after

GEODATA = PROJECT_ROOT / "geodata"
# The test apps' signing key: random for each run, so no test relies on a known key.
TEST_SECRET = secrets.token_urlsafe(32)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """GRIDGOV_TEST_DATABASE_URL if given, else a private cluster in a temporary folder."""
    if url := os.environ.get("GRIDGOV_TEST_DATABASE_URL"):
        claim(url)  # refuses a database with data the tests did not put there
        yield url
        return
    root = Path(tempfile.mkdtemp(prefix="gridgov-test-"))
    cluster = EmbeddedCluster(root=root, fast_unsafe=True)
    url = cluster.start()
    claim(url)
    try:
        yield url
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(cluster.socket_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """The test database, built by the Alembic migrations (never create_all)."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def demo_generation_id(engine: Engine) -> int:
    """The demo city, loaded once through the ordinary import path and committed."""
    with session_scope(make_session_factory(engine)) as session:
        return load_demo_city(session, geodata_dir=GEODATA).id


@pytest.fixture
def session(engine: Engine, demo_generation_id: int) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    connection = engine.connect()
    transaction = connection.begin()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    session = factory()
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def demo_generation(session: Session, demo_generation_id: int) -> Generation:
    generation = session.get(Generation, demo_generation_id)
    assert generation is not None
    return generation


@pytest.fixture
def client(database_url: str, session: Session, tmp_path: Path) -> Iterator[TestClient]:
    """The API on the test transaction (commits inside a request release a savepoint)."""
    media_root = tmp_path / "var"
    settings = Settings(
        database_url=database_url,
        environment="test",
        secret_key=TEST_SECRET,
        stream_recheck_seconds=0.2,
        index_check_interval=0,
        escalation_interval=0,
        register_daily_interval=0,
        delivery_interval=0,
        data_dir=media_root,
    )
    app = create_app(settings)

    def test_session() -> Iterator[Session]:
        yield session
        session.flush()

    app.dependency_overrides[get_session] = test_session
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def app_client(
    database_url: str, session: Session, tmp_path: Path
) -> Iterator[Callable[..., TestClient]]:
    """Make API clients on the test transaction with the settings, clock and client address
    the test chooses (``secret_key=None``: the key generated in data_dir)."""
    with ExitStack() as running:

        def make(
            *, clock: Callable[[], float] = time.time, address: str = "testclient", **overrides
        ) -> TestClient:
            values = {
                "database_url": database_url,
                "environment": "test",
                "secret_key": TEST_SECRET,
                "stream_recheck_seconds": 0.2,
                "index_check_interval": 0,
                "escalation_interval": 0,
                "register_daily_interval": 0,
                "delivery_interval": 0,
                "data_dir": tmp_path / "var",
            }
            app = create_app(Settings(**(values | overrides)), clock=clock)

            def test_session() -> Iterator[Session]:
                yield session
                session.flush()

            app.dependency_overrides[get_session] = test_session
            return running.enter_context(TestClient(app, client=(address, 50000)))

        yield make


def token_for(session: Session, username: str) -> str:
    """A bearer token for a (demo) user, signed with the test apps' key."""
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None, username
    return issue_token(user, secret=TEST_SECRET).token


def auth(session: Session, username: str) -> dict[str, str]:
    """Headers that sign a request in as ``username``."""
    return {"Authorization": f"Bearer {token_for(session, username)}"}


@pytest.fixture
def committed(engine: Engine, demo_generation_id: int) -> Iterator[sessionmaker[Session]]:
    """Sessions that really commit (for concurrency, restarts and the live feed); the
    incidents they write are truncated afterwards, and reading partitions they made are
    dropped."""
    with cleaned_up_after(engine):
        yield make_session_factory(engine)


@pytest.fixture
def live_server(
    database_url: str, committed: sessionmaker[Session], tmp_path: Path
) -> Iterator[str]:
    """The real service on 127.0.0.1 (uvicorn in a thread) over the committed database."""
    settings = Settings(
        database_url=database_url,
        environment="test",
        secret_key=TEST_SECRET,
        stream_recheck_seconds=0.2,
        escalation_interval=0,
        register_daily_interval=0,
        delivery_interval=0,
        data_dir=tmp_path / "var",
    )
    with served_in_thread(create_app(settings), start_within=30) as base:
        yield base
