"""Batch bodies: a JSON array, CSV with a header, or newline-delimited JSON, parsed as the
body streams in, with a cap on bytes and on rows.

Nothing reads the whole body first: each chunk is parsed as it arrives (ijson's push parser
for JSON, whole CSV records, whole NDJSON lines), so a body over the limits is refused (413,
the limit in the message) as soon as it goes past them, with nothing written and no more
memory taken than the rows allowed.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable
from typing import Any

import ijson
from fastapi import HTTPException, Request

from api.deps import request_language
from api.params import check_value
from gridgov.errors import FieldError
from gridgov.i18n import t

MAX_DEPTH = 8  # rows are flat objects; deeper nesting is no batch (and no recursion bomb)
BOM = codecs.BOM_UTF8
# How the OpenAPI document shows a batch body (read by batch_rows, not by FastAPI).
BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


async def batch_rows(request: Request) -> list[dict[str, Any]]:
    """The rows of the request body, by its Content-Type, within the batch limits."""
    settings = request.app.state.settings
    limits = Limits(settings.batch_max_rows, settings.batch_max_bytes, request_language(request))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise limits.too_large()
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if kind in ("application/x-ndjson", "application/jsonl", "application/json-seq"):
        reader: Reader = NdjsonRows(limits)
    elif kind in ("text/csv", "application/csv"):
        reader = CsvRows(limits)
    else:
        reader = JsonRows(limits)
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limits.max_bytes:
            raise limits.too_large()
        reader.feed(chunk)
    return reader.close()


class Limits:
    """How much one batch may hold, and the 413 answers when it holds more."""

    def __init__(self, max_rows: int, max_bytes: int, lang: str) -> None:
        self.max_rows, self.max_bytes, self.lang = max_rows, max_bytes, lang

    def too_large(self) -> HTTPException:
        message = t("batch.too_large", self.lang, limit=self.max_bytes)
        return HTTPException(413, detail={"message": message})

    def check_rows(self, count: int) -> None:
        if count > self.max_rows:
            message = t("batch.too_many_rows", self.lang, limit=self.max_rows)
            raise HTTPException(413, detail={"message": message})


class Reader:
    """Takes the body a chunk at a time; ``close`` gives the rows."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.rows: list[dict[str, Any]] = []

    def feed(self, chunk: bytes) -> None:
        raise NotImplementedError

    def close(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def add(self, row: dict[str, Any]) -> None:
        check_value(row, f"body.{len(self.rows)}")  # no NUL (PostgreSQL stores none), no NaN
        self.rows.append(row)
        self.limits.check_rows(len(self.rows))


class JsonRows(Reader):
    """A JSON array of objects, or an object whose first array value holds them."""

    def __init__(self, limits: Limits) -> None:
        super().__init__(limits)
        self.events = ijson.sendable_list()
        self.parser = ijson.basic_parse_coro(self.events, use_float=True)
        self.started = False
        self.depth = 0
        self.rows_depth: int | None = None  # where the row objects are
        self.rows_open = False  # inside the array of rows
        self.row: Any = None  # the ObjectBuilder of the row being read

    def feed(self, chunk: bytes) -> None:
        if not self.started:
            chunk = chunk.removeprefix(BOM)
            self.started = bool(chunk)
        if not chunk:
            return  # an empty send would end the parser
        try:
            self.parser.send(chunk)
        except (ijson.JSONError, ValueError) as exc:
            self._take(self.events)  # the rows before the error count (the row limit first)
            raise _bad_json(exc) from exc
        self._take(self.events)
        del self.events[:]

    def close(self) -> list[dict[str, Any]]:
        if not self.started:
            return []  # an empty body: no rows
        try:
            self.parser.close()
        except (ijson.JSONError, ValueError) as exc:
            raise _bad_json(exc) from exc
        self._take(self.events)
        if self.rows_depth is None:
            raise FieldError("body", "batch.not_rows")
        return self.rows

    def _take(self, events: Iterable[tuple[str, Any]]) -> None:
        for event, value in events:
            opens = event in ("start_map", "start_array")
            closes = event in ("end_map", "end_array")
            if self.row is not None:  # inside a row: build it
                self.row.event(event, value)
            elif self.depth == 0 and event == "start_array":
                self.rows_depth, self.rows_open = 1, True
            elif self.depth == 0 and event != "start_map":
                raise FieldError("body", "batch.not_rows")
            elif self.depth == 1 and event == "start_array" and self.rows_depth is None:
                self.rows_depth, self.rows_open = 2, True  # {"readings": [...]}: the first array
            elif self.rows_open and self.depth == self.rows_depth:
                if closes:
                    self.rows_open = False  # the rest of a wrapping object is ignored
                elif event != "start_map":
                    raise FieldError("body", "batch.not_rows")
                else:
                    self.row = ijson.ObjectBuilder()
                    self.row.event(event, value)
            self.depth += opens - closes
            if self.depth > MAX_DEPTH:
                raise FieldError("body", "batch.not_rows")
            if self.row is not None and closes and self.depth == self.rows_depth:
                self.add(self.row.value)
                self.row = None


class NdjsonRows(Reader):
    """One JSON object per line, each line parsed as soon as it is whole."""

    def __init__(self, limits: Limits) -> None:
        super().__init__(limits)
        self.pending: list[bytes] = []  # the start of a line not yet whole
        self.line_no = 0

    def feed(self, chunk: bytes) -> None:
        if b"\n" not in chunk:
            self.pending.append(chunk)
            return
        *lines, rest = b"".join([*self.pending, chunk]).split(b"\n")
        self.pending = [rest]
        for line in lines:
            self.line_no += 1
            self._one(line)

    def close(self) -> list[dict[str, Any]]:
        last = b"".join(self.pending)
        if last.strip():
            self.line_no += 1
            self._one(last)
        return self.rows

    def _one(self, line: bytes) -> None:
        if self.line_no == 1:
            line = line.removeprefix(BOM)
        if not line.strip():
            return
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FieldError("body", "batch.bad_json", reason=exc.msg, line=self.line_no) from exc
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise FieldError(
                "body", "batch.bad_json", reason=_short(exc), line=self.line_no
            ) from exc
        if not isinstance(row, dict):
            raise FieldError("body", "batch.not_rows")
        self.add(row)


class CsvRows(Reader):
    """CSV with a header line; records are parsed once whole (a quoted field may hold a line
    break, so a record ends at a line break outside quotes)."""

    def __init__(self, limits: Limits) -> None:
        super().__init__(limits)
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.pending = ""  # text after the last whole record
        self.quoted = False  # whether ``pending`` ends inside a quoted field
        self.header: list[str] | None = None

    def feed(self, chunk: bytes) -> None:
        self._text(self._decode(chunk, final=False))

    def close(self) -> list[dict[str, Any]]:
        self._text(self._decode(b"", final=True))
        if self.pending:
            self._records([self.pending])
        return self.rows

    def _decode(self, chunk: bytes, *, final: bool) -> str:
        try:
            return self.decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            raise FieldError("body", "batch.bad_encoding") from exc

    def _text(self, text: str) -> None:
        if "\n" not in text and "\r" not in text:
            self.pending += text  # no record ends here
            return
        # Whole records: up to the last line break outside quotes. Quotes inside a quoted
        # field are doubled, so the parity of the quote count says where we are.
        lines = (self.pending + text).splitlines(keepends=True)
        whole_until = 0
        quoted = False
        for n, line in enumerate(lines):
            quoted ^= line.count('"') % 2 == 1
            if not quoted and line.endswith(("\n", "\r")):
                whole_until = n + 1
        self._records(lines[:whole_until])
        self.pending = "".join(lines[whole_until:])

    def _records(self, lines: list[str]) -> None:
        if not lines:
            return
        try:
            records = list(csv.reader(lines))
        except csv.Error as exc:
            raise FieldError("body", "batch.bad_csv", reason=str(exc)) from exc
        for record in records:
            if not record:
                continue  # a blank line
            if self.header is None:
                self.header = record
                continue
            row: dict[str, Any] = dict(zip(self.header, record, strict=False))
            for name in self.header[len(record) :]:
                row[name] = None
            self.add(row)


def _bad_json(exc: Exception) -> FieldError:
    return FieldError("body", "batch.bad_json_body", reason=_short(exc))


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
