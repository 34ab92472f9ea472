"""Engine, sessions and the transaction boundary."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


def upsert_statement(model: type[Base], rows: list[dict[str, Any]], *, keys: Sequence[str]) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE of every other column the rows carry."""
    from sqlalchemy.dialects.postgresql import insert

    statement = insert(model).values(rows)
    return statement.on_conflict_do_update(
        index_elements=[getattr(model, k) for k in keys],
        set_={c: statement.excluded[c] for c in rows[0] if c not in keys},
    )


def upsert(
    session: Session, model: type[Base], rows: list[dict[str, Any]], *, keys: Sequence[str]
) -> int:
    """Insert rows, updating the ones whose keys exist already; returns how many."""
    if rows:
        session.execute(upsert_statement(model, rows, keys=keys))
        session.flush()
    return len(rows)
