"""Reports that fill themselves (帮我填): a template in, the filled form out."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import Response

from api.deps import LangDep, SessionDep
from api.security import UserDep, app_now
from gridgov.errors import FieldError
from gridgov.i18n import t
from gridgov.reports.grid_heads import grid_head_month, grid_heads_csv
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
    settings = request.app.state.settings
    if template is not None:
        data = template.file.read(MAX_TEMPLATE_BYTES + 1)
        if len(data) > MAX_TEMPLATE_BYTES:
            message = t("reports.template_too_large", lang, limit=MAX_TEMPLATE_BYTES)
            raise HTTPException(413, {"message": message, "code": "reports.template_too_large"})
        name = template.filename or "report.xlsx"
    elif template_name:
        data = shipped_template(settings.geodata_dir, template_name)
        name = template_name
    else:
        raise FieldError("template", "reports.template_missing")
    filled = fill_report(
        session,
        data=data,
        area=area,
        period=period,
        geodata_dir=settings.geodata_dir,
        timezone=settings.timezone,
        actor=user.actor(),
        lang=lang,
        today=settings.today(),
        now=app_now(request.app),
    )
    stem = name.removesuffix(".xlsx")
    filename = f"{stem}_{area}_{period}.xlsx"
    disposition = f"attachment; filename=\"report.xlsx\"; filename*=UTF-8''{quote(filename)}"
    return Response(filled, media_type=XLSX, headers={"Content-Disposition": disposition})


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
    grid and those resolved within their deadline."""
    settings = request.app.state.settings
    period = month_period(month, timezone=settings.timezone, now=app_now(request.app))
    rows = grid_head_month(session, period=period, actor=user.actor())
    if format == "csv":
        return Response(
            grid_heads_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="grid-heads-{month}.csv"'},
        )
    return {"month": month, "grid_heads": [r.row() for r in rows]}
