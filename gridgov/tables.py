"""Reading the tables people keep: CSV or spreadsheets, with their own header names, and the
values in them (times, numbers) as batches of JSON rows bring them."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import pandas as pd

from gridgov.errors import Refusal
from gridgov.i18n import DEFAULT_LANGUAGE, Message, catalogue, t

# Offices save CSVs as UTF-8 (Excel adds a BOM) or, on Chinese Windows, as GBK; GB18030 is a
# superset of GBK, so one strict decode of each settles almost every file.
LIKELY_ENCODINGS = ("utf-8-sig", "gb18030")
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


class TableError(Refusal):
    """A file that cannot be read as a table: the message names the file and the reason."""


def detect_encoding(raw: bytes) -> str | None:
    """UTF-8 (with or without BOM), else GB18030/GBK, else charset-normalizer's best guess.

    >>> detect_encoding("经度,纬度".encode("gbk")), detect_encoding("经度".encode("utf-8"))
    ('gb18030', 'utf-8-sig')
    """
    for encoding in LIKELY_ENCODINGS:
        try:
            raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    return best.encoding if best is not None else None


@dataclass(frozen=True)
class TextTable:
    """A CSV read as text, with what is needed to write it back the way it came."""

    frame: pd.DataFrame
    encoding: str
    line_terminator: str


def read_csv_text(path: Path | str, *, encoding: str | None = None) -> TextTable:
    """Every cell as the text it is in the file (``000123`` stays ``000123``; empty stays
    empty), decoded with ``encoding`` or the detected one."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TableError("table.unreadable", path=path, detail=exc.strerror or exc) from exc
    encoding = encoding or detect_encoding(raw)
    if encoding is None:
        raise TableError("table.unknown_encoding", path=path)
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise TableError("table.bad_encoding", path=path, encoding=encoding, detail=exc) from exc
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas raises several kinds for malformed CSV
        raise TableError("table.unreadable", path=path, detail=_first_line(exc)) from exc
    terminator = "\r\n" if "\r\n" in text[:65536] else "\n"
    return TextTable(frame=frame, encoding=encoding, line_terminator=terminator)


