"""Tell users (inbox) and outside systems (signed webhooks, retried with back-off)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gridgov.db import session_scope
from gridgov.notifications.models import Notification, Webhook, WebhookDelivery
from gridgov.users.models import User

SIGNATURE_HEADER = "X-Gridgov-Signature"
FIRST_RETRY = timedelta(seconds=2)
MAX_RETRY = timedelta(minutes=30)


def notify(
    session: Session,
    *,
    kind: str,
    title: str,
    body: str = "",
    data: dict[str, Any] | None = None,
    user_ids: Iterable[int] = (),
    now: datetime | None = None,
) -> list[Notification]:
    """Put a message in each user's inbox and queue it for every webhook of this kind."""
    now = now or datetime.now(UTC)
    data = data or {}
    notes = [
        Notification(user_id=u, kind=kind, title=title, body=body, data=data, created_at=now)
        for u in dict.fromkeys(user_ids)
    ]
    session.add_all(notes)
    payload = {"kind": kind, "title": title, "body": body, "data": data, "at": now.isoformat()}
    for hook in session.scalars(select(Webhook).where(Webhook.is_active)):
        if kind in hook.kinds or "*" in hook.kinds:
            session.add(
                WebhookDelivery(
                    webhook_id=hook.id,
                    kind=kind,
                    payload=payload,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    session.flush()
    return notes


@dataclass(frozen=True)
class Message:
    """One notification to send: to whom, what kind, what it says."""

    kind: str
    title: str
    user_ids: tuple[int, ...] = ()
    body: str = ""
    data: dict[str, Any] | None = None


def notify_many(session: Session, messages: Iterable[Message], *, now: datetime) -> int:
    """Many notifications with one look at the webhooks and one flush (for busy streams)."""
    hooks = list(session.scalars(select(Webhook).where(Webhook.is_active)))
    count = 0
    for m in messages:
        data = m.data or {}
        for user_id in dict.fromkeys(m.user_ids):
            session.add(
                Notification(
                    user_id=user_id,
                    kind=m.kind,
                    title=m.title,
                    body=m.body,
                    data=data,
                    created_at=now,
                )
            )
        payload = {
            "kind": m.kind,
            "title": m.title,
            "body": m.body,
            "data": data,
            "at": now.isoformat(),
        }
        for hook in hooks:
            if m.kind in hook.kinds or "*" in hook.kinds:
                session.add(
                    WebhookDelivery(
                        webhook_id=hook.id,
                        kind=m.kind,
                        payload=payload,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
        count += 1
    session.flush()
    return count


def department_users(session: Session, department_code: str | None) -> list[int]:
    """The handlers of a department."""
    if not department_code:
        return []
    return list(
        session.scalars(
            select(User.id).where(User.department_code == department_code, User.is_active)
        )
    )


def grid_heads(session: Session, grid_code: str | None) -> list[int]:
    """The grid heads of a grid."""
    if not grid_code:
        return []
    return list(
        session.scalars(
            select(User.id).where(
                User.grid_code == grid_code, User.role == "grid_head", User.is_active
            )
        )
    )


def sign(secret: str, body: bytes) -> str:
    """The signature a receiver checks: ``sha256=`` + HMAC-SHA256 of the raw body.

    >>> sign("s3cret", b'{"a":1}')[:16]
    'sha256=5910e6201'
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> timedelta:
    """Wait before the next try: 2 s, 4 s, 8 s ... at most 30 minutes."""
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), MAX_RETRY)


@dataclass
class DeliveryRun:
    delivered: int = 0
    failed: int = 0
    dead: int = 0


def deliver_due(
    factory: sessionmaker[Session],
    *,
    now: datetime | None = None,
    client: httpx.Client | None = None,
    limit: int = 100,
) -> DeliveryRun:
    """Try every delivery that is due, each in its own transaction (safe across workers)."""
    now = now or datetime.now(UTC)
    run = DeliveryRun()
    own = client is None
    http = client or httpx.Client(timeout=5.0)
    try:
        for _ in range(limit):
            with session_scope(factory) as session:
                delivery = session.scalar(
                    select(WebhookDelivery)
                    .where(
                        WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now
                    )
                    .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
                if delivery is None:
                    break
                hook = session.get(Webhook, delivery.webhook_id)
                assert hook is not None
                _attempt(http, hook, delivery, now, run)
    finally:
        if own:
            http.close()
    return run


def _attempt(
    http: httpx.Client, hook: Webhook, delivery: WebhookDelivery, now: datetime, run: DeliveryRun
) -> None:
    body = json.dumps(
        {"id": delivery.id, **delivery.payload}, ensure_ascii=False, separators=(",", ":")
    ).encode()
    delivery.attempts += 1
    try:
        response = http.post(
            hook.url,
            content=body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(hook.secret, body),
                "X-Gridgov-Delivery": str(delivery.id),
            },
        )
        delivery.last_status = response.status_code
        ok = 200 <= response.status_code < 300
        delivery.last_error = "" if ok else response.text[:500]
    except httpx.HTTPError as exc:
        ok = False
        delivery.last_error = f"{type(exc).__name__}: {exc}"[:500]
    if ok:
        delivery.status = "delivered"
        delivery.delivered_at = now
        run.delivered += 1
    elif delivery.attempts >= hook.max_attempts:
        delivery.status = "dead"  # the dead-letter list
        run.dead += 1
    else:
        delivery.next_attempt_at = now + backoff(delivery.attempts)
        run.failed += 1
