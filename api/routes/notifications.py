"""The inbox and the webhooks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field, HttpUrl
from sqlalchemy import select

from api.deps import LangDep, SessionDep
from api.params import BigId, Id
from api.security import UserDep, require
from gridgov.i18n import t
from gridgov.notifications import service as notifications
from gridgov.notifications.addresses import parse_allow_list
from gridgov.notifications.models import Notification, Webhook, WebhookDelivery
from gridgov.notifications.service import add_webhook as make_webhook
from gridgov.users.roles import Action

router = APIRouter(prefix="/api/v1", tags=["notifications"])


@router.get("/notifications", summary="My inbox, newest first")
def inbox(
    session: SessionDep,
    user: UserDep,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    query = select(Notification).where(Notification.user_id == user.id)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    rows = session.scalars(query.order_by(Notification.id.desc()).limit(limit)).all()
    return [
        {
            "id": n.id,
            "kind": n.kind,
            "title": n.title,
            "body": n.body,
            "data": n.data,
            "created_at": n.created_at.isoformat(),
            "read_at": n.read_at.isoformat() if n.read_at else None,
        }
        for n in rows
    ]


@router.post("/notifications/{notification_id}/read", summary="Mark one as read")
def mark_read(
    notification_id: BigId, session: SessionDep, user: UserDep, lang: LangDep
) -> dict[str, Any]:
    """404 when there is no such notification, 403 when it is someone else's."""
    note = notifications.mark_read(session, notification_id=notification_id, user_id=user.id)
    if note is None:
        key = "webhook.notification_not_found"
        raise HTTPException(404, detail={"message": t(key, lang, id=notification_id), "code": key})
    assert note.read_at is not None
    return {"id": note.id, "read_at": note.read_at.isoformat()}


class WebhookIn(BaseModel):
    url: HttpUrl
    secret: str = Field(min_length=16, max_length=200)
    kinds: list[str] = Field(min_length=1, max_length=20)
    max_attempts: int = Field(default=6, ge=1, le=20)


@router.post("/webhooks", status_code=201, summary="Send events of these kinds to a URL")
def add_webhook(
    body: WebhookIn, request: Request, session: SessionDep, user: UserDep, lang: LangDep
) -> dict[str, Any]:
    """The URL must reach a public address, or one listed in GRIDGOV_WEBHOOK_ALLOW (422
    naming ``url`` otherwise); it is checked again before every delivery."""
    require(user, Action.MANAGE, lang)
    hook = make_webhook(
        session,
        url=str(body.url),
        secret=body.secret,
        kinds=body.kinds,
        max_attempts=body.max_attempts,
        allow=parse_allow_list(request.app.state.settings.webhook_allow),
    )
    return {"id": hook.id, "url": hook.url, "kinds": hook.kinds}


@router.get("/webhooks/dead-letters", summary="Deliveries given up after every attempt failed")
def dead_letters(session: SessionDep, user: UserDep, lang: LangDep) -> list[dict[str, Any]]:
    require(user, Action.MANAGE, lang)
    rows = session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.status == "dead").order_by(WebhookDelivery.id)
    ).all()
    return [
        {
            "id": d.id,
            "webhook_id": d.webhook_id,
            "kind": d.kind,
            "attempts": d.attempts,
            "last_status": d.last_status,
            "last_error": d.last_error,
            "attempt_log": d.attempt_log,
            "payload": d.payload,
        }
        for d in rows
    ]


@router.get("/webhooks/deliveries/{delivery_id}", summary="One delivery with every attempt")
def delivery_history(
    delivery_id: BigId, session: SessionDep, user: UserDep, lang: LangDep
) -> dict[str, Any]:
    """Its state and every attempt so far (time, HTTP status or null, error), oldest first."""
    require(user, Action.MANAGE, lang)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise HTTPException(
            404, detail={"message": t("webhook.delivery_not_found", lang, id=delivery_id)}
        )
    return {
        "id": delivery.id,
        "webhook_id": delivery.webhook_id,
        "kind": delivery.kind,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at.isoformat(),
        "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
        "attempt_log": delivery.attempt_log,
    }


class WebhookSwitch(BaseModel):
    is_active: bool


@router.patch("/webhooks/{webhook_id}", summary="Switch a webhook off or on")
def switch_webhook(
    webhook_id: Id, body: WebhookSwitch, session: SessionDep, user: UserDep, lang: LangDep
) -> dict[str, Any]:
    """Off: nothing new is queued for it and its pending deliveries wait, untried; on again:
    they go out."""
    require(user, Action.MANAGE, lang)
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise HTTPException(404, detail={"message": t("webhook.not_found", lang, id=webhook_id)})
    hook.is_active = body.is_active
    return {"id": hook.id, "url": hook.url, "kinds": hook.kinds, "is_active": hook.is_active}


@router.post("/webhooks/deliveries/{delivery_id}/retry", summary="Put a dead delivery back")
def retry(delivery_id: BigId, session: SessionDep, user: UserDep, lang: LangDep) -> dict[str, Any]:
    require(user, Action.MANAGE, lang)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        key = "webhook.delivery_not_found"
        raise HTTPException(404, detail={"message": t(key, lang, id=delivery_id), "code": key})
    if delivery.status != "dead":  # a delivered or pending one would be sent twice
        key = "webhook.delivery_not_dead"
        message = t(key, lang, id=delivery_id, status=delivery.status)
        raise HTTPException(409, detail={"message": message, "code": key})
    delivery.status, delivery.attempts = "pending", 0
    delivery.next_attempt_at = datetime.now(UTC)
    return {"id": delivery.id, "status": delivery.status}
