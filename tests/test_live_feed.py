"""The live feed over a real server: a committed change reaches subscribers in its scope."""

from __future__ import annotations

import json
import queue
import threading
import time
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import delete

from api.in_thread import served_in_thread
from api.main import create_app
from gridgov.config import Settings
from gridgov.db import session_scope
from gridgov.users.models import User
from gridgov.users.secret import rotate_secret
from gridgov.users.service import create_user, issue_token
from tests.clock import FakeClock
from tests.conftest import TEST_SECRET, token_for


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
            elif line.startswith("data:") and event == "ready":
                into.put(("ready", None))  # subscribed: every later change reaches us
            elif line.startswith("data:") and event == "incident":
                into.put(("incident", json.loads(line.split(":", 1)[1])))


def subscribe(base: str, token: str) -> tuple[queue.Queue, threading.Event]:
    received: queue.Queue = queue.Queue()
    stop = threading.Event()
    threading.Thread(target=listen, args=(base, token, received, stop), daemon=True).start()
    assert received.get(timeout=30) == ("status", 200)
    assert received.get(timeout=30) == ("ready", None)
    return received, stop


def events_until(received: queue.Queue, incident_id: int) -> list[dict]:
    """Every incident event up to and including the first about ``incident_id``.

    The 30 s are a guard against hanging, not a latency claim (benchmarks/live_feed.py
    measures that)."""
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            kind, payload = received.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if kind == "incident":
            seen.append(payload)
            if payload["id"] == incident_id:
                return seen
    raise AssertionError(f"no event about incident {incident_id}; saw {seen}")


def test_a_report_reaches_the_subscribers_in_its_scope_only(live_server, committed):
    with session_scope(committed) as session:
        operator, head, outsider = (
            token_for(session, u) for u in ("operator", "gridhead", "handler_ccg")
        )
    seen_by_operator, stop_a = subscribe(live_server, operator)
    seen_by_outsider, stop_b = subscribe(live_server, outsider)
    response = httpx.post(
        f"{live_server}/api/v1/incidents",
        data={"lon": 109.1, "lat": 21.55, "category": "0102"},
        headers={"Authorization": f"Bearer {head}"},
    )
    assert response.status_code == 201
    incident_id = response.json()["id"]
    event = events_until(seen_by_operator, incident_id)[-1]
    assert event["status"] in ("reported", "dispatched") and event["grid"] == "990105009003007"
    # A handler of an unrelated department is not told about it. Changes reach a subscriber
    # in order, so once the outsider hears of a later incident sent to its department, the
    # first one would have come before it.
    later = httpx.post(
        f"{live_server}/api/v1/incidents",
        data={"lon": 109.1, "lat": 21.55, "category": "0102"},
        headers={"Authorization": f"Bearer {head}"},
    ).json()["id"]
    sent = httpx.post(
        f"{live_server}/api/v1/incidents/{later}/dispatch",
        json={"department_code": "990100-CG"},
        headers={"Authorization": f"Bearer {operator}"},
    )
    assert sent.status_code == 200, sent.text
    told = events_until(seen_by_outsider, later)
    assert [e["id"] for e in told] == [later]
    stop_a.set()
    stop_b.set()


def test_the_stream_needs_a_token(live_server):
    response = httpx.get(f"{live_server}/api/v1/incidents/stream", timeout=5)
    assert response.status_code == 401


def read_to_the_end(base: str, token: str, into: queue.Queue) -> None:
    """Put the status, then each (event, data), then ("end", None) once the server closes."""
    try:
        with (
            httpx.Client(timeout=httpx.Timeout(10, read=None)) as client,
            client.stream(
                "GET", f"{base}/api/v1/incidents/stream", params={"access_token": token}
            ) as response,
        ):
            into.put(("status", response.status_code))
            event = None
            for line in response.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    into.put((event, json.loads(line.split(":", 1)[1])))
    except httpx.HTTPError as exc:
        into.put(("error", str(exc)))
    into.put(("end", None))


def open_stream(base: str, token: str) -> queue.Queue:
    """A stream read in a thread, once it has said it is ready."""
    received: queue.Queue = queue.Queue()
    threading.Thread(target=read_to_the_end, args=(base, token, received), daemon=True).start()
    assert received.get(timeout=20) == ("status", 200)
    assert received.get(timeout=20) == ("ready", {})
    return received


def events_until_the_end(received: queue.Queue) -> list[str]:
    """The kinds of event the stream sent until the server closed it (at most 30 s)."""
    kinds = []
    while (item := received.get(timeout=30))[0] != "end":
        kinds.append(item[0])
    return kinds


@pytest.fixture
def watcher(committed):
    """A committed operator account of the test's own, removed afterwards."""
    with session_scope(committed) as session:
        user = create_user(
            session,
            username="feed_watcher",
            password="watch-the-feed",
            role="operator",
            area_code="990105",
        )
        user_id = user.id
    yield user_id
    with session_scope(committed) as session:
        session.execute(delete(User).where(User.id == user_id))


def test_a_switched_off_account_s_stream_ends(live_server, committed, watcher):
    with session_scope(committed) as session:
        token = issue_token(session.get(User, watcher), secret=TEST_SECRET).token
    received = open_stream(live_server, token)
    with session_scope(committed) as session:
        session.get(User, watcher).is_active = False
    assert events_until_the_end(received) == ["closed"]


def test_an_expired_token_s_stream_ends(database_url, committed, tmp_path, watcher):
    clock = FakeClock()
    settings = Settings(
        database_url=database_url,
        environment="test",
        secret_key=TEST_SECRET,
        stream_recheck_seconds=0.2,
        escalation_interval=0,
        delivery_interval=0,
        data_dir=tmp_path / "var",
    )
    issued_at = datetime.fromtimestamp(clock(), UTC)
    with session_scope(committed) as session:
        user = session.get(User, watcher)
        token = issue_token(user, secret=TEST_SECRET, hours=1, now=issued_at).token
    with served_in_thread(create_app(settings, clock=clock), start_within=30) as base:
        received = open_stream(base, token)
        clock.advance(3600)
        assert events_until_the_end(received) == ["closed"]
        # and it cannot be opened again with that token
        response = httpx.get(f"{base}/api/v1/incidents/stream?access_token={token}", timeout=10)
        assert response.status_code == 401


def test_rotating_the_key_ends_every_stream(database_url, committed, tmp_path, watcher):
    settings = Settings(
        database_url=database_url,
        environment="test",
        stream_recheck_seconds=0.2,
        escalation_interval=0,
        delivery_interval=0,
        data_dir=tmp_path / "var",
    )
    with served_in_thread(create_app(settings), start_within=30) as base:
        signed_in = httpx.post(
            f"{base}/api/v1/auth/token",
            data={"username": "feed_watcher", "password": "watch-the-feed"},
            timeout=30,
        )
        received = open_stream(base, signed_in.json()["access_token"])
        rotate_secret(tmp_path / "var")
        assert events_until_the_end(received) == ["closed"]
