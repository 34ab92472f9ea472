"""Reports that fill themselves (帮我填): a template in, the filled form out."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from api.deps import LangDep, SessionDep
from api.progress import NDJSON, progress_stream
from api.security import UserDep, app_now, oauth2_scheme, user_for_token
from gridgov.errors import FieldError
from gridgov.i18n import t
from gridgov.reports.grid_heads import grid_head_month, grid_heads_csv, red_level
from gridgov.reports.indicators import month_period
from gridgov.reports.service import fill_report, shipped_template, shipped_templates

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_TEMPLATE_BYTES = 5 * 1024 * 1024  # a department's form is tens of kilobytes
MONTH = r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$"


@router.get("/templates", summary="The templates shipped with gridgov")
def templates(request: Request, user: UserDep) -> list[dict[str, str]]:
    """Each shipped template by file name (pass it as ``template_name`` to fill it)."""
    names = shipped_templates(request.app.state.settings.geodata_dir)
    return [{"name": name, "title": name.removesuffix(".xlsx")} for name in names]


@router.post(
    "/fill",
    summary="Fill a template for an area and a month",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "The filled XLSX"}},
)
def fill(
    request: Request,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    area: Annotated[str, Form(min_length=1, max_length=32, description="Area or grid code")],
    period: Annotated[str, Form(pattern=MONTH, description="YYYY-MM")],
    template: Annotated[UploadFile | None, File(description="The XLSX form")] = None,
    template_name: Annotated[
        str | None, Form(max_length=200, description="Or one of GET /templates")
    ] = None,
) -> Response:
    """The filled form as XLSX; 422 listing every cell that cannot be filled (nothing is
    filled then), 403 for an area outside the caller's scope."""
    uploaded = template.file.read(MAX_TEMPLATE_BYTES + 1) if template is not None else None
    name = (template.filename if template is not None else template_name) or "report.xlsx"
    data = _template(request, uploaded, template_name, lang)
    filled = _fill(
        request, session, user, data=data, name=name, area=area, period=period, lang=lang
    )
    filename = _filename(name, area, period)
    disposition = f"attachment; filename=\"report.xlsx\"; filename*=UTF-8''{quote(filename)}"
    return Response(filled, media_type=XLSX, headers={"Content-Disposition": disposition})


def _template(request: Request, uploaded: bytes | None, shipped: str | None, lang: str) -> bytes:
    """The form to fill: the uploaded bytes (413 when too large), or a shipped template."""
    if uploaded is not None:
        if len(uploaded) > MAX_TEMPLATE_BYTES:
            message = t("reports.template_too_large", lang, limit=MAX_TEMPLATE_BYTES)
            raise HTTPException(413, {"message": message, "code": "reports.template_too_large"})
        return uploaded
    if shipped:
        return shipped_template(request.app.state.settings.geodata_dir, shipped)
    raise FieldError("template", "reports.template_missing")


def _fill(
    request: Request,
    session: Session,
    user: Any,
    *,
    data: bytes,
    name: str,
    area: str,
    period: str,
    lang: str,
    progress: Callable[[int, int], None] | None = None,
) -> bytes:
    settings = request.app.state.settings
    return fill_report(
        session,
        data=data,
        area=area,
        period=period,
        geodata_dir=settings.geodata_dir,
        timezone=settings.timezone,
        actor=user.actor(),
        keys=request.app.state.register_keys,
        template_name=name,
        lang=lang,
        today=settings.today(),
        now=app_now(request.app),
        progress=progress,
    )


def _filename(name: str, area: str, period: str) -> str:
    return f"{name.removesuffix('.xlsx')}_{area}_{period}.xlsx"


@router.post(
    "/fill/progress",
    summary="Fill a template, streaming its progress",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {NDJSON: {"schema": {"type": "string"}}},
            "description": 'Lines {"done", "total"}, then {"file" (base64), "filename", '
            '"media_type"} or {"problem"}',
        }
    },
)
async def fill_with_progress(
    request: Request,
    lang: LangDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    area: Annotated[str, Form(min_length=1, max_length=32, description="Area or grid code")],
    period: Annotated[str, Form(pattern=MONTH, description="YYYY-MM")],
    template: Annotated[UploadFile | None, File(description="The XLSX form")] = None,
    template_name: Annotated[
        str | None, Form(max_length=200, description="Or one of GET /templates")
    ] = None,
) -> StreamingResponse:
    """As POST /fill, for a long form: its progress as NDJSON lines while it fills (at most
    one a percent), then the filled file in base64. Refusals found before the fill starts
    are the usual problems (401, 403, 422); one found later is the stream's last line."""
    data = await template.read(MAX_TEMPLATE_BYTES + 1) if template is not None else b""
    name = (template.filename if template is not None else template_name) or "report.xlsx"

    def work(session: Session, progress: Callable[[int, int], None]) -> dict[str, Any]:
        user = user_for_token(request, session, token, lang)  # 401 before anything else
        source = _template(request, data if template is not None else None, template_name, lang)
        filled = _fill(
            request, session, user, data=source, name=name, area=area, period=period, lang=lang,
            progress=progress,
        )  # fmt: skip
        return {
            "file": base64.b64encode(filled).decode(),
            "filename": _filename(name, area, period),
            "media_type": XLSX,
        }

    return await progress_stream(request, work)


@router.get(
    "/grid-heads",
    summary="Grid heads' month, counted without forms",
    responses={
        200: {"content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}}}
    },
)
def grid_heads(
    request: Request,
    session: SessionDep,
    user: UserDep,
    month: Annotated[str, Query(pattern=MONTH, description="YYYY-MM")],
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Per grid head the caller may read: reports made and confirmed valid, incidents in the
    grid and those resolved within their deadline, households visited, red households due
    and visited on time; ``patrol_coverage``, the grid's share (0..1) of houses seen in the
    month (passed on patrol or visited at the door, as ``/register/coverage`` counts them),
    null when the grid has no houses."""
    settings = request.app.state.settings
    period = month_period(month, timezone=settings.timezone, now=app_now(request.app))
    red = red_level(settings.geodata_dir)
    rows = grid_head_month(session, period=period, actor=user.actor(), red=red)
    if format == "csv":
        return Response(
            grid_heads_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="grid-heads-{month}.csv"'},
        )
    return {"month": month, "grid_heads": [r.row() for r in rows]}
