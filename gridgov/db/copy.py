"""Bulk writes by COPY, and ids taken from a table's sequence ahead of them.

An import or a history of years writes tens of thousands of rows: the ORM's unit of work and
the multi-row INSERT statements it builds cost seconds there (most of it turning each long
statement into PostgreSQL's form, again for every page of rows), COPY a fraction of that.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session


def copy_rows(
    session: Session,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    json_columns: Iterable[str] = (),
) -> None:
    """Write ``rows`` (values in ``columns`` order) into ``table`` in the session's
    transaction; values of ``json_columns`` are dumped as JSON (None stays SQL NULL)."""
    as_json = [c in set(json_columns) for c in columns]
    raw = session.connection().connection.driver_connection
    assert raw is not None
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(
                [
                    json.dumps(value, ensure_ascii=False) if dump and value is not None else value
                    for value, dump in zip(row, as_json, strict=True)
                ]
            )


def next_ids(session: Session, table: str, count: int, column: str = "id") -> list[int]:
    """``count`` fresh ids from the sequence behind ``table.column``, in one round trip."""
    if count == 0:
        return []
    sequence = "SELECT nextval(pg_get_serial_sequence(:table, :column))"
    ids = text(f"{sequence} FROM generate_series(1, :n)")
    return list(session.scalars(ids, {"table": table, "column": column, "n": count}))
