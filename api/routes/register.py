"""The register (一张表): a grid's households, a person's record (logged), places, counts,
and department imports. What each caller sees is the read table's (docs/PRIVACY.md)."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from pydantic import BaseModel

from api.deps import IndexDep, LangDep, SessionDep
from api.params import BBoxParam, BigId, MonthParam, parse_bbox, parse_month
from api.security import UserDep, app_now, require
from gridgov.errors import FieldError
from gridgov.i18n import t
from gridgov.register.aggregates import tag_counts_by_grid
from gridgov.register.coverage import coverage
from gridgov.register.imports import FieldChange
from gridgov.register.protect import RegisterKeys
from gridgov.register.reading import (
    HouseholdView,
    PersonView,
    households_of_grid,
    person_record,
    places,
    reader_of,
)
from gridgov.register.service import import_register
from gridgov.register.tier_views import tier_list
from gridgov.users.roles import Action

router = APIRouter(prefix="/api/v1/register", tags=["register"])
GridParam = Annotated[str, Query(min_length=1, max_length=32, description="A grid code")]
UPLOAD_SUFFIXES = (".csv", ".xlsx")


class TagOut(BaseModel):
    """A tag a person carries."""

    tag: str
    details: dict[str, Any]
    valid_from: date | None
    valid_to: date | None
    source: str


class MemberOut(BaseModel):
    """A person as the caller may see them: ID number and phone masked unless ``*_clear``."""

    id: int
    name: str | None
    sex: str | None
    birth_date: date | None
    age: int | None
    relation: str | None
    id_number: str | None
    id_number_clear: bool
    phone: str | None
    phone_clear: bool
    tags: list[TagOut]


class PersonOut(MemberOut):
    """A person's record, with where each field came from."""

    household_id: int | None
    provenance: dict[str, Any]


class HouseholdOut(BaseModel):
    """A household, its house and the members the caller may see."""

    id: int
    code: str
    house_code: str
    address: str
    building: str
    unit: str
    room: str
    members: list[MemberOut]


class CountsOut(BaseModel):
    """People carrying a tag per grid; null where a count of 1-4 is hidden."""

    tag: str
    counts: dict[str, int | None]


class ProblemOut(BaseModel):
    row: int
    column: str
    reason: str


class ChangeOut(BaseModel):
    row: int
    entity: str
    entity_id: int | None
    field: str
    old: str | None
    new: str | None


class ImportOut(BaseModel):
    """A department import: what matched, what is new, what is wrong, what would change."""

    counts: dict[str, int]
    problems: list[ProblemOut]
    changes: list[ChangeOut]
    conflicts: list[ChangeOut]
    batch: int | None


def _keys(request: Request) -> RegisterKeys:
    keys: RegisterKeys = request.app.state.register_keys
    return keys


def _tags(view: PersonView) -> list[TagOut]:
    return [TagOut(**vars(tag)) for tag in view.tags]


def _member(view: PersonView) -> MemberOut:
    fields = {k: v for k, v in vars(view).items() if k in MemberOut.model_fields and k != "tags"}
    return MemberOut(**fields, tags=_tags(view))


def _household(view: HouseholdView) -> HouseholdOut:
    fields = {k: v for k, v in vars(view).items() if k != "members"}
    return HouseholdOut(**fields, members=[_member(m) for m in view.members])


@router.get("/households", summary="A grid's households with their members and tags")
def households(
    request: Request, session: SessionDep, user: UserDep, lang: LangDep, grid: GridParam
) -> list[HouseholdOut]:
    """Members and tags as the read table lets the caller see them; ID numbers masked."""
    require(user, Action.REGISTER, lang)
    found = households_of_grid(
        session,
        reader=reader_of(session, user),
        keys=_keys(request),
        grid_code=grid,
        today=request.app.state.settings.today(),
    )
    return [_household(h) for h in found]


@router.get("/people/{person_id}", summary="One person's record (written to the access log)")
def person(
    request: Request,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    person_id: BigId,
    reason: Annotated[str, Query(max_length=500, description="Why you read it (logged)")],
) -> PersonOut:
    """The record as the caller may see it; who, when, which record and why are logged."""
    require(user, Action.REGISTER, lang)
    view = person_record(
        session,
        reader=reader_of(session, user),
        keys=_keys(request),
        person_id=person_id,
        reason=reason,
        today=request.app.state.settings.today(),
    )
    fields = {k: v for k, v in vars(view).items() if k != "tags"}
    return PersonOut(**fields, tags=_tags(view))


class TierEntryOut(BaseModel):
    """A red or yellow household: why, when last visited, when next due."""

    household_id: int
    household_code: str
    house_code: str
    address: str
    tier: str
    rule: str | None
    reason: str
    last_visit_at: datetime | None
    next_due: date | None
    overdue: bool


