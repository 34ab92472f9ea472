"""Errors as JSON that name the field and the reason, in the caller's language."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from gridgov.i18n import pick_language, t

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
    lang = pick_language(request.query_params.get("lang") or request.headers.get("accept-language"))
    details = [
        {"field": field_name(e["loc"]), "reason": reason(e, lang), "type": e["type"]}
        for e in exc.errors()
    ]
    message = "; ".join(
        t("error.field", lang, field=d["field"], reason=d["reason"]) for d in details
    )
    return JSONResponse(status_code=422, content={"message": message, "detail": details})


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(RequestValidationError, validation_error)
