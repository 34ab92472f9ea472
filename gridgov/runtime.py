"""Bring the database up for a process: resolve the URL, start the embedded cluster, migrate."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gridgov.config import Settings
from gridgov.db import make_engine, make_session_factory, resolve_database_url
from gridgov.db.embedded import EmbeddedCluster, cluster_for
from gridgov.db.migrate import upgrade


def prepare_database(settings: Settings, *, migrate: bool = True) -> Engine:
    """An engine on the configured (or embedded) database, upgraded to the latest schema."""
    # A server that stops answering must not hang readiness probes and the watchdog for the
    # minutes a TCP connect can take.
    engine = make_engine(
        resolve_database_url(settings.database_url, settings.data_dir),
        connect_args={"connect_timeout": 10},
        pool_size=settings.db_pool_size,
        max_overflow=10,
    )
    if migrate:
        upgrade(engine)
    return engine


def session_factory(settings: Settings) -> sessionmaker[Session]:
    """A session factory on the prepared database."""
    return make_session_factory(prepare_database(settings))


def embedded_cluster(settings: Settings) -> EmbeddedCluster | None:
    """The service's own cluster, or None when a database server is configured."""
    return None if settings.database_url else cluster_for(settings.data_dir)
