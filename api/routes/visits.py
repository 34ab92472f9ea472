"""Visit registration (调研报备): units say before they come; communities see who is coming."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from geoalchemy2.shape import to_shape
from pydantic import BaseModel, Field
from shapely.geometry import mapping

from api.deps import LangDep, SessionDep
from api.security import UserDep, require
from gridgov.i18n import t
from gridgov.users.roles import Action
from gridgov.visits.load import Thresholds
from gridgov.visits.models import VisitRegistration
from gridgov.visits.service import (
    CommunityLoad,
    Visit,
    check_visit,
    month_loads,
    register_visit,
    visits_to,
)

router = APIRouter(prefix="/api/v1/visits", tags=["visits"])
MONTH = r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$"  # 1900-2999: year 0 is no date, 9999-12 ends nowhere


class VisitIn(BaseModel):
    """A visit, inspection or survey, registered before it happens."""

    unit: str = Field(min_length=1, max_length=100, description="The visiting unit")
    purpose: str = Field(min_length=1, max_length=2000)
    starts_on: date
    ends_on: date
    communities: list[str] = Field(min_length=1, max_length=50, description="Community codes")
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


def _thresholds(request: Request) -> Thresholds:
    settings = request.app.state.settings
    return Thresholds(settings.visit_yellow_above, settings.visit_red_above)


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
        session, visit=body.visit(), thresholds=_thresholds(request), today=settings.today()
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
        thresholds=_thresholds(request),
        today=settings.today(),
    )
    return {**_visit_out(registration), "loads": [_load_out(load, lang) for load in loads]}


def _month(text: str) -> date:
    return date(int(text[:4]), int(text[5:7]), 1)


@router.get("", summary="Who is coming to a community in a month")
def coming(
    session: SessionDep,
    user: UserDep,
    community: Annotated[str, Query(max_length=32)],
    month: Annotated[str, Query(pattern=MONTH, description="YYYY-MM")],
) -> list[dict[str, Any]]:
    """Every registered visit to the community that touches the month, in order of arrival."""
    return [_visit_out(v) for v in visits_to(session, community=community, month=_month(month))]


@router.get("/load", summary="Distinct visiting units per community in a month (map layer)")
def load(
    request: Request,
    session: SessionDep,
    user: UserDep,
    month: Annotated[str, Query(pattern=MONTH, description="YYYY-MM")],
) -> dict[str, Any]:
    """GeoJSON: every community with its number of units and its level (green/yellow/red)."""
    rows = month_loads(session, month=_month(month), thresholds=_thresholds(request))
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": a.code, "name": a.name, "units": n, "level": level.value},
                "geometry": mapping(to_shape(a.geom)),
            }
            for a, n, level in rows
        ],
    }
