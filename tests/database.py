"""The test database: the tests truncate its tables after committed work, so they only
work in a database they made their own (an empty one, which they mark)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

from gridgov.db import make_engine

MARK = "gridgov tests: tables are truncated after each test that commits"
# gridgov tables whose presence in an unmarked database means someone else's data.
OURS = ("alembic_version", "incidents", "boundary_generations")


class NotATestDatabase(RuntimeError):
    """The database holds data the tests did not put there."""


def _mark(conn: Connection) -> str | None:
    return conn.scalar(
        text(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
            " WHERE datname = current_database()"
        )
    )


def claim(url: str) -> None:
    """Mark an empty database as the tests' own; refuse one with gridgov tables and no mark."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if _mark(conn) == MARK:
                return
            found = [t for t in OURS if conn.scalar(text("SELECT to_regclass(:t)"), {"t": t})]
            if found:
                name = conn.scalar(text("SELECT current_database()"))
                raise NotATestDatabase(
                    f"database {name!r} already has gridgov tables ({', '.join(found)}) and"
                    " was not made by the tests, which truncate tables: point"
                    " GRIDGOV_TEST_DATABASE_URL at an empty database"
                )
            name = conn.scalar(text("SELECT quote_ident(current_database())"))
            conn.execute(text(f"COMMENT ON DATABASE {name} IS '{MARK}'"))
    finally:
        engine.dispose()


def check_claimed(conn: Connection) -> None:
    """Raise unless the tests marked this database (before anything is truncated)."""
    if _mark(conn) != MARK:
        raise NotATestDatabase("refusing to truncate a database the tests did not make")


def reading_partitions(conn: Connection) -> set[str]:
    """The monthly partitions of readings that exist now."""
    return set(
        conn.scalars(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'readings'::regclass"
            )
        )
    )


@contextmanager
def cleaned_up_after(engine: Engine) -> Iterator[None]:
    """Undo what committed work leaves: the incidents, alerts, reservations, deliveries and
    test stock it wrote are truncated or deleted, and the reading partitions it made (for
    2032-2035, say) are dropped. Only in a database the tests marked as theirs."""
    with engine.connect() as conn:
        before = reading_partitions(conn)
    try:
        yield
    finally:
        with engine.begin() as conn:
            check_claimed(conn)
            for name in sorted(reading_partitions(conn) - before):
                conn.execute(text(f'DROP TABLE "{name}"'))
            conn.execute(
                text(
                    "TRUNCATE incident_photos, whistles, incident_events, incidents,"
                    " street_ratings, supply_events, reservation_lines, reservations, alerts,"
                    " fence_events, tracker_sides, notifications, webhook_deliveries, webhooks,"
                    " readings, rule_states, visit_places, visit_registrations,"
                    " register_access_log, register_conflicts, household_visits,"
                    " register_changes, person_tags, people, households, houses, enterprises,"
                    " things, register_batches, patrol_positions, patrol_passes"
                )
            )
            # Stock that tests made (codes T-..., items test_...), not the demo city's.
            conn.execute(text(r"DELETE FROM stock_lots WHERE item_code LIKE 'test\_%'"))
            conn.execute(text("DELETE FROM stockpiles WHERE code LIKE 'T-%'"))
            conn.execute(text(r"DELETE FROM items WHERE code LIKE 'test\_%'"))