@router.get("/tiers", summary="A grid's red and yellow households, with the reason and visits")
def tier_households(
    request: Request, session: SessionDep, user: UserDep, lang: LangDep, grid: GridParam
) -> list[TierEntryOut]:
    """Red first, then by next due date; the reason is the deciding rule's name in the
    caller's language. For those who may read the grid's people by place (its grid head)."""
    require(user, Action.REGISTER, lang)
    settings = request.app.state.settings
    found = tier_list(
        session,
        reader=reader_of(session, user),
        grid_code=grid,
        today=settings.today(),
        lang=lang,
        timezone=settings.timezone,
        geodata_dir=settings.geodata_dir,
    )
    return [TierEntryOut(**vars(entry)) for entry in found]


class RedHouseholdOut(BaseModel):
    id: int
    code: str
    address: str


class CoverageOut(BaseModel):
    """One grid's month: houses, how many visited (patrol or door), red households unseen;
    a red count of 1-4 is null unless the caller may see those people."""

    grid: str
    houses: int
    visited: int
    share: float
    red: int | None
    red_not_seen: int | None
    not_seen: list[RedHouseholdOut]


@router.get("/coverage", summary="Per grid and month: houses visited, red households not seen")
def month_coverage(
    request: Request,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    month: MonthParam,
    grid: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    area: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
) -> list[CoverageOut]:
    """Name a grid or an area (every grid under it that the caller may count in)."""
    require(user, Action.REGISTER, lang)
    found = coverage(
        session,
        reader=reader_of(session, user),
        month=parse_month(month),
        timezone=request.app.state.settings.timezone,
        grid_code=grid,
        area_code=area,
    )
    return [
        CoverageOut(
            grid=c.grid,
            houses=c.houses,
            visited=c.visited,
            share=c.share,
            red=c.red,
            red_not_seen=c.red_not_seen,
            not_seen=[RedHouseholdOut(**vars(r)) for r in c.not_seen],
        )
        for c in found
    ]


@router.get("/{kind}", summary="Houses, enterprises or things of a grid or a box")
def place_list(
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    kind: Literal["houses", "enterprises", "things"],
    grid: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    bbox: BBoxParam = None,
) -> list[dict[str, Any]]:
    """At most 5,000, within what the caller may read; name a grid or a box."""
    require(user, Action.REGISTER, lang)
    box = parse_bbox(bbox)
    if grid is None and box is None:
        raise FieldError("grid", "register.grid_required")
    return places(session, reader=reader_of(session, user), kind=kind, grid_code=grid, bbox=box)


@router.get("/counts/tags", summary="People carrying a tag, per grid (small counts hidden)")
def tag_counts(
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    tag: Annotated[str, Query(min_length=1, max_length=32)],
) -> CountsOut:
    """Over the grids the caller may count in; 1-4 is null unless the caller may see them."""
    require(user, Action.REGISTER, lang)
    return CountsOut(
        tag=tag, counts=tag_counts_by_grid(session, reader=reader_of(session, user), tag=tag)
    )


def _change(change: FieldChange) -> ChangeOut:
    return ChangeOut(**vars(change))


@router.post("/imports", summary="Import a department's list: dry run, or commit")
def import_list(
    request: Request,
    session: SessionDep,
    user: UserDep,
    lang: LangDep,
    index: IndexDep,
    file: Annotated[UploadFile, File(description="The list: CSV (UTF-8 or GBK) or XLSX")],
    source: Annotated[str, Form(max_length=64, description="The department, e.g. 民政局")],
    columns: Annotated[
        str,
        Form(
            max_length=100,
            pattern=r"^[^/\\.]+$",
            description="A column file of geodata/register/columns, without .csv",
        ),
    ],
    commit: Annotated[bool, Form()] = False,
    as_of: Annotated[datetime | None, Form(description="When the department drew the list")] = None,
) -> ImportOut:
    """Rows with problems are listed and never written; with ``commit`` the good rows are
    written as one batch (all or nothing)."""
    require(user, Action.REGISTER_IMPORT, lang)
    settings = request.app.state.settings
    columns_path = settings.geodata_dir / "register" / "columns" / f"{columns}.csv"
    if not columns_path.is_file():
        raise FieldError("columns", "register.columns", detail=columns)
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise FieldError("file", "register.problem.file", detail=suffix or "?")
    limit = settings.batch_max_bytes
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(file.filename or f"upload{suffix}").name
        data = file.file.read(limit + 1)
        if len(data) > limit:
            raise HTTPException(413, detail={"message": t("register.too_large", lang, limit=limit)})
        path.write_bytes(data)
        result = import_register(
            session,
            keys=_keys(request),
            path=path,
            columns_path=columns_path,
            source=source,
            geodata_dir=settings.geodata_dir,
            today=settings.today(),
            now=app_now(request.app),
            index=index,
            as_of=as_of if as_of is None or as_of.tzinfo else as_of.replace(tzinfo=UTC),
            commit=commit,
            user_id=user.id,
        )
    plan = result.plan
    return ImportOut(
        counts=plan.counts(),
        problems=[
            ProblemOut(row=p.row, column=p.column, reason=p.said(lang)) for p in plan.problems
        ],
        changes=[_change(c) for c in plan.changes],
        conflicts=[_change(c) for c in plan.conflicts],
        batch=result.batch.id if result.batch else None,
    )
