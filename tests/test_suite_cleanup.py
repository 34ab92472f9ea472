"""The suite's own safety: it only truncates a database it made, and committed work
(partitions included) does not outlive the test that wrote it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, make_url, text

from gridgov.db import make_engine, make_session_factory
from gridgov.sensors.partitions import make_partitions_ahead
from tests.database import NotATestDatabase, check_claimed, claim, cleaned_up_after


@pytest.fixture
def other_database(engine: Engine, database_url: str) -> Iterator[str]:
    """An empty database beside the test one (as on a shared server), dropped after."""
    name = f"other_{uuid.uuid4().hex[:8]}"
    admin = engine.execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))


def test_a_database_with_someone_elses_tables_is_refused(other_database):
    engine = make_engine(other_database)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE incidents (id int)"))
        conn.execute(text("INSERT INTO incidents VALUES (1)"))
    with pytest.raises(NotATestDatabase, match="GRIDGOV_TEST_DATABASE_URL"):
        claim(other_database)
    with engine.begin() as conn, pytest.raises(NotATestDatabase):
        check_claimed(conn)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM incidents")) == 1
    engine.dispose()


def test_an_empty_database_is_claimed_once_and_then_reused(other_database):
    claim(other_database)
    engine = make_engine(other_database)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE incidents (id int)"))  # what the migrations make
    claim(other_database)  # a second run over the same database goes on
    with engine.begin() as conn:
        check_claimed(conn)
    engine.dispose()


def test_committed_work_and_the_partitions_it_made_are_gone_afterwards(engine):
    factory = make_session_factory(engine)
    with cleaned_up_after(engine):
        made = make_partitions_ahead(factory, now=datetime(2036, 2, 1, tzinfo=UTC))
        assert made == ["readings_2036_02", "readings_2036_03", "readings_2036_04"]
    with engine.connect() as conn:
        left = conn.scalar(
            text("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'readings_2036%'")
        )
    assert left == 0
