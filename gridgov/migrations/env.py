"""Alembic environment: runs online against the engine handed over in config.attributes."""

from __future__ import annotations

from alembic import context

from gridgov.models import Base

# PostGIS's own tables must never be touched by autogenerate.
POSTGIS_TABLES = {"spatial_ref_sys", "topology", "layer"}


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table" and name in POSTGIS_TABLES:
        return False
    return not (type_ == "table" and reflected and compare_to is None and name.startswith("tiger"))


def run_migrations_online() -> None:
    engine = context.config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_object=include_object,
            compare_type=True,
        )
        context.run_migrations()


run_migrations_online()
