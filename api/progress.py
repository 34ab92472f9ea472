"""Long work answered as a stream of progress lines (NDJSON), then its result.

The work runs in a thread of its own with a session of its own (``request_session``: a
test's override honoured; committed when the work ends). The answer starts only once the
work has said something: a refusal found before any progress (a bad template, an area out
of scope) is still the usual problem with its 4xx status. Later the stream carries
``{"done": n, "total": m}`` lines (at most one per percent), and ends with one line holding
either the result's members or ``{"problem": {...}}``, the same problem body a plain answer
would have had. One request, one connection: it works whatever worker of several serves it.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi import Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from api.deps import request_session
from api.errors import problem_for

log = logging.getLogger(__name__)
NDJSON = "application/x-ndjson"

Progress = Callable[[int, int], None]
Work = Callable[[Session, Progress], dict[str, Any]]


async def progress_stream(request: Request, work: Work) -> StreamingResponse:
    """Run ``work(session, progress)`` in a thread; its progress, then its result, streamed."""
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    shown = {"percent": -1}

    def progress(done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        if percent != shown["percent"]:
            shown["percent"] = percent
            events.put(("progress", {"done": done, "total": total}))

    def run() -> None:
        try:
            with request_session(request) as session:
                result = work(session, progress)
            events.put(("result", result))
        except Exception as exc:  # every refusal and bug goes to the caller as a problem
            events.put(("error", exc))

    threading.Thread(target=run, name="gridgov-progress", daemon=True).start()
    first = await anyio.to_thread.run_sync(events.get)
    if first[0] == "error":
        raise first[1]  # the usual handlers answer: a problem with its status

    async def lines() -> AsyncIterator[bytes]:
        event = first
        while True:
            kind, value = event
            if kind == "error":
                answer = await problem_for(request, value)
                if answer.status_code >= 500:  # a bug: its traceback to the log
                    log.error("streamed work failed", exc_info=value)
                yield _line({"problem": json.loads(bytes(answer.body))})
                return
            yield _line(value)
            if kind == "result":
                return
            event = await anyio.to_thread.run_sync(events.get)

    return StreamingResponse(lines(), media_type=NDJSON)


def _line(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode() + b"\n"
