"""The load: a small asyncio HTTP/1.1 client, run in its own process, bounded in time and count.

    python -m benchmarks.load SPEC.json

SPEC holds ``{"base": "http://127.0.0.1:PORT", "connections": 16, "seconds": 5,
"max_requests": 200000, "headers": {...}, "requests": [[method, path, body or null], ...]}``;
the answer, one JSON line on stdout, holds requests/s, p50 and p99 in milliseconds and the
count of answers other than 2xx. Each connection sends its requests one after another on a
kept-alive connection (a closed loop) and opens a new one when the server closes it (gunicorn's
sync workers do after every answer). Only 127.0.0.1 / ::1 are ever contacted.

With ``"rate": R`` in SPEC the load is an open loop instead: request i is due at
``start + i / R`` whatever the server has answered so far, goes out on a free kept-alive
connection (up to ``connections`` of them; when all are busy it waits for one), and its latency
is counted from when it was due, not from when it went out, so a server that falls behind
shows it in p50/p99 instead of slowing the client down (no coordinated omission). The answer
adds the offered rate and how many requests were due but not answered by the deadline.
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
    if spec.get("rate"):
        return await _open_loop(host, int(port), requests, spec)
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


async def _open_loop(
    host: str, port: int, requests: list[bytes], spec: dict[str, Any]
) -> dict[str, Any]:
    rate = float(spec["rate"])
    seconds = float(spec["seconds"])
    count = min(int(rate * seconds), int(spec.get("max_requests", 200_000)))
    limit = int(spec["connections"])
    idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    opened = [0]
    latencies: list[float] = []
    errors = [0]
    deadline_slack = 5.0  # a request unanswered this long after the last one is due is lost

    async def connection() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if idle.empty() and opened[0] < limit:
            opened[0] += 1
            return await asyncio.open_connection(host, port)
        return await idle.get()

    async def one(n: int, due: float) -> None:
        reader, writer = await connection()
        writer.write(requests[n % len(requests)])
        status, keep = await _read_answer(reader)
        latencies.append((time.perf_counter() - due) * 1000)
        if status[9:10] != b"2":
            errors[0] += 1
        if keep:
            idle.put_nowait((reader, writer))
        else:
            writer.close()
            idle.put_nowait(await asyncio.open_connection(host, port))

    start = time.perf_counter() + 0.05
    tasks = []
    for n in range(count):
        due = start + n / rate
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(one(n, due)))
    last_due = start + (count - 1) / rate if count else start
    done, pending = await asyncio.wait(
        tasks, timeout=max(0.0, last_due + deadline_slack - time.perf_counter())
    )
    for task in pending:
        task.cancel()
    elapsed = time.perf_counter() - start
    while not idle.empty():
        idle.get_nowait()[1].close()
    found = np.array(latencies)
    return {
        "connections": limit,
        "offered_rate": rate,
        "requests": int(found.size),
        "unanswered": len(pending),
        "errors": errors[0] + sum(1 for t in done if t.exception() is not None),
        "seconds": round(elapsed, 3),
        "rps": found.size / elapsed,
        "p50_ms": float(np.percentile(found, 50)) if found.size else None,
        "p99_ms": float(np.percentile(found, 99)) if found.size else None,
    }


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps(asyncio.run(run(spec))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
