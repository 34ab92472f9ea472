"""Every refusal as one RFC 9457 problem, in the caller's language.

Each 4xx/5xx answer is ``application/problem+json``::

    {"type": "/problems/validation", "title": "输入有误", "status": 422,
     "detail": "字段 lat：必须小于或等于 90", "code": "error.field",
     "errors": [{"field": "lat", "reason": "必须小于或等于 90", "type": "less_than_equal"}]}

``code`` is the message key of ``detail``; ``errors`` names every field at fault (empty when
none is); a kind with more to say adds members (``shortages``, ``distance_m``...). Domain
errors, HTTPExceptions (``detail={"message": ..., "code": ...}``) and Starlette's own 404/405
all go through ``problem()``, and ``document()`` declares the same shape in the OpenAPI
document, so what is sent is what is declared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import Error as PsycopgError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from api.deps import request_language
from gridgov.db.health import database_unavailable
from gridgov.errors import FieldError, OutOfScope
from gridgov.i18n import t
from gridgov.incidents.errors import Forbidden, IncidentNotFound, OutsideGrids
from gridgov.incidents.lifecycle import TransitionNotAllowed
from gridgov.register.protect import SealError
from gridgov.reports.fill import TemplateRefused
from gridgov.sensors.ingest import BatchRefused
from gridgov.supplies.reservations import (
    InsufficientStock,
    ReservationConflict,
    ReservationNotFound,
    StockForbidden,
)
from gridgov.users.service import UserError

PROBLEM_JSON = "application/problem+json"

# The kind of problem for a status; its type is "/problems/<kind>", its title "problem.<kind>".
KINDS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    422: "validation",
    429: "too-many-requests",
    500: "server-error",
    503: "unavailable",
}


class FieldProblem(BaseModel):
    """One field at fault (a batch row also says which ``row``)."""

    model_config = ConfigDict(extra="allow")
    field: str = Field(description="the field, nested names joined with dots")
    reason: str = Field(description="why, in the caller's language")
    type: str = Field(description="the kind of error: a validation type or a message key")


class Problem(BaseModel):
    """RFC 9457 problem details, with the message key and the fields at fault."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})
    type: str = Field(description="URI reference naming the kind of problem")
    title: str = Field(description="short summary of the kind, in the caller's language")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what went wrong, one line in the caller's language")
    code: str = Field(description="the message key of detail in gridgov's catalogues")
    errors: list[FieldProblem] = Field(description="every field at fault; empty when none")


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem(
    request: Request,
    status: int,
    code: str,
    detail: str,
    *,
    kind: str | None = None,
    errors: Iterable[dict[str, Any]] = (),
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> ProblemResponse:
    """The one error answer: ``kind`` defaults to the status's (``KINDS``)."""
    lang = request_language(request)
    kind = kind or KINDS.get(status)
    body: dict[str, Any] = {
        "type": f"/problems/{kind}" if kind else "about:blank",
        "title": t(f"problem.{kind}", lang) if kind else HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": list(errors),
        **extensions,
    }
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


# -- field errors (422) ----------------------------------------------------------------

_LIMIT_KEYS = ("ge", "le", "gt", "lt", "max_length", "min_length")
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


def fields_problem(request: Request, code: str, errors: list[dict[str, Any]]) -> ProblemResponse:
    """422 listing every field at fault; detail names them all, one after the other."""
    lang = request_language(request)
    detail = "; ".join(t("error.field", lang, field=e["field"], reason=e["reason"]) for e in errors)
    return problem(request, 422, code, detail, errors=errors)


async def validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    lang = request_language(request)
    errors = [
        {"field": field_name(e["loc"]), "reason": reason(e, lang), "type": e["type"]}
        for e in exc.errors()
    ]
    return fields_problem(request, "error.field", errors)


async def field_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, FieldError)
    lang = request_language(request)
    text = exc.reason(lang)
    entry = {"field": exc.field, "reason": text, "type": exc.key}
    detail = t("error.field", lang, field=exc.field, reason=text)
    if isinstance(exc, OutsideGrids):
        return problem(
            request,
            422,
            exc.key,
            detail,
            kind="outside-grids",
            errors=[entry],
            distance_m=exc.distance_m,
            nearest_grid=exc.nearest_grid,
        )
    return problem(request, 422, exc.key, detail, errors=[entry])


