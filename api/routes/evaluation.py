"""Department scorecards (四象限评价) and street ratings of departments (双向测评)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field, model_validator

from api.deps import LangDep, SessionDep
from api.security import UserDep, require
from gridgov.errors import FieldError
from gridgov.evaluation.quadrants import Thresholds, city_medians
from gridgov.evaluation.service import (
    department_figures,
    evaluate,
    rate_department,
    scorecard_rows,
    scorecards_csv,
)
from gridgov.users.roles import Action

router = APIRouter(prefix="/api/v1", tags=["evaluation"])


EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)  # a day after LATEST is still a date


def _as_datetime(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


@router.get(
    "/evaluation",
    summary="Department scorecards and quadrants for a period",
    responses={
        200: {"content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}}}
    },
)
def evaluation(
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    start: Annotated[date, Query(alias="from", description="First day, inclusive")],
    end: Annotated[date, Query(alias="to", description="Last day, inclusive")],
    department: Annotated[list[str] | None, Query()] = None,
    speed_hours: Annotated[float | None, Query(gt=0)] = None,
    effectiveness: Annotated[float | None, Query(ge=0, le=1)] = None,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Median time to accept, share within SLA, reopen rate, ratings and the quadrant."""
    require(user, Action.EVALUATE, lang)
    for name, day in (("from", start), ("to", end)):
        if not EARLIEST <= day <= LATEST:
            raise FieldError(name, "validation.date_range", earliest=EARLIEST, latest=LATEST)
    if end < start:
        raise FieldError("to", "validation.before", other="from")
    period = (_as_datetime(start), _as_datetime(end) + timedelta(days=1))
    thresholds = None
    if speed_hours is not None or effectiveness is not None:
        medians = city_medians(
            list(department_figures(session, start=period[0], end=period[1]).values())
        )
        thresholds = Thresholds(
            speed_hours if speed_hours is not None else (medians.speed_hours if medians else 0.0),
            effectiveness
            if effectiveness is not None
            else (medians.effectiveness if medians else 0.0),
        )
    result = evaluate(
        session, start=period[0], end=period[1], departments=department, thresholds=thresholds
    )
    if format == "csv":
        return PlainTextResponse(
            scorecards_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="evaluation-{start}-{end}.csv"'},
        )
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "thresholds": (
            {
                "speed_hours": result.thresholds.speed_hours,
                "effectiveness": result.thresholds.effectiveness,
            }
            if result.thresholds
            else None
        ),
        "scorecards": scorecard_rows(result),
    }


class StreetRatingIn(BaseModel):
    street_code: str = Field(min_length=1, max_length=32)
    department_code: str = Field(min_length=1, max_length=32)
    period_start: date
    period_end: date
    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _ordered(self) -> StreetRatingIn:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


@router.post("/evaluation/street-ratings", status_code=201, summary="A street rates a department")
def street_rating(
    body: StreetRatingIn, session: SessionDep, user: UserDep, lang: LangDep
) -> dict[str, Any]:
    """The street must lie in the caller's area and the department must serve it."""
    require(user, Action.RATE_DEPARTMENT, lang)
    rating = rate_department(
        session,
        street_code=body.street_code,
        department_code=body.department_code,
        period_start=body.period_start,
        period_end=body.period_end,
        score=body.score,
        comment=body.comment,
        rated_by=user.id,
        actor=user.actor(),
    )
    return {
        "id": rating.id,
        "score": rating.score,
        "street_code": rating.street_code,
        "department_code": rating.department_code,
    }
