"""Inbox and webhooks: a real receiver on 127.0.0.1 that fails the first attempts."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import select

from gridgov.db import session_scope
from gridgov.notifications.addresses import AddressRefused, parse_allow_list
from gridgov.notifications.models import Notification, Webhook, WebhookDelivery
from gridgov.notifications.service import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    add_webhook,
    backoff,
    deliver_due,
    notify,
)
from gridgov.users.models import User
from tests.conftest import auth, token_for

SECRET = "a-long-shared-secret-for-tests"
# The receivers of these tests listen on 127.0.0.1, which webhooks may reach only when the
# city lists it (GRIDGOV_WEBHOOK_ALLOW), as it would for an internal receiver.
LOCAL = parse_allow_list("127.0.0.1")
NONE = parse_allow_list("")


class Receiver:
    """An HTTP server that answers 503 to the first ``failures`` posts, then 200."""

    def __init__(self, failures: int, answer: bytes = b"busy") -> None:
        self.failures = failures
        self.received: list[tuple[dict, str, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((json.loads(body), dict(self.headers), body))
                status = 503 if len(outer.received) <= outer.failures else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(answer if status == 503 else b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(failures: int, answer: bytes = b"busy") -> Receiver:
        made.append(Receiver(failures, answer))
        return made[-1]

    yield make
    for r in made:
        r.close()


def add_hook(factory, url, max_attempts=6):
    with session_scope(factory) as session:
        hook = Webhook(url=url, secret=SECRET, kinds=["fence_breach"], max_attempts=max_attempts)
        session.add(hook)
        session.flush()
        user = session.scalar(select(User).where(User.username == "operator"))
        notify(
            session,
            kind="fence_breach",
            title="渔船甲 进入 水源保护区",
            data={"fence": "F1"},
            user_ids=[user.id],
            now=T0,
        )
        notify(session, kind="other", title="not for this hook", now=T0)
        return hook.id


T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def deliveries(factory, hook_id):
    with session_scope(factory) as session:
        return session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook_id)
        ).all()


def test_delivery_survives_a_receiver_that_fails_at_first(committed, receiver):
    target = receiver(failures=2)
    hook_id = add_hook(committed, target.url)
    now = T0
    first = deliver_due(committed, now=now, allow=LOCAL)
    assert (first.delivered, first.failed) == (0, 1)
    # Not due yet: nothing is tried before the back-off has passed.
    assert deliver_due(committed, now=now + timedelta(seconds=1), allow=LOCAL).failed == 0
    now += backoff(1)
    assert deliver_due(committed, now=now, allow=LOCAL).failed == 1
    now += backoff(2)
    assert deliver_due(committed, now=now, allow=LOCAL).delivered == 1
    [delivery] = deliveries(committed, hook_id)
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 3, 200)
    # Every attempt is kept, not only the last.
    assert delivery.attempt_log == [
        {"at": T0.isoformat(), "status": 503, "error": "busy"},
        {"at": (T0 + backoff(1)).isoformat(), "status": 503, "error": "busy"},
        {"at": (T0 + backoff(1) + backoff(2)).isoformat(), "status": 200, "error": ""},
    ]
    assert len(target.received) == 3
    payload, headers, body = target.received[-1]
    assert payload["kind"] == "fence_breach" and payload["data"] == {"fence": "F1"}
    # The signature covers the timestamp and the body, so a captured request goes stale.
    stamp = headers[TIMESTAMP_HEADER]
    assert stamp.isdigit() and abs(int(stamp) - time.time()) < 60
    expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(headers[SIGNATURE_HEADER], "sha256=" + expected.hexdigest())
    unsigned_time = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] != "sha256=" + unsigned_time


def test_a_receiver_that_never_answers_ends_in_the_dead_letters(
    committed, receiver, client, session
):
    target = receiver(failures=100)
    hook_id = add_hook(committed, target.url, max_attempts=3)
    now = T0
    for attempt in range(1, 4):
        deliver_due(committed, now=now, allow=LOCAL)
        now += backoff(attempt)
    [delivery] = deliveries(committed, hook_id)
    assert (delivery.status, delivery.attempts) == ("dead", 3)
    dead = client.get("/api/v1/webhooks/dead-letters", headers=auth(session, "admin")).json()
    assert [(d["id"], len(d["attempt_log"])) for d in dead if d["webhook_id"] == hook_id] == [
        (delivery.id, 3)
    ]


def test_only_dead_deliveries_can_be_retried(committed, receiver, client, session):
    target = receiver(failures=0)
    hook_id = add_hook(committed, target.url)
    deliver_due(committed, now=T0, allow=LOCAL)
    [delivery] = deliveries(committed, hook_id)
    assert delivery.status == "delivered"
    again = client.post(
        f"/api/v1/webhooks/deliveries/{delivery.id}/retry", headers=auth(session, "admin")
    )
    assert again.status_code == 409


def test_backoff_doubles_and_is_capped():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    assert backoff(30) == timedelta(minutes=30)


def test_inbox(client, session):
    user = session.scalar(select(User).where(User.username == "gridhead"))
    notify(session, kind="incident", title="你上报的事件已处置", user_ids=[user.id])
    inbox = client.get(
        "/api/v1/notifications", params={"unread": True}, headers=auth(session, "gridhead")
    ).json()
    assert inbox[0]["title"] == "你上报的事件已处置"
    read = client.post(
        f"/api/v1/notifications/{inbox[0]['id']}/read", headers=auth(session, "gridhead")
    )
    assert read.status_code == 200
    assert client.post(f"/api/v1/notifications/{inbox[0]['id']}/read",
                       headers=auth(session, "operator")).status_code == 403  # fmt: skip
    assert session.get(Notification, inbox[0]["id"]).read_at is not None


def test_every_attempt_is_kept_even_when_nobody_answers(committed, receiver):
    gone = receiver(failures=0)
    url = gone.url
    gone.close()  # nothing listens on that port any more
    hook_id = add_hook(committed, url)
    deliver_due(committed, now=T0, allow=LOCAL)
    deliver_due(committed, now=T0 + backoff(1), allow=LOCAL)
    [delivery] = deliveries(committed, hook_id)
    assert [(a["at"], a["status"]) for a in delivery.attempt_log] == [
        (T0.isoformat(), None),
        ((T0 + backoff(1)).isoformat(), None),
    ]
    assert all(a["error"].startswith("ConnectError") for a in delivery.attempt_log)


def test_a_switched_off_webhook_gets_nothing_until_switched_on(committed, receiver):
    target = receiver(failures=0)
    hook_id = add_hook(committed, target.url)
    with session_scope(committed) as session:
        session.get(Webhook, hook_id).is_active = False
    run = deliver_due(committed, now=T0 + timedelta(hours=1), allow=LOCAL)
    assert (run.delivered, run.failed, run.dead) == (0, 0, 0)
    [delivery] = deliveries(committed, hook_id)
    assert (delivery.status, delivery.attempts, delivery.attempt_log) == ("pending", 0, [])
    assert target.received == []
    with session_scope(committed) as session:
        session.get(Webhook, hook_id).is_active = True
    assert deliver_due(committed, now=T0 + timedelta(hours=1), allow=LOCAL).delivered == 1
    assert [payload["data"] for payload, _, _ in target.received] == [{"fence": "F1"}]


def test_switching_a_webhook_and_reading_a_deliverys_history(client, session):
    hook = Webhook(url="http://127.0.0.1:9/hook", secret=SECRET, kinds=["alert"])
    session.add(hook)
    session.flush()
    notify(session, kind="alert", title="告警", now=T0)
    admin = auth(session, "admin")
    off = client.patch(f"/api/v1/webhooks/{hook.id}", json={"is_active": False}, headers=admin)
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert session.get(Webhook, hook.id).is_active is False
    bad = client.patch(f"/api/v1/webhooks/{hook.id}", json={"is_active": "maybe"}, headers=admin)
    assert bad.status_code == 422
    missing = client.patch("/api/v1/webhooks/999999", json={"is_active": True}, headers=admin)
    assert (missing.status_code, missing.json()["detail"]) == (
        404,
        "Webhook 999999 不存在",
    )
    no_delivery = client.get("/api/v1/webhooks/deliveries/999999", headers=admin)
    assert (no_delivery.status_code, no_delivery.json()["detail"]) == (
        404,
        "投递记录 999999 不存在",
    )
    delivery = session.scalar(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id))
    seen = client.get(f"/api/v1/webhooks/deliveries/{delivery.id}", headers=admin)
    assert seen.status_code == 200
    assert {k: seen.json()[k] for k in ("status", "attempts", "attempt_log")} == {
        "status": "pending",
        "attempts": 0,
        "attempt_log": [],
    }
    assert (
        client.get(
            f"/api/v1/webhooks/deliveries/{delivery.id}", headers=auth(session, "operator")
        ).status_code
        == 403
    )


HOSTILE = [
    "http://127.0.0.1/hook",
    "http://[::1]/hook",
    "http://0x7f000001/hook",
    "http://2130706433/hook",
    "http://127.1/hook",
    "http://0177.0.0.1/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://240.0.0.1/hook",
    "http://[fe80::1]/hook",
    "http://localhost:8000/hook",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_a_webhook_to_an_internal_address_is_refused(client, session, url):
    made = client.post(
        "/api/v1/webhooks",
        json={"url": url, "secret": SECRET, "kinds": ["alert"]},
        headers=auth(session, "admin"),
    )
    assert made.status_code == 422, made.text
    assert "url" in made.text
    assert session.scalar(select(Webhook).where(Webhook.secret == SECRET)) is None


def test_a_webhook_to_a_public_address_is_made(client, session):
    made = client.post(
        "/api/v1/webhooks",
        json={"url": "https://93.184.215.14/hook", "secret": SECRET, "kinds": ["alert"]},
        headers=auth(session, "admin"),
    )
    assert made.status_code == 201, made.text


def resolver(*answers: str):
    """A resolver that gives these addresses for every name (the system's is not asked)."""
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return list(answers)

    resolve.asked = asked  # type: ignore[attr-defined]
    return resolve


def test_every_address_of_a_name_is_checked(session):
    url = "https://hooks.example.test/hook"
    public = resolver("93.184.215.14")
    assert add_webhook(session, url=url, secret=SECRET, kinds=["alert"], allow=NONE,
                       resolve=public).id  # fmt: skip
    for answers in (("127.0.0.1",), ("93.184.215.14", "::1"), ("::ffff:169.254.169.254",)):
        with pytest.raises(AddressRefused) as refused:
            add_webhook(session, url=url, secret=SECRET, kinds=["alert"], allow=NONE,
                        resolve=resolver(*answers))  # fmt: skip
        assert refused.value.field == "url"
    with pytest.raises(AddressRefused, match="cannot be resolved"):
        add_webhook(session, url=url, secret=SECRET, kinds=["alert"], allow=NONE,
                    resolve=resolver())  # fmt: skip
    # The city's own receivers, by network or by name.
    for allow in (parse_allow_list("10.8.0.0/16"), parse_allow_list("hooks.example.test")):
        assert add_webhook(session, url=url, secret=SECRET, kinds=["alert"], allow=allow,
                           resolve=resolver("10.8.3.4")).id  # fmt: skip


def test_the_address_is_checked_again_at_delivery(committed, receiver):
    """A name that resolved to a public address when the hook was made and to loopback now
    (DNS rebinding) gets nothing."""
    target = receiver(failures=0)
    port = target.server.server_address[1]
    with session_scope(committed) as session:
        hook = add_webhook(session, url=f"http://rebind.example.test:{port}/hook",
                           secret=SECRET, kinds=["alert"], allow=NONE,
                           resolve=resolver("93.184.215.14"))  # fmt: skip
        notify(session, kind="alert", title="告警", now=T0)
        hook_id = hook.id
    run = deliver_due(committed, now=T0, allow=NONE, resolve=resolver("127.0.0.1"))
    assert (run.delivered, run.failed) == (0, 1)
    assert target.received == []
    [delivery] = deliveries(committed, hook_id)
    assert "127.0.0.1" in delivery.last_error and delivery.last_status is None


def test_delivery_connects_to_the_address_it_checked(committed, receiver):
    """The name is resolved once, by the check; the connection goes to that address and the
    name travels in Host (the system could not resolve this name at all)."""
    target = receiver(failures=0)
    port = target.server.server_address[1]
    local = resolver("127.0.0.1")
    with session_scope(committed) as session:
        hook = add_webhook(session, url=f"http://receiver.invalid:{port}/hook", secret=SECRET,
                           kinds=["alert"], allow=LOCAL, resolve=local)  # fmt: skip
        notify(session, kind="alert", title="告警", now=T0)
        hook_id = hook.id
    assert deliver_due(committed, now=T0, allow=LOCAL, resolve=local).delivered == 1
    [(_, headers, _)] = target.received
    assert headers["Host"] == f"receiver.invalid:{port}"
    [delivery] = deliveries(committed, hook_id)
    assert delivery.status == "delivered"


def test_only_a_short_clean_excerpt_of_an_answer_is_kept(committed, receiver):
    target = receiver(failures=100, answer=b"\x1b[2J<html>" + b"secret " * 5000 + b"\r\n")
    hook_id = add_hook(committed, target.url)
    deliver_due(committed, now=T0, allow=LOCAL)
    [delivery] = deliveries(committed, hook_id)
    assert delivery.last_status == 503
    assert delivery.last_error.startswith("[2J<html>secret")
    assert len(delivery.last_error) <= 200
    assert not any(ch < " " for ch in delivery.last_error)
    assert delivery.attempt_log[-1]["error"] == delivery.last_error


def test_a_dead_letter_retried_by_hand_is_delivered(live_server, committed, receiver):
    # (A webhook made over HTTP: test_a_webhook_to_a_public_address_is_made.)
    target = receiver(failures=2)
    hook_id = add_hook(committed, target.url, max_attempts=2)
    with session_scope(committed) as session:
        admin = {"Authorization": f"Bearer {token_for(session, 'admin')}"}
    deliver_due(committed, now=T0, allow=LOCAL)
    deliver_due(committed, now=T0 + backoff(1), allow=LOCAL)
    [delivery] = deliveries(committed, hook_id)
    assert (delivery.status, delivery.attempts) == ("dead", 2)
    retried = httpx.post(
        f"{live_server}/api/v1/webhooks/deliveries/{delivery.id}/retry", headers=admin
    )
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    run = deliver_due(committed, now=datetime.now(UTC) + timedelta(seconds=1), allow=LOCAL)
    assert run.delivered == 1
    [delivery] = deliveries(committed, hook_id)
    assert (delivery.status, delivery.last_status) == ("delivered", 200)
    assert [a["status"] for a in delivery.attempt_log] == [503, 503, 200]
    assert [p["data"] for p, _, _ in target.received] == [{"fence": "F1"}] * 3


def test_a_tick_with_nothing_due_makes_no_http_client(committed, monkeypatch):
    """The delivery job ticks every few seconds in a serving process: a client (its TLS
    context reads and parses the CA bundle) only when something is to be sent."""
    made = []
    real = httpx.Client

    def counting(*args, **kwargs):
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(httpx, "Client", counting)
    run = deliver_due(committed, now=T0, allow=LOCAL)
    assert (run.delivered, run.failed, made) == (0, 0, [])