async def template_refused(request: Request, exc: Exception) -> ProblemResponse:
    """422 naming every cell of a template that cannot be filled, with the closest names."""
    assert isinstance(exc, TemplateRefused)
    lang = request_language(request)
    errors = [
        {
            "field": f"{p.sheet}!{p.cell}",
            "reason": p.reason(lang),
            "type": p.key,
            "name": p.name,
            "suggestions": list(p.suggested),
        }
        for p in exc.problems
    ]
    return problem(request, 422, exc.key, exc.reason(lang), errors=errors)


async def user_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, UserError)
    entry = {
        "field": exc.field,
        "reason": exc.reason(request_language(request)),
        "type": "user.invalid",
    }
    return fields_problem(request, "user.invalid", [entry])


async def batch_refused(request: Request, exc: Exception) -> ProblemResponse:
    """422 for a whole refused batch, one entry per bad row and field."""
    assert isinstance(exc, BatchRefused)
    lang = request_language(request)
    errors = [
        {"field": p.field, "reason": p.reason, "type": "batch.row", "row": p.row}
        for p in exc.problems
    ]
    detail = t("batch.refused", lang, count=len(exc.problems))
    return problem(request, 422, "batch.refused", detail, errors=errors)


# -- domain refusals -------------------------------------------------------------------


async def incident_not_found(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, IncidentNotFound)
    detail = t("incident.not_found", request_language(request), id=exc.incident_id)
    return problem(request, 404, "incident.not_found", detail)


async def forbidden(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, Forbidden)
    lang = request_language(request)
    detail = t("incident.forbidden", lang, action=t("action." + exc.action, lang))
    return problem(request, 403, "incident.forbidden", detail)


async def out_of_scope(request: Request, exc: Exception) -> ProblemResponse:
    """403: the thing named lies outside the caller's scope."""
    assert isinstance(exc, OutOfScope)
    return problem(request, 403, exc.key, exc.reason(request_language(request)))


async def transition(request: Request, exc: Exception) -> ProblemResponse:
    """409: the move is not allowed from the incident's current status."""
    assert isinstance(exc, TransitionNotAllowed)
    lang = request_language(request)
    status, move = exc.status.value, exc.move.value
    detail = t(
        "incident.transition",
        lang,
        status=t("status." + status, lang),
        move=t("move." + move, lang),
    )
    return problem(
        request,
        409,
        "incident.transition",
        detail,
        kind="transition",
        incident_status=status,
        action=move,
    )


async def insufficient_stock(request: Request, exc: Exception) -> ProblemResponse:
    """409 with what is available for every short line; nothing was reserved."""
    assert isinstance(exc, InsufficientStock)
    shortages = [
        {
            "stockpile": s.stockpile_code,
            "item": s.item_code,
            "requested": s.requested,
            "available": s.available,
        }
        for s in exc.shortages
    ]
    detail = t("supplies.insufficient", request_language(request))
    return problem(
        request,
        409,
        "supplies.insufficient",
        detail,
        kind="insufficient-stock",
        shortages=shortages,
    )


async def reservation_error(request: Request, exc: Exception) -> ProblemResponse:
    lang = request_language(request)
    if isinstance(exc, ReservationNotFound):
        key = "supplies.reservation_not_found"
        return problem(request, 404, key, t(key, lang, id=exc.reservation_id))
    if isinstance(exc, StockForbidden):
        key = "supplies.forbidden"
        return problem(request, 403, key, t(key, lang, code=exc.stockpile_code))
    assert isinstance(exc, ReservationConflict)
    detail = t(
        "supplies.transition",
        lang,
        status=t("reservation." + exc.status, lang),
        action=t("reservation_action." + exc.action, lang),
    )
    return problem(request, 409, "supplies.transition", detail)


# -- HTTP errors: HTTPException from routes, Starlette's 404/405, anything unforeseen ----


