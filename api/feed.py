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
from collections.abc import AsyncIterator
from typing import Any

import psycopg

from gridgov.incidents.events import CHANNEL, target_from_payload
from gridgov.users.roles import Action, Actor, allowed

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


async def events_for(feed: IncidentFeed, actor: Actor) -> AsyncIterator[dict[str, str]]:
    """Server-sent events of the changes ``actor`` may read."""
    queue = feed.subscribe()
    try:
        yield {"event": "ready", "data": "{}"}
        while True:
            payload = await queue.get()
            if allowed(actor, Action.READ, target_from_payload(payload)):
                yield {"event": "incident", "data": json.dumps(payload, ensure_ascii=False)}
    finally:
        feed.unsubscribe(queue)
