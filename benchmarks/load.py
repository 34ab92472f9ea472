"""The load: a small asyncio HTTP/1.1 client, run in its own process, bounded in time and count.

    python -m benchmarks.load SPEC.json

SPEC holds ``{"base": "http://127.0.0.1:PORT", "connections": 16, "seconds": 5,
"max_requests": 200000, "headers": {...}, "requests": [[method, path, body or null], ...]}``;
the answer, one JSON line on stdout, holds requests/s, p50 and p99 in milliseconds and the
count of answers other than 2xx. Each connection sends its requests one after another on a
kept-alive connection (a closed loop) and opens a new one when the server closes it (gunicorn's
sync workers do after every answer). Only 127.0.0.1 / ::1 are ever contacted.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

LOCAL = ("127.0.0.1", "::1", "localhost")


def raw_requests(host: str, spec: dict[str, Any]) -> list[bytes]:
    """Each request as the bytes to send."""
    common = "".join(f"{k}: {v}\r\n" for k, v in spec.get("headers", {}).items())
    out = []
    for method, path, body in spec["requests"]:
        data = (body or "").encode()
        extra = ""
        if body is not None:
            extra = (
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(data)}\r\n"
            )
        out.append(
            f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{common}{extra}\r\n".encode() + data
        )
    return out


async def _read_answer(reader: asyncio.StreamReader) -> tuple[bytes, bool]:
    """The status line and whether the server keeps the connection open."""
    head = await reader.readuntil(b"\r\n\r\n")
    length, keep = 0, True
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-length":
            length = int(value)
        elif key == b"connection" and value.strip().lower() == b"close":
            keep = False
        elif key == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(length)
    return head.split(b"\r\n", 1)[0], keep


async def _one_connection(
    host: str, port: int, requests: list[bytes], start: int, deadline: float, budget: list[int]
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    n = start
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            request = requests[n % len(requests)]
            n += 1
            sent = time.perf_counter()
            writer.write(request)
            status, keep = await _read_answer(reader)
            latencies.append((time.perf_counter() - sent) * 1000)
            if status[9:10] != b"2":
                errors += 1
            if not keep:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()
    return latencies, errors


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    host, port = spec["base"].removeprefix("http://").rsplit(":", 1)
    if host not in LOCAL:
        raise SystemExit("local services only")
    requests = raw_requests(host, spec)
    warm = spec.get("warmup", 0.5)
    if warm:  # first index build, caches, connection pools: not counted
        await _one_connection(host, int(port), requests, 0, time.perf_counter() + warm, [500])
    budget = [int(spec.get("max_requests", 200_000))]
    started = time.perf_counter()
    deadline = started + float(spec["seconds"])
    results = await asyncio.gather(
        *(
            _one_connection(host, int(port), requests, 1 + c * 7919, deadline, budget)
            for c in range(int(spec["connections"]))
        )
    )
    elapsed = time.perf_counter() - started
    latencies = np.array([ms for found, _ in results for ms in found])
    return {
        "connections": spec["connections"],
        "requests": int(latencies.size),
        "errors": sum(e for _, e in results),
        "seconds": round(elapsed, 3),
        "rps": latencies.size / elapsed,
        "p50_ms": float(np.percentile(latencies, 50)) if latencies.size else None,
        "p99_ms": float(np.percentile(latencies, 99)) if latencies.size else None,
    }


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps(asyncio.run(run(spec))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
