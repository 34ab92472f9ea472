"""The live feed: one LISTEN connection per worker fans PostgreSQL notifications out to
server-sent-event subscribers, each filtered by what its user may read.

Every worker listens to the database, not to itself, so a change made through any worker
(or by the escalation scheduler, or a script) reaches every subscriber.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from gridgov.db import session_scope
from gridgov.incidents.events import CHANNEL, target_from_payload
from gridgov.users.roles import Action, Actor, allowed
from gridgov.users.secret import TokenSecret
from gridgov.users.service import TokenError, user_from_token

log = logging.getLogger(__name__)


class IncidentFeed:
    """Listens on the incidents channel in a thread; subscribers get asyncio queues."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]] = (
            set()
        )
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="gridgov-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(timeout=10)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        with self._lock:
            self._subscribers.add((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        with self._lock:
            self._subscribers = {(loop, q) for loop, q in self._subscribers if q is not queue}

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._ready.set()
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            try:
                                self._publish(json.loads(notice.payload))
                            except Exception:  # one bad notice must not stop the feed
                                log.exception("could not publish a notice")
            except psycopg.Error:
                log.exception("live feed connection lost; reconnecting")
                self._stop.wait(1.0)

    def _publish(self, payload: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_offer, queue, payload)


def _offer(queue: asyncio.Queue[dict[str, Any]], payload: dict[str, Any]) -> None:
    if queue.full():  # a slow client loses the oldest change, never the service
        queue.get_nowait()
    queue.put_nowait(payload)


async def events_for(
    feed: IncidentFeed,
    actor: Actor,
    *,
    recheck: Callable[[], Actor | None],
    recheck_seconds: float,
    closing_message: str = "",
) -> AsyncIterator[dict[str, str]]:
    """Server-sent events of the changes ``actor`` may read, for as long as ``recheck`` (run
    every ``recheck_seconds`` and before every event sent) says the caller is still signed
    in; it answers the actor as the account is now (its scope may have changed) or None."""
    queue = feed.subscribe()
    try:
        yield {"event": "ready", "data": "{}"}
        while True:
            try:
                payload: dict[str, Any] | None = await asyncio.wait_for(
                    queue.get(), timeout=recheck_seconds
                )
            except TimeoutError:
                payload = None
            current = await run_in_threadpool(recheck)
            if current is None:
                data = json.dumps({"message": closing_message}, ensure_ascii=False)
                yield {"event": "closed", "data": data}
                return
            actor = current
            if payload is not None and allowed(actor, Action.READ, target_from_payload(payload)):
                yield {"event": "incident", "data": json.dumps(payload, ensure_ascii=False)}
    finally:
        feed.unsubscribe(queue)


def account_check(
    sessions: sessionmaker[Session], *, token: str, secret: TokenSecret, clock: Callable[[], float]
) -> Callable[[], Actor | None]:
    """A recheck for events_for: the token still valid (signature, expiry, current key) and
    its account still active, answered as the account's actor; None when either lapsed."""

    def check() -> Actor | None:
        with session_scope(sessions) as session:
            try:
                user = user_from_token(
                    session,
                    token=token,
                    secret=secret.current(),
                    now=datetime.fromtimestamp(clock(), UTC),
                )
            except TokenError:
                return None
            return user.actor()

    return check