def read_table(
    path: Path | str, headers: Mapping[str, str], *, encoding: str | None = None
) -> pd.DataFrame:
    """A CSV (UTF-8 or GBK, detected) or .xlsx as text columns, renamed by ``headers``
    (e.g. 层级 -> level).

    Unknown headers are kept, lower-cased; empty cells are empty strings.
    """
    path = Path(path)
    if not path.exists():
        raise TableError("table.no_such_file", path=path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            table = pd.read_excel(path, dtype=str, keep_default_na=False)
        except Exception as exc:  # pandas and openpyxl raise many kinds
            raise TableError("table.unreadable", path=path, detail=_first_line(exc)) from exc
    else:
        table = read_csv_text(path, encoding=encoding).frame
    return table.rename(columns=lambda c: headers.get(str(c).strip(), str(c).strip().lower()))


@dataclass(frozen=True)
class RowProblem:
    """What is wrong with one cell of a file: its row as a spreadsheet numbers it (the
    header is row 1), its column, and why (a message, or text as a library said it)."""

    row: int
    column: str
    reason: str | Message
    # When ``reason`` is a message key given as text: the values its text names.
    params: tuple[tuple[str, str], ...] = ()

    def said(self, lang: str = "zh") -> str:
        """The reason alone in ``lang`` (a key is translated; plain text stays as it is)."""
        if isinstance(self.reason, Message):
            return self.reason.say(lang)
        if self.params or self.reason in catalogue(DEFAULT_LANGUAGE):
            return t(self.reason, lang, **dict(self.params))
        return self.reason

    def say(self, lang: str = "zh") -> str:
        """The problem in ``lang``: ``第 3 行：reported_at：不是时间``."""
        return t(
            "table.row_problem", lang, row=self.row, column=self.column, reason=self.said(lang)
        )

    def __str__(self) -> str:
        return self.say("en")


def line_problem(lang: str, line: int | None, column: str, reason: str | Message) -> str:
    """One problem of a file in ``lang``: ``第 3 行：quantity：'x' 不是 ≥ 0 的整数`` (the
    line left out when the problem is the file's, not a row's)."""
    said = reason.say(lang) if isinstance(reason, Message) else reason
    if line:
        return t("table.line_problem", lang, line=line, column=column, reason=said)
    return t("table.field_problem", lang, column=column, reason=said)


class RowsRefused(ValueError):
    """A file with bad rows, refused whole: nothing was written. Lists every problem."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems[:20]))
        self.problems = problems


def parse_local_time(value: str, timezone: tzinfo) -> datetime | None:
    """A time as offices write it (ISO 8601, or 2024/05/01 08:30), in the city's time zone
    when it names no offset; None when it is no time.

    >>> from zoneinfo import ZoneInfo
    >>> parse_local_time("2024/05/01 08:30", ZoneInfo("Asia/Shanghai")).isoformat()
    '2024-05-01T08:30:00+08:00'
    >>> parse_local_time("2024-05-01T00:30:00Z", ZoneInfo("Asia/Shanghai")).isoformat()
    '2024-05-01T00:30:00+00:00'
    """
    text = value.strip().replace("/", "-").replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone)


@dataclass(frozen=True)
class Column:
    """One column of a reference table: its name, the most characters it holds, whether a
    row must fill it, and the other headers offices give it (e.g. 编码 for code)."""

    name: str
    width: int
    required: bool = True
    headers: tuple[str, ...] = ()


def read_reference_table(path: Path | str, columns: Sequence[Column]) -> list[dict[str, str]]:
    """Rows of a small catalogue (CSV in UTF-8 or GBK, or .xlsx), checked column by column;
    the first column is the key and may not repeat. Every problem is listed, by row."""
    headers = {h: c.name for c in columns for h in c.headers}
    table = read_table(path, headers)
    missing = [c.name for c in columns if c.required and c.name not in table.columns]
    if missing:
        found = ", ".join(str(c) for c in table.columns)
        raise TableError(
            "table.missing_columns", path=path, missing=", ".join(missing), found=found
        )
    rows = [
        {c.name: str(record.get(c.name, "")).strip() for c in columns}
        for record in table.to_dict("records")
    ]
    problems: list[Message] = []
    seen: set[str] = set()
    key = columns[0].name
    for number, row in enumerate(rows, start=2):
        for column in columns:
            value = row[column.name]
            if column.required and not value:
                problems.append(Message("table.cell_empty", {"row": number, "column": column.name}))
            elif len(value) > column.width:
                problems.append(
                    Message(
                        "table.cell_too_long",
                        {"row": number, "column": column.name, "width": column.width},
                    )
                )
        if row[key] and row[key] in seen:
            problems.append(
                Message("table.key_twice", {"row": number, "column": key, "value": row[key]})
            )
        seen.add(row[key])
    if problems:
        raise TableError("table.bad_rows", path=path, problems=problems)
    return rows


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def parse_time(value: Any, timezone: tzinfo = UTC) -> datetime | None:
    """An ISO 8601 time (a trailing Z allowed; no offset means ``timezone``, the city's for
    readings and positions) within EARLIEST..LATEST, or None: year 1 or 9999 would overflow
    the arithmetic of time zones and rule windows.

    >>> from zoneinfo import ZoneInfo
    >>> parse_time("2026-11-22T08:00:00+08:00").isoformat()
    '2026-11-22T08:00:00+08:00'
    >>> parse_time("2026-11-22T08:00:00", ZoneInfo("Asia/Shanghai")).isoformat()
    '2026-11-22T08:00:00+08:00'
    >>> parse_time("soon") is None, parse_time("0001-01-01T00:00:00Z") is None
    (True, True)
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone)
    return parsed if EARLIEST <= parsed <= LATEST else None


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
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int of 400 digits
        return None
    return number if math.isfinite(number) else None


class TimeCache:
    """Parse each distinct timestamp of a batch once (a batch repeats its timestamps); a
    time without an offset is in ``timezone``."""

    def __init__(self, timezone: tzinfo = UTC) -> None:
        self._seen: dict[str, datetime | None] = {}
        self._timezone = timezone

    def __call__(self, value: Any) -> datetime | None:
        if not isinstance(value, str):
            return parse_time(value, self._timezone)
        if value not in self._seen:
            self._seen[value] = parse_time(value, self._timezone)
        return self._seen[value]
