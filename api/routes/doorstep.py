"""Doorstep visits (入户走访): a grid head's visit to a household, and the conflicts between
what they confirmed and what a department's list says, which they settle."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from api.deps import LangDep, SessionDep
from api.params import INT8_MAX, BigId
from api.security import UserDep, app_now, require
from gridgov.errors import FieldError
from gridgov.register.conflicts import ConflictView, open_conflicts, settle_conflict
from gridgov.register.doorstep import (
    MAX_CLIENT_ID,
    MAX_FACTS,
    MAX_NOTE,
    Correction,
    VisitWindow,
    record_visit,
)
from gridgov.register.protect import RegisterKeys
from gridgov.register.reading import reader_of
from gridgov.register.vocabulary import load_tags, tags_file
from gridgov.users.roles import Action

router = APIRouter(prefix="/api/v1/register", tags=["register"])
RecordId = Annotated[int, Field(ge=1, le=INT8_MAX)]
Detail = str | int | None


class CorrectionIn(BaseModel):
    """A fact corrected: a person's name, sex, birth_date, phone or relation, a house's use
    or tenure; or a tag (``entity`` tag, ``id`` the person, ``field`` the tag's key) added
    with its details (``value`` an object, ``{}`` for none) or ended (``value`` null)."""

    entity: Literal["person", "house", "tag"]
    id: RecordId
    field: str = Field(min_length=1, max_length=32)
    value: Annotated[str, Field(max_length=100)] | dict[str, Detail] | None = None


class VisitIn(BaseModel):
    """A doorstep visit as the phone sends it (once per ``client_id``)."""

    household_id: RecordId
    client_id: str = Field(min_length=1, max_length=MAX_CLIENT_ID)
    visited_at: datetime = Field(description="When (ISO 8601; no offset: the city's time)")
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000)
    confirmed: list[Annotated[str, Field(max_length=64)]] = Field(
        default=[],
        max_length=MAX_FACTS,
        description="person:ID:FIELD, tag:PERSON:KEY, house:ID:FIELD",
    )
    corrected: list[CorrectionIn] = Field(default=[], max_length=MAX_FACTS)
    note: str = Field(default="", max_length=MAX_NOTE)


class FactOut(BaseModel):
    """A fact a visit corrected (its values stay in the register, not in this answer)."""

    entity: str
    id: int
    field: str


class SupersededOut(FactOut):
    """A correction not written: ``source`` holds a value observed at ``observed_at``,
    after the visit (a later visit, or a department list drawn later)."""

    source: str | None
    observed_at: datetime


class VisitOut(BaseModel):
    """A recorded visit; ``changed``: the households whose facts it changed;
    ``superseded``: corrections kept on the visit but not written (the register's value
    is newer than the visit)."""

    id: int
    household_id: int
    grid_code: str | None
    visited_at: datetime
    received_at: datetime
    confirmed: list[str]
    corrected: list[FactOut]
    superseded: list[SupersededOut]
    changed: list[int]


class ConflictOut(BaseModel):
    """A department's value against the value the grid head confirmed."""

    id: int
    entity: str
    entity_id: int
    field: str
    current: str | None
    proposed: str | None
    source: str
    batch_id: int
    confirmed_at: datetime | None
    household_id: int | None
    person_id: int | None
    person_name: str | None


class SettleIn(BaseModel):
    """Keep the value confirmed on the visit, or take the department's."""

    decision: Literal["keep", "take"]


class SettledOut(BaseModel):
    id: int
    status: str
    settled_at: datetime | None
    changed: list[int]


class TagKindOut(BaseModel):
    """A tag people may carry (geodata/register/tags.csv), named in the caller's language."""

    key: str
    name: str
    details: list[str]


def _keys(request: Request) -> RegisterKeys:
    keys: RegisterKeys = request.app.state.register_keys
    return keys


@router.post(
    "/visits", status_code=201, summary="Record a doorstep visit (入户走访): confirm and correct"
)
def post_visit(
    body: VisitIn,
    request: Request,
    response: Response,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
) -> VisitOut:
    """201 with the visit; 200 with the first one when the same ``client_id`` comes again
    (nothing changes). Only the grid head of the household's grid."""
    require(user, Action.REGISTER, lang)
    settings = request.app.state.settings
    city = ZoneInfo(settings.timezone)
    visited_at = body.visited_at if body.visited_at.tzinfo else body.visited_at.replace(tzinfo=city)
    if (body.lon is None) != (body.lat is None):
        raise FieldError("lat" if body.lat is None else "lon", "register.visit.position")
    position = (body.lon, body.lat) if body.lon is not None and body.lat is not None else None
    recorded = record_visit(
        session,
        reader=reader_of(session, user),
        keys=_keys(request),
        tags=load_tags(tags_file(settings.geodata_dir)),
        household_id=body.household_id,
        client_id=body.client_id,
        visited_at=visited_at,
        now=app_now(request.app),
        window=VisitWindow(
            max_age=timedelta(hours=settings.observed_max_age_hours),
            clock_skew=timedelta(seconds=settings.observed_clock_skew_seconds),
        ),
        timezone=city,
        position=position,
        accuracy_m=body.accuracy_m,
        confirmed=body.confirmed,
        corrections=[Correction(c.entity, c.id, c.field, c.value) for c in body.corrected],
        note=body.note,
        geodata_dir=settings.geodata_dir,
    )
    if not recorded.created:
        response.status_code = 200
    visit = recorded.visit
    return VisitOut(
        id=visit.id,
        household_id=visit.household_id,
        grid_code=visit.grid_code,
        visited_at=visit.visited_at,
        received_at=visit.received_at,
        confirmed=list(visit.confirmed),
        corrected=[
            FactOut(entity=c["entity"], id=c["id"], field=c["field"]) for c in visit.corrected
        ],
        superseded=[
            SupersededOut(
                entity=c["entity"],
                id=c["id"],
                field=c["field"],
                source=c["source"],
                observed_at=c["observed_at"],
            )
            for c in visit.superseded
        ],
        changed=list(recorded.changed_households),
    )


@router.get("/tags", summary="The tags people may carry, with the details each takes")
def tag_kinds(request: Request, user: UserDep, lang: LangDep) -> list[TagKindOut]:
    """The city's tag configuration (no person in it)."""
    require(user, Action.REGISTER, lang)
    kinds = load_tags(tags_file(request.app.state.settings.geodata_dir)).values()
    return [
        TagKindOut(
            key=k.key, name=k.name_zh if lang == "zh" else k.name_en, details=list(k.details)
        )
        for k in kinds
    ]


def _conflict(view: ConflictView) -> ConflictOut:
    return ConflictOut(**vars(view))


@router.get("/conflicts", summary="A grid's open conflicts, for its grid head to settle")
def conflicts(
    request: Request,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    grid: Annotated[str, Query(min_length=1, max_length=32, description="A grid code")],
) -> list[ConflictOut]:
    """Oldest first: the value confirmed on a visit and the department's."""
    require(user, Action.REGISTER, lang)
    found = open_conflicts(
        session, reader=reader_of(session, user), keys=_keys(request), grid_code=grid
    )
    return [_conflict(c) for c in found]


@router.post(
    "/conflicts/{conflict_id}/settle", summary="Keep the confirmed value, or take the department's"
)
def settle(
    conflict_id: BigId,
    body: SettleIn,
    request: Request,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
) -> SettledOut:
    """Settled with who and when; a value taken goes back if its batch is undone."""
    require(user, Action.REGISTER, lang)
    settings = request.app.state.settings
    settled = settle_conflict(
        session,
        reader=reader_of(session, user),
        conflict_id=conflict_id,
        decision=body.decision,
        now=app_now(request.app),
        timezone=ZoneInfo(settings.timezone),
        geodata_dir=settings.geodata_dir,
    )
    conflict = settled.conflict
    return SettledOut(
        id=conflict.id,
        status=conflict.status,
        settled_at=conflict.settled_at,
        changed=list(settled.changed_households),
    )
