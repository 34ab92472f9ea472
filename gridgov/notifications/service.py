"""Tell users (inbox) and outside systems (signed webhooks, retried with back-off).

Each webhook delivery is an HTTP POST of a JSON body with these headers:

- ``X-Gridgov-Timestamp``: when it was sent, in whole seconds since 1970-01-01 UTC;
- ``X-Gridgov-Signature``: ``sha256=`` + the hex HMAC-SHA256, under the webhook's secret,
  of the timestamp, a full stop and the raw body (``b"1764650000." + body``);
- ``X-Gridgov-Delivery``: the delivery's id (the same on every retry).

Webhooks reach public addresses only, unless listed in ``GRIDGOV_WEBHOOK_ALLOW`` (see
``addresses``): the URL is checked when the webhook is made and again before every attempt,
and the attempt connects to the address that was checked. No redirect is followed. Of a
receiver's answer only a short excerpt is kept (``EXCERPT`` characters, control characters
removed), and no more of it is read than that.

A receiver recomputes the signature and refuses a timestamp more than a few minutes away
from its own clock, so a captured request cannot be replayed later. Every attempt is kept
on the delivery (``attempt_log``). A webhook that is switched off (``is_active`` false) gets
nothing: its pending deliveries stay pending, untried, until it is switched on again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import DateTime, insert, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, sessionmaker

from gridgov.db import session_scope
from gridgov.errors import OutOfScope
from gridgov.notifications.addresses import (
    AddressRefused,
    AllowList,
    Resolver,
    Target,
    check_url,
    system_resolver,
)
from gridgov.notifications.models import Notification, Webhook, WebhookDelivery
from gridgov.users.models import User

SIGNATURE_HEADER = "X-Gridgov-Signature"
TIMESTAMP_HEADER = "X-Gridgov-Timestamp"
FIRST_RETRY = timedelta(seconds=2)
MAX_RETRY = timedelta(minutes=30)
EXCERPT = 200  # characters of a receiver's answer (or of an error) kept on a delivery
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def add_webhook(
    session: Session,
    *,
    url: str,
    secret: str,
    kinds: list[str],
    max_attempts: int = 6,
    allow: AllowList,
    resolve: Resolver = system_resolver,
) -> Webhook:
    """A new webhook, if its URL reaches an address it may (AddressRefused naming ``url``)."""
    check_url(url, allow=allow, resolve=resolve)
    hook = Webhook(url=url, secret=secret, kinds=kinds, max_attempts=max_attempts)
    session.add(hook)
    session.flush()
    return hook


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
    _queue_deliveries(session, kind=kind, title=title, body=body, data=data, now=now)
    session.flush()
    return notes


def notify_department(
    session: Session,
    *,
    department_code: str | None,
    kind: str,
    title: str,
    body: str = "",
    data: dict[str, Any] | None = None,
    now: datetime,
) -> int:
    """``notify`` the active users of a department, found and told in one statement (the
    report path's: no round trip to list them first); how many were told. As with
    ``notify`` to nobody, no webhook hears of it when the department has no one."""
    if not department_code:
        return 0
    data = data or {}
    users = select(
        User.id,
        literal(kind),
        literal(title),
        literal(body),
        literal(data, JSONB),
        literal(now, DateTime(timezone=True)),
    ).where(User.department_code == department_code, User.is_active)
    told = session.execute(
        insert(Notification)
        .from_select(["user_id", "kind", "title", "body", "data", "created_at"], users)
        .returning(Notification.id)
    ).all()
    if told:
        _queue_deliveries(session, kind=kind, title=title, body=body, data=data, now=now)
        session.flush()
    return len(told)


def _queue_deliveries(
    session: Session, *, kind: str, title: str, body: str, data: dict[str, Any], now: datetime
) -> None:
    """A delivery for every active webhook of this kind (added, not flushed)."""
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


def mark_read(
    session: Session, *, notification_id: int, user_id: int, now: datetime | None = None
) -> Notification | None:
    """Mark one of the user's notifications read (None: no such notification; OutOfScope:
    it is someone else's)."""
    note = session.get(Notification, notification_id)
    if note is None:
        return None
    if note.user_id != user_id:
        raise OutOfScope("scope.notification", id=notification_id)
    note.read_at = note.read_at or now or datetime.now(UTC)
    return note


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature a receiver checks: ``sha256=`` + HMAC-SHA256 of ``"<timestamp>." + body``.

    >>> sign("s3cret", 1764650000, b'{"a":1}')[:23]
    'sha256=6ee2cf02d763d065'
    """
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


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
    allow: AllowList | None = None,
    resolve: Resolver = system_resolver,
) -> DeliveryRun:
    """Try every delivery that is due, each in its own transaction (safe across workers).

    ``allow`` is the city's allow-list (``GRIDGOV_WEBHOOK_ALLOW``); without it, only public
    addresses are reached."""
    allow = allow or AllowList()
    now = now or datetime.now(UTC)
    run = DeliveryRun()
    # Made only when something is due: the job ticks every few seconds, and a client's TLS
    # context (the CA bundle read and parsed) cost every tick ~10 ms of a busy worker's CPU.
    http = client
    try:
        for _ in range(limit):
            with session_scope(factory) as session:
                # A switched-off webhook's deliveries are left pending (not tried, not
                # counted as failures) until it is switched on again.
                found = session.execute(
                    select(WebhookDelivery, Webhook)
                    .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                    .where(
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at <= now,
                        Webhook.is_active,
                    )
                    .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                    .limit(1)
                    .with_for_update(of=WebhookDelivery, skip_locked=True)
                ).first()
                if found is None:
                    break
                delivery, hook = found
                if http is None:
                    http = httpx.Client(timeout=5.0, follow_redirects=False, trust_env=False)
                _attempt(http, hook, delivery, now, run, allow=allow, resolve=resolve)
    finally:
        if http is not None and client is None:
            http.close()
    return run


def _attempt(
    http: httpx.Client,
    hook: Webhook,
    delivery: WebhookDelivery,
    now: datetime,
    run: DeliveryRun,
    *,
    allow: AllowList,
    resolve: Resolver,
) -> None:
    body = json.dumps(
        {"id": delivery.id, **delivery.payload}, ensure_ascii=False, separators=(",", ":")
    ).encode()
    delivery.attempts += 1
    timestamp = int(time.time())  # the receiver's clock judges it: the real time, always
    status: int | None = None
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(hook.secret, timestamp, body),
        "X-Gridgov-Delivery": str(delivery.id),
    }
    try:
        # Checked again now: the name may resolve elsewhere than when the hook was made.
        target = check_url(hook.url, allow=allow, resolve=resolve)
        url, extensions = _pinned(target, headers)
        with http.stream(
            "POST", url, content=body, headers=headers, extensions=extensions
        ) as response:
            status = response.status_code
            ok = 200 <= status < 300
            error = "" if ok else _excerpt(_head(response))
    except AddressRefused as refused:
        ok = False
        error = _excerpt(refused.reason("en"))
    except httpx.HTTPError as exc:
        ok = False
        error = _excerpt(f"{type(exc).__name__}: {exc}")
    delivery.last_status, delivery.last_error = status, error
    # A new list, so the ORM sees the change of the JSONB column.
    delivery.attempt_log = [
        *delivery.attempt_log,
        {"at": now.isoformat(), "status": status, "error": error},
    ]
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


def _pinned(target: Target, headers: dict[str, str]) -> tuple[httpx.URL, dict[str, str]]:
    """The URL with its host replaced by the checked address (the name stays in ``Host`` and,
    for https, in SNI and the certificate check), so nothing resolves the name again."""
    url = httpx.URL(target.url)
    if target.literal:
        return url, {}
    headers["Host"] = url.netloc.decode("ascii")
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return url.copy_with(host=str(target.address)), extensions


def _head(response: httpx.Response, limit: int = 4 * EXCERPT) -> str:
    """The start of an answer, reading no more of it than that."""
    data = b""
    for part in response.iter_bytes():
        data += part
        if len(data) >= limit:
            break
    return data[:limit].decode("utf-8", errors="replace")


def _excerpt(text: str) -> str:
    """A short, one-line excerpt without control characters (what a delivery keeps).

    >>> _excerpt("busy\\r\\n\\x1b[31mred")
    'busy [31mred'
    """
    return _CONTROL.sub(" ", text).strip()[:EXCERPT]
