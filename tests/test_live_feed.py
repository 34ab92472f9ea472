"""The live feed over a real server: a committed change reaches subscribers in its scope."""

from __future__ import annotations

import json
import queue
import threading
import time

import httpx

from gridgov.db import session_scope
from tests.conftest import token_for


def listen(base: str, token: str, into: queue.Queue, stop: threading.Event) -> None:
    """Read the SSE stream, putting each incident event's data on a queue."""
    try:
        _read(base, token, into, stop)
    except httpx.HTTPError:
        return  # the server shut down under us at the end of the test


def _read(base: str, token: str, into: queue.Queue, stop: threading.Event) -> None:
    with (
        httpx.Client(timeout=None) as client,
        client.stream(
            "GET", f"{base}/api/v1/incidents/stream", params={"access_token": token}
        ) as response,
    ):
        # httpx asks for gzip; the stream must come plain, or events would wait in a buffer.
        assert "content-encoding" not in response.headers
        into.put(("status", response.status_code))
        event = None
        for line in response.iter_lines():
            if stop.is_set():
                return
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "incident":
                into.put(("incident", json.loads(line.split(":", 1)[1])))


def subscribe(base: str, token: str) -> tuple[queue.Queue, threading.Event]:
    received: queue.Queue = queue.Queue()
    stop = threading.Event()
    threading.Thread(target=listen, args=(base, token, received, stop), daemon=True).start()
    assert received.get(timeout=10) == ("status", 200)
    return received, stop


def wait_for(received: queue.Queue, incident_id: int, seconds: float) -> dict | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            kind, payload = received.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if kind == "incident" and payload["id"] == incident_id:
            return payload
    return None


def test_a_report_reaches_the_stream_within_two_seconds(live_server, committed):
    with session_scope(committed) as session:
        operator, head, outsider = (
            token_for(session, u) for u in ("operator", "gridhead", "handler_ccg")
        )
    seen_by_operator, stop_a = subscribe(live_server, operator)
    seen_by_outsider, stop_b = subscribe(live_server, outsider)
    time.sleep(0.3)  # let both subscriptions register
    started = time.monotonic()
    response = httpx.post(
        f"{live_server}/api/v1/incidents",
        data={"lon": 109.1, "lat": 21.55, "category": "0102"},
        headers={"Authorization": f"Bearer {head}"},
    )
    assert response.status_code == 201
    incident_id = response.json()["id"]
    event = wait_for(seen_by_operator, incident_id, seconds=2.0)
    assert event is not None, "no event within 2 s"
    assert time.monotonic() - started < 2.0
    assert event["status"] in ("reported", "dispatched") and event["grid"] == "990105009003007"
    # A handler of an unrelated department is not told about it.
    assert wait_for(seen_by_outsider, incident_id, seconds=0.5) is None
    stop_a.set()
    stop_b.set()


def test_the_stream_needs_a_token(live_server):
    response = httpx.get(f"{live_server}/api/v1/incidents/stream", timeout=5)
    assert response.status_code == 401