_RESERVED = {"message", "code", "type", "title", "status", "detail", "errors"}


async def http_error(request: Request, exc: Exception) -> ProblemResponse:
    """``detail={"message": ..., "code": ..., **extensions}`` from a route; a plain string
    (Starlette's "Not Found", FastAPI's body parse error) becomes the translated title."""
    assert isinstance(exc, HTTPException)
    status, lang = exc.status_code, request_language(request)
    kind = KINDS.get(status)
    fallback = f"problem.{kind}" if kind else "problem.other"
    given: dict[str, Any] = exc.detail if isinstance(exc.detail, dict) else {}
    message = given.get("message")
    detail = str(message) if message else t(fallback, lang)
    code = str(given.get("code") or fallback)
    extensions = {k: v for k, v in given.items() if k not in _RESERVED}
    errors = given.get("errors") or ()
    return problem(request, status, code, detail, errors=errors, headers=exc.headers, **extensions)


# Seconds a client should wait before trying again while the database is away: about what
# the watchdog needs to notice and restart the embedded cluster.
DATABASE_RETRY_AFTER = 5


async def database_error(request: Request, exc: Exception) -> ProblemResponse:
    """503 with Retry-After while the database cannot be reached; anything else the database
    refused is a bug like any other (500)."""
    if not database_unavailable(exc):
        return await server_error(request, exc)
    message = t("error.database_unavailable", request_language(request))
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER)}
    return problem(request, 503, "error.database_unavailable", message, headers=headers)


async def register_key_error(request: Request, exc: Exception) -> ProblemResponse:
    """503: the register's sealed values were sealed with another key (lost or replaced).
    The operator must restore it; the caller learns that, not a bare 500."""
    message = t("register.key_mismatch", request_language(request), setting="GRIDGOV_REGISTER_KEY")
    return problem(request, 503, "register.key_mismatch", message)


async def server_error(request: Request, exc: Exception) -> ProblemResponse:
    """500: a bug; the traceback goes to the log, never to the caller."""
    return problem(request, 500, "problem.server-error", t("problem.server-error.detail"))


HANDLERS: dict[type[Exception], Callable[..., Any]] = {
    RequestValidationError: validation_error,
    FieldError: field_error,
    TemplateRefused: template_refused,
    UserError: user_error,
    BatchRefused: batch_refused,
    IncidentNotFound: incident_not_found,
    Forbidden: forbidden,
    OutOfScope: out_of_scope,
    TransitionNotAllowed: transition,
    InsufficientStock: insufficient_stock,
    ReservationNotFound: reservation_error,
    StockForbidden: reservation_error,
    ReservationConflict: reservation_error,
    HTTPException: http_error,
    DBAPIError: database_error,
    PoolTimeout: database_error,
    PsycopgError: database_error,
    SealError: register_key_error,
    Exception: server_error,
}


async def problem_for(request: Request, exc: Exception) -> ProblemResponse:
    """The problem the installed handlers answer for ``exc`` (for an answer already
    streaming, which can no longer raise)."""
    for kind in type(exc).__mro__:
        handler = HANDLERS.get(kind)
        if handler is not None:
            answer: ProblemResponse = await handler(request, exc)
            return answer
    return await server_error(request, exc)


def install(app: FastAPI) -> None:
    """Register the handlers and declare the problem shape in the OpenAPI document."""
    for error, handler in HANDLERS.items():
        app.add_exception_handler(error, handler)
    document(app)


# -- the OpenAPI document --------------------------------------------------------------

_REF = "#/components/schemas/Problem"


def document(app: FastAPI) -> None:
    """Post-process FastAPI's document: a ``Problem`` schema replaces HTTPValidationError,
    and every operation declares 4XX and 5XX answers with it."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def declare_problems(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with the problem answers declared (changed in place and returned)."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["Problem"] = problem_schema
    content = {PROBLEM_JSON: {"schema": {"$ref": _REF}}}
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = {"description": "Invalid input", "content": content}
            responses.setdefault("4XX", {"description": "Refused", "content": content})
            responses.setdefault("5XX", {"description": "Server error", "content": content})
    return doc
