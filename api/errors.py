"""Errors as JSON that name the field and the reason, in the caller's language."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import Error as PsycopgError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.deps import request_language
from gridgov.db.health import database_unavailable
from gridgov.errors import FieldError, OutOfScope
from gridgov.i18n import t
from gridgov.incidents.errors import Forbidden, IncidentNotFound, OutsideGrids
from gridgov.incidents.lifecycle import TransitionNotAllowed
from gridgov.supplies.reservations import (
    InsufficientStock,
    ReservationConflict,
    ReservationNotFound,
    StockForbidden,
)
from gridgov.users.service import UserError

_LIMIT_KEYS = ("ge", "le", "gt", "lt", "max_length")
_KNOWN = {
    "missing",
    "greater_than_equal",
    "less_than_equal",
    "greater_than",
    "less_than",
    "enum",
    "float_parsing",
    "int_parsing",
    "string_too_long",
    "literal_error",
    "string_pattern_mismatch",
    "datetime_parsing",
    "datetime_from_date_parsing",
    "date_parsing",
    "date_from_datetime_parsing",
    "bool_parsing",
}


def field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("query", "lat")`` -> ``"lat"``; nested body fields joined with dots."""
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "header")]
    return ".".join(parts) or "request"


def reason(error: dict[str, Any], lang: str) -> str:
    """A translated reason for one pydantic error."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind not in _KNOWN:
        return t("validation.other", lang, detail=error.get("msg", kind))
    limit = next((ctx[k] for k in _LIMIT_KEYS if k in ctx), "")
    return t("validation." + kind, lang, limit=limit, expected=ctx.get("expected", ""))


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with one entry per bad field: {field, reason, type}."""
    assert isinstance(exc, RequestValidationError)
    lang = request_language(request)
    details = [
        {"field": field_name(e["loc"]), "reason": reason(e, lang), "type": e["type"]}
        for e in exc.errors()
    ]
    message = "; ".join(
        t("error.field", lang, field=d["field"], reason=d["reason"]) for d in details
    )
    return JSONResponse(status_code=422, content={"message": message, "detail": details})


async def field_error(request: Request, exc: Exception) -> JSONResponse:
    """422 naming the field, with the reason in the caller's language."""
    assert isinstance(exc, FieldError)
    lang = request_language(request)
    reason_text = exc.reason(lang)
    content: dict[str, Any] = {
        "message": t("error.field", lang, field=exc.field, reason=reason_text),
        "detail": [{"field": exc.field, "reason": reason_text, "type": exc.key}],
    }
    if isinstance(exc, OutsideGrids):
        content["distance_m"] = exc.distance_m
        content["nearest_grid"] = exc.nearest_grid
    return JSONResponse(status_code=422, content=content)


async def not_found(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IncidentNotFound)
    message = t("incident.not_found", request_language(request), id=exc.incident_id)
    return JSONResponse(status_code=404, content={"detail": {"message": message}})


async def forbidden(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Forbidden)
    lang = request_language(request)
    message = t("incident.forbidden", lang, action=t("action." + exc.action, lang))
    return JSONResponse(status_code=403, content={"detail": {"message": message}})


async def out_of_scope(request: Request, exc: Exception) -> JSONResponse:
    """403: the thing named lies outside the caller's scope."""
    assert isinstance(exc, OutOfScope)
    message = exc.reason(request_language(request))
    return JSONResponse(status_code=403, content={"detail": {"message": message}})


async def conflict(request: Request, exc: Exception) -> JSONResponse:
    """409: the action is not allowed from the incident's current status."""
    assert isinstance(exc, TransitionNotAllowed)
    lang = request_language(request)
    message = t(
        "incident.transition",
        lang,
        status=t("status." + exc.status.value, lang),
        move=t("move." + exc.move.value, lang),
    )
    return JSONResponse(
        status_code=409,
        content={
            "detail": {"message": message, "status": exc.status.value, "action": exc.move.value}
        },
    )


async def user_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UserError)
    lang = request_language(request)
    return JSONResponse(
        status_code=422,
        content={
            "message": t("user.invalid", lang, field=exc.field, reason=exc.reason),
            "detail": [{"field": exc.field, "reason": exc.reason, "type": "user"}],
        },
    )


async def insufficient_stock(request: Request, exc: Exception) -> JSONResponse:
    """409 with what is available for every short line; nothing was reserved."""
    assert isinstance(exc, InsufficientStock)
    return JSONResponse(
        status_code=409,
        content={
            "detail": {
                "message": t("supplies.insufficient", request_language(request)),
                "shortages": [
                    {
                        "stockpile": s.stockpile_code,
                        "item": s.item_code,
                        "requested": s.requested,
                        "available": s.available,
                    }
                    for s in exc.shortages
                ],
            }
        },
    )


async def reservation_error(request: Request, exc: Exception) -> JSONResponse:
    lang = request_language(request)
    if isinstance(exc, ReservationNotFound):
        message = t("supplies.reservation_not_found", lang, id=exc.reservation_id)
        return JSONResponse(status_code=404, content={"detail": {"message": message}})
    if isinstance(exc, StockForbidden):
        message = t("supplies.forbidden", lang, code=exc.stockpile_code)
        return JSONResponse(status_code=403, content={"detail": {"message": message}})
    assert isinstance(exc, ReservationConflict)
    message = t(
        "supplies.transition",
        lang,
        status=t("reservation." + exc.status, lang),
        action=t("reservation_action." + exc.action, lang),
    )
    return JSONResponse(status_code=409, content={"detail": {"message": message}})


PROBLEM_JSON = "application/problem+json"
# Seconds a client should wait before trying again while the database is away: about what
# the watchdog needs to notice and restart the embedded cluster.
DATABASE_RETRY_AFTER = 5


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """An RFC 9457 problem details answer: type, title, status, detail, code, errors."""
    content: dict[str, Any] = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": [],
        **extensions,
    }
    return JSONResponse(content, status_code=status, headers=headers, media_type=PROBLEM_JSON)


async def database_error(request: Request, exc: Exception) -> JSONResponse:
    """503 with Retry-After while the database cannot be reached; anything else the database
    refused is not ours to explain here and goes on to the generic handler."""
    if not database_unavailable(exc):
        raise exc
    lang = request_language(request)
    return problem(
        503,
        "error.database_unavailable",
        t("error.database_unavailable", lang),
        headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
    )


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    for unavailable in (DBAPIError, PoolTimeout, PsycopgError):
        app.add_exception_handler(unavailable, database_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(FieldError, field_error)
    app.add_exception_handler(IncidentNotFound, not_found)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(OutOfScope, out_of_scope)
    app.add_exception_handler(TransitionNotAllowed, conflict)
    app.add_exception_handler(UserError, user_error)
    app.add_exception_handler(InsufficientStock, insufficient_stock)
    for error in (ReservationNotFound, StockForbidden, ReservationConflict):
        app.add_exception_handler(error, reservation_error)
