"""The monthly partitions of ``readings``: made ahead by the service, and on demand for a
batch that reaches a month nobody made (a back-fill, a clock far off).

A partition is made as a plain table and then attached. ``CREATE TABLE ... PARTITION OF``
would lock the whole ``readings`` table against every other batch until the creating
batch commits, and a batch that holds that lock and then waits for a sensor another batch
has locked (and that batch for ``readings``) is a deadlock. ``ATTACH PARTITION`` takes a
lock that writers and readers do not wait for (SHARE UPDATE EXCLUSIVE), and PostgreSQL adds
the parent's indexes (the primary key, the BRIN index on time) to the attached table.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from gridgov.db import session_scope

AHEAD = 2  # months made ahead of the current one
LOCK = "hashtext('gridgov_readings_partitions')"
Month = tuple[int, int]  # year, month; partition bounds are UTC midnights


def month_of(at: datetime) -> Month:
    utc = at.astimezone(UTC)
    return utc.year, utc.month


def next_month(month: Month) -> Month:
    year, m = month
    return (year + m // 12, m % 12 + 1)


def months_from(first: Month, count: int) -> list[Month]:
    months = [first]
    while len(months) < count:
        months.append(next_month(months[-1]))
    return months


def partition_name(month: Month) -> str:
    return f"readings_{month[0]:04d}_{month[1]:02d}"


def existing_partitions(session: Session) -> set[str]:
    return set(
        session.scalars(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'readings'::regclass"
            )
        )
    )


def ensure_partitions(session: Session, months: Iterable[Month], *, wait: bool = True) -> list[str]:
    """Make the partitions these months need and do not have yet, in the caller's
    transaction; returns the names of those made. With ``wait=False``, when another
    transaction is making partitions, make none (and return [])."""
    wanted = sorted(set(months))
    if not wanted or {partition_name(m) for m in wanted} <= existing_partitions(session):
        return []
    # One maker at a time; look again once it is our turn (another may have made them).
    if wait:
        session.execute(text(f"SELECT pg_advisory_xact_lock({LOCK})"))
    elif not session.scalar(text(f"SELECT pg_try_advisory_xact_lock({LOCK})")):
        return []
    existing = existing_partitions(session)
    made = []
    for month in wanted:
        name = partition_name(month)
        if name in existing:
            continue
        end = next_month(month)
        session.execute(text(f"CREATE TABLE {name} (LIKE readings INCLUDING DEFAULTS)"))
        session.execute(
            text(
                f"ALTER TABLE readings ATTACH PARTITION {name} "
                f"FOR VALUES FROM ('{month[0]:04d}-{month[1]:02d}-01 00:00+00') "
                f"TO ('{end[0]:04d}-{end[1]:02d}-01 00:00+00')"
            )
        )
        made.append(name)
    return made


def make_partitions_ahead(
    sessions: sessionmaker[Session], now: datetime | None = None
) -> list[str]:
    """The current month's partition and the next ``AHEAD`` months', in a transaction of
    their own. The service calls this at start and every hour; when a batch is making
    partitions just then, this tick makes none rather than wait (the next one will)."""
    current = month_of(now or datetime.now(UTC))
    with session_scope(sessions) as session:
        return ensure_partitions(session, months_from(current, 1 + AHEAD), wait=False)
