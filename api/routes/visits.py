"""Visit registration (调研报备): units say before they come; communities see who is coming."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.deps import IndexDep, LangDep, SessionDep
from api.params import MonthParam, parse_month
from api.routes.maps import map_visits, visit_thresholds
from api.security import UserDep, require
from gridgov.errors import FieldError
from gridgov.i18n import t
from gridgov.users.roles import Action
from gridgov.visits.models import VisitRegistration
from gridgov.visits.service import (
    COMING_WEEKS,
    CommunityLoad,
    Visit,
    check_visit,
    coming_visits,
    community_named,
    home_community,
    register_visit,
    visits_to,
)

router = APIRouter(prefix="/api/v1/visits", tags=["visits"])


class VisitIn(BaseModel):
    """A visit, inspection or survey, registered before it happens."""

    unit: str = Field(min_length=1, max_length=100, description="The visiting unit")
    purpose: str = Field(min_length=1, max_length=2000)
    starts_on: date
    ends_on: date
    communities: list[Annotated[str, Field(max_length=32)]] = Field(
        min_length=1,
        max_length=50,
        description="Community codes; a grid's code stands for its community",
    )
    people: list[Annotated[str, Field(max_length=50)]] = Field(default=[], max_length=50)

    def visit(self) -> Visit:
        return Visit(
            unit=self.unit,
            purpose=self.purpose,
            starts_on=self.starts_on,
            ends_on=self.ends_on,
            communities=self.communities,
            people=self.people,
        )


def _load_out(load: CommunityLoad, lang: str) -> dict[str, Any]:
    return {
        "community": load.community,
        "name": load.name,
        "month": load.month.strftime("%Y-%m"),
        "units": load.units,
        "level": load.level.value,
        "warning": t("visits.warning." + load.level.value, lang, name=load.name, units=load.units),
        "quieter_communities": [
            {"code": code, "name": name, "distance_m": metres, "units": units}
            for code, name, metres, units in load.quieter_communities
        ],
        "quieter_weeks": [
            {"week_of": monday.isoformat(), "units": units} for monday, units in load.quieter_weeks
        ],
    }


def _visit_out(visit: VisitRegistration) -> dict[str, Any]:
    return {
        "id": visit.id,
        "unit": visit.unit,
        "purpose": visit.purpose,
        "people": visit.people,
        "starts_on": visit.starts_on.isoformat(),
        "ends_on": visit.ends_on.isoformat(),
        "registered_at": visit.registered_at.isoformat() if visit.registered_at else None,
    }


@router.post("/check", summary="How busy the communities of a planned visit would be")
def check(
    body: VisitIn, request: Request, session: SessionDep, user: UserDep, lang: LangDep
) -> dict[str, Any]:
    """Nothing is registered: the load of each community and month with this visit counted,
    and for a red one the nearest green communities and the quietest weeks."""
    require(user, Action.REGISTER_VISIT, lang)
    settings = request.app.state.settings
    loads = check_visit(
        session, visit=body.visit(), thresholds=visit_thresholds(request), today=settings.today()
    )
    return {"loads": [_load_out(load, lang) for load in loads]}


@router.post("", status_code=201, summary="Register a visit before it happens")
def register(
    body: VisitIn, request: Request, session: SessionDep, user: UserDep, lang: LangDep
) -> dict[str, Any]:
    """Registered even where a community is red (the unit is told, with quieter choices)."""
    require(user, Action.REGISTER_VISIT, lang)
    settings = request.app.state.settings
    registration, loads = register_visit(
        session,
        visit=body.visit(),
        registered_by=user.id,
        thresholds=visit_thresholds(request),
        today=settings.today(),
    )
    return {**_visit_out(registration), "loads": [_load_out(load, lang) for load in loads]}


@router.get("", summary="Who is coming to a community in a month")
def coming(
    session: SessionDep,
    user: UserDep,
    community: Annotated[str, Query(max_length=32)],
    month: MonthParam,
) -> list[dict[str, Any]]:
    """Every registered visit to the community that touches the month, in order of arrival."""
    found = visits_to(session, community=community, month=parse_month(month))
    return [_visit_out(v) for v in found]


@router.get("/coming", summary="Who is coming to a community in the coming weeks")
def coming_weeks(
    request: Request,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    community: Annotated[str | None, Query(max_length=32)] = None,
    weeks: Annotated[int, Query(ge=1, le=26)] = COMING_WEEKS,
) -> dict[str, Any]:
    """The visits to a community from today through the coming weeks, in order of arrival.
    Without ``community``: the caller's own (a grid head's, a community worker's)."""
    code = community or home_community(session, actor=user.actor())
    if code is None:
        raise FieldError("community", "visits.community_needed")
    today = request.app.state.settings.today()
    return {
        "community": code,
        "name": community_named(session, code=code),
        "from": today.isoformat(),
        "weeks": weeks,
        "visits": [
            _visit_out(v) for v in coming_visits(session, community=code, today=today, weeks=weeks)
        ],
    }


@router.get("/load", summary="Distinct visiting units per community in a month (map layer)")
def load(
    request: Request,
    session: SessionDep,
    user: UserDep,
    index: IndexDep,
    lang: LangDep,
    month: MonthParam,
) -> dict[str, Any]:
    """The same GeoJSON as /api/v1/map/visits: every community with its number of units and
    its level (green/yellow/red)."""
    return map_visits(request, session, user, index, lang, month)
