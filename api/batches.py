"""Batch bodies: a JSON array, CSV with a header, or newline-delimited JSON, read as a stream."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi import Request

from gridgov.errors import FieldError

MAX_BATCH_BYTES = 64 * 1024 * 1024


async def batch_rows(request: Request) -> list[dict[str, Any]]:
    """The rows of the request body, by its Content-Type."""
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if kind in ("application/x-ndjson", "application/jsonl", "application/json-seq"):
        return await _ndjson(request)
    body = await _read(request)
    if kind in ("text/csv", "application/csv"):
        text = body.decode("utf-8-sig", errors="replace")
        return [dict(row) for row in csv.DictReader(io.StringIO(text))]
    try:
        data = json.loads(body or b"[]")
    except json.JSONDecodeError as exc:
        raise FieldError("body", "batch.bad_json", reason=exc.msg, line=exc.lineno) from exc
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), None)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise FieldError("body", "batch.not_rows")
    return data


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
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BATCH_BYTES:
            raise FieldError("body", "batch.too_large", limit=MAX_BATCH_BYTES)
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            line_no += 1
            _one(line, line_no, rows)
    if pending.strip():
        _one(pending, line_no + 1, rows)
    return rows


def _one(line: bytes, line_no: int, rows: list[dict[str, Any]]) -> None:
    if not line.strip():
        return
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise FieldError("body", "batch.bad_json", reason=exc.msg, line=line_no) from exc
    if not isinstance(row, dict):
        raise FieldError("body", "batch.not_rows")
    rows.append(row)
