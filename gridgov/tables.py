"""Reading the tables people keep: CSV or spreadsheets, with their own header names, and the
values in them (times, numbers) as batches of JSON rows bring them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd


class TableError(ValueError):
    """A file that cannot be read as a table: the message names the file and the reason."""


def read_table(path: Path | str, headers: Mapping[str, str]) -> pd.DataFrame:
    """A CSV or .xlsx as text columns, renamed by ``headers`` (e.g. 层级 -> level).

    Unknown headers are kept, lower-cased; empty cells are empty strings.
    """
    path = Path(path)
    if not path.exists():
        raise TableError(f"{path}: no such file")
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            table = pd.read_excel(path, dtype=str, keep_default_na=False)
        else:
            table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except Exception as exc:  # pandas and openpyxl raise many kinds
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TableError(f"{path}: {reason}") from exc
    return table.rename(columns=lambda c: headers.get(str(c).strip(), str(c).strip().lower()))


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time (a trailing Z allowed; no zone means UTC), or None.

    >>> parse_time("2026-11-22T08:00:00+08:00").isoformat()
    '2026-11-22T08:00:00+08:00'
    >>> parse_time("soon") is None
    True
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_number(value: Any) -> float | None:
    """A finite number, or None (booleans are not numbers here).

    >>> parse_number("3.5"), parse_number(True), parse_number("nan")
    (3.5, None, None)
    """
    if type(value) is float:  # the common case, straight from JSON
        return value if math.isfinite(value) else None
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class TimeCache:
    """Parse each distinct timestamp of a batch once (a batch repeats its timestamps)."""

    def __init__(self) -> None:
        self._seen: dict[str, datetime | None] = {}

    def __call__(self, value: Any) -> datetime | None:
        if not isinstance(value, str):
            return parse_time(value)
        if value not in self._seen:
            self._seen[value] = parse_time(value)
        return self._seen[value]
