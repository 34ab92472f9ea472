"""Sign-in throttling: per client address and per account (429 with Retry-After), a
lockout that lapses by the app's clock, and a bounded number of password hashes at once."""

from __future__ import annotations

import logging
import threading

from fastapi.testclient import TestClient

from gridgov.demo import DEMO_PASSWORD
from gridgov.users.service import HashingBusy, HashingSlots
from tests.clock import FakeClock

TOKEN = "/api/v1/auth/token"


def sign_in(client: TestClient, username: str, password: str):
    return client.post(TOKEN, data={"username": username, "password": password})


def test_the_41st_attempt_is_refused_even_with_the_right_password(app_client, caplog):
    # The defaults, as a fresh install has them.
    client = app_client()
    with caplog.at_level(logging.WARNING, logger="gridgov.users.throttle"):
        answers = [sign_in(client, "gridhead", f"guess-{i:04d}") for i in range(40)]
    assert {r.status_code for r in answers} == {401, 429}
    right = sign_in(client, "gridhead", DEMO_PASSWORD)
    assert right.status_code == 429
    assert int(right.headers["retry-after"]) > 0
    assert "access_token" not in right.text
    assert any("locked" in r.message and "gridhead" in r.message for r in caplog.records)

    # Another account, from another address, is not held up.
    elsewhere = TestClient(client.app, client=("203.0.113.7", 50000))
    assert sign_in(elsewhere, "operator", DEMO_PASSWORD).status_code == 200
    # The locked account stays locked from there too: the lock is the account's.
    assert sign_in(elsewhere, "gridhead", DEMO_PASSWORD).status_code == 429


def test_a_lockout_lapses_by_the_clock(app_client):
    clock = FakeClock()
    client = app_client(clock=clock, login_failures_before_lockout=3, login_lockout_seconds=600)
    assert [sign_in(client, "gridhead", "wrong-one").status_code for _ in range(3)] == [401] * 3
    locked = sign_in(client, "gridhead", DEMO_PASSWORD)
    assert locked.status_code == 429 and locked.headers["retry-after"] == "600"
    clock.advance(599)
    assert sign_in(client, "gridhead", DEMO_PASSWORD).headers["retry-after"] == "1"
    clock.advance(1)
    assert sign_in(client, "gridhead", DEMO_PASSWORD).status_code == 200


def test_a_success_starts_the_failure_count_afresh(app_client):
    client = app_client(login_failures_before_lockout=3)
    for _ in range(2):
        assert sign_in(client, "gridhead", "wrong-one").status_code == 401
        assert sign_in(client, "gridhead", "wrong-two").status_code == 401
        assert sign_in(client, "gridhead", DEMO_PASSWORD).status_code == 200


def test_an_address_over_its_limit_waits_whatever_account_it_tries(app_client):
    client = app_client(login_rate_per_address="3/minute")
    for name in ("admin", "operator", "emergency"):
        assert sign_in(client, name, DEMO_PASSWORD).status_code == 200
    refused = sign_in(client, "gridhead", DEMO_PASSWORD)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 60
    other = TestClient(client.app, client=("198.51.100.4", 50000))
    assert sign_in(other, "gridhead", DEMO_PASSWORD).status_code == 200


def test_a_sign_in_finding_every_hashing_slot_taken_is_told_to_retry(app_client):
    client = app_client(password_hash_concurrency=1, password_hash_waiting=0)
    with client.app.state.hashing_slots.slot():  # another sign-in is hashing
        busy = sign_in(client, "gridhead", DEMO_PASSWORD)
    assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
    assert sign_in(client, "gridhead", DEMO_PASSWORD).status_code == 200


def test_hashing_slots_let_a_waiter_in_line_hash_after_the_one_before():
    slots = HashingSlots(concurrent=1, waiting=1)
    holding, release, hashed = threading.Event(), threading.Event(), threading.Event()
    errors: list[Exception] = []

    def hold() -> None:
        with slots.slot():
            holding.set()
            release.wait(10)

    def wait_in_line() -> None:
        try:
            with slots.slot():
                hashed.set()
        except HashingBusy as exc:
            errors.append(exc)

    first = threading.Thread(target=hold)
    first.start()
    assert holding.wait(10)
    second = threading.Thread(target=wait_in_line)
    second.start()
    release.set()
    first.join(10)
    second.join(10)
    assert hashed.is_set() and errors == []
