"""Engine, sessions and the transaction boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    """Declarative base of every gridgov table."""


def make_engine(url: str, **kwargs: object) -> Engine:
    """Create an engine for a PostgreSQL URL (psycopg 3 driver)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Commit on success, roll back on any error: the caller's transaction boundary."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def resolve_database_url(database_url: str | None, data_dir: Path) -> str:
    """Use the configured server, or start the embedded cluster under ``data_dir``."""
    if database_url:
        return database_url
    from gridgov.db.embedded import cluster_for

    return cluster_for(data_dir).start()
