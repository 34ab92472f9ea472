"""For operators and their probes: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.deps import LangDep
from api.errors import problem
from api.observability import may_read_metrics
from gridgov.boundaries.index import GridIndexCache
from gridgov.db.health import current_revision, database_unavailable
from gridgov.i18n import t

router = APIRouter(tags=["service"])


class Alive(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    checks: dict[str, Any]
    database: dict[str, Any] | None = None


@router.get(
    "/healthz",
    response_model=Alive,
    summary="Liveness: the process answers (no database involved)",
)
def healthz() -> Alive:
    """200 whenever the process can answer at all; restart it when this fails."""
    return Alive(status="ok")


@router.get(
    "/readyz",
    response_model=Ready,
    summary="Readiness: database reachable, schema current, grid index loaded",
    responses={503: {"description": "Not ready: `checks` says what is missing"}},
)
def readyz(request: Request, lang: LangDep) -> Any:
    """200 when every check passes; 503 naming the checks that failed (send no traffic)."""
    state = request.app.state
    checks = _checks(state)
    watch = getattr(state, "database_state", None)
    database = watch.as_dict() if watch is not None else None
    missing = [name for name, result in checks.items() if result != "ok"]
    if not missing:
        return Ready(status="ok", checks=checks, database=database)
    response: JSONResponse = problem(
        request,
        503,
        "error.not_ready",
        t("error.not_ready", lang, missing=", ".join(missing)),
        headers={"Retry-After": "5"},
        checks=checks,
        database=database,
    )
    return response


def _checks(state: Any) -> dict[str, str]:
    """ "ok" or what is wrong, for the database, the schema and the grid index."""
    checks = {"database": "ok", "migrations": "ok", "grid_index": "ok"}
    try:
        revision = current_revision(state.engine)
    except Exception as error:
        if not database_unavailable(error):
            raise
        return {name: "database unreachable" for name in checks}
    if revision != state.head_revision:
        checks["migrations"] = f"database at {revision}, code expects {state.head_revision}"
    cache: GridIndexCache = state.grid_index
    with Session(state.engine) as session:
        if cache.get(session) is None:
            checks["grid_index"] = "no active boundary generation"
    return checks


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, lang: LangDep) -> Response:
    """Prometheus text format: for loopback clients, or with the metrics token."""
    settings = request.app.state.settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if not may_read_metrics(request, token):
        raise HTTPException(403, detail={"message": t("error.metrics_forbidden", lang)})
    return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
