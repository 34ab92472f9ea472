"""Batch bodies: a JSON array, CSV with a header, or newline-delimited JSON, read as a stream."""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Any

from fastapi import Request

from api.params import check_value
from gridgov.errors import FieldError

MAX_BATCH_BYTES = 64 * 1024 * 1024
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
    """The rows of the request body, by its Content-Type."""
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if kind in ("application/x-ndjson", "application/jsonl", "application/json-seq"):
        return await _ndjson(request)
    body = await _read(request)
    if kind in ("text/csv", "application/csv"):
        return _csv(_text(body, 1).removeprefix("\ufeff"))
    data = _loads(body or b"[]", 1)
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), None)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise FieldError("body", "batch.not_rows")
    return _checked(data, b"\\u0000" in body)


def _csv(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        rows = [dict(row) for row in reader]
    except csv.Error as exc:  # a field beyond csv's size limit, a broken quote
        raise FieldError("body", "batch.bad_csv", line=reader.line_num, reason=exc) from None
    return _checked(rows, "\x00" in text)


def _text(data: bytes, line: int) -> str:
    """UTF-8 text, or FieldError naming the line of the first byte that is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line += data[: exc.start].count(b"\n")
        raise FieldError("body", "batch.bad_utf8", line=line) from None


def _loads(data: bytes, line: int) -> Any:
    """JSON from line ``line`` on; FieldError (never a 500) for invalid UTF-8, bad JSON,
    nesting beyond Python's recursion limit, NaN/Infinity and integers of over 4,300 digits."""
    text = _text(data, line)
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        line += exc.lineno - 1
        raise FieldError("body", "batch.bad_json", reason=exc.msg, line=line) from None
    except RecursionError:
        raise FieldError("body", "batch.too_deep", line=line) from None
    except ValueError as exc:  # NaN, or an integer beyond the interpreter's digit limit
        key = "batch.not_finite" if "constant" in str(exc) else "batch.number_too_long"
        raise FieldError("body", key, line=line, limit=sys.get_int_max_str_digits()) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"constant {name}")


def _checked(rows: list[dict[str, Any]], suspect: bool) -> list[dict[str, Any]]:
    """The rows, once a NUL character (PostgreSQL stores none) is known to be in none of them;
    ``suspect``: the raw body holds one (a cheap test, so clean batches are not walked)."""
    if suspect:
        check_value(rows, "body")
    return rows


async def _read(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BATCH_BYTES:
            raise FieldError("body", "batch.too_large", limit=MAX_BATCH_BYTES)
        chunks.append(chunk)
    return b"".join(chunks)


async def _ndjson(request: Request) -> list[dict[str, Any]]:
    """Parse line by line as the body streams in."""
    rows: list[dict[str, Any]] = []
    pending = b""
    line_no = 0
    size = 0
    suspect = False
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BATCH_BYTES:
            raise FieldError("body", "batch.too_large", limit=MAX_BATCH_BYTES)
        pending += chunk
        suspect = suspect or b"\\u0000" in pending
        *lines, pending = pending.split(b"\n")
        for line in lines:
            line_no += 1
            _one(line, line_no, rows)
    if pending.strip():
        _one(pending, line_no + 1, rows)
    return _checked(rows, suspect)


def _one(line: bytes, line_no: int, rows: list[dict[str, Any]]) -> None:
    if not line.strip():
        return
    row = _loads(line, line_no)
    if not isinstance(row, dict):
        raise FieldError("body", "batch.not_rows")
    rows.append(row)
