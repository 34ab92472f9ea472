"""Register visits before they happen, and tell a unit how busy the communities it goes to are."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.levels import Level
from gridgov.boundaries.models import Area, Grid
from gridgov.departments.models import Department
from gridgov.errors import FieldError
from gridgov.users.roles import Actor
from gridgov.visits.load import (
    Load,
    Thresholds,
    load_level,
    months_of,
    nearest_quieter,
    quieter_weeks,
)
from gridgov.visits.models import VisitPlace, VisitRegistration

MAX_DAYS = 31
MAX_COMMUNITIES = 50
COMING_WEEKS = 8  # how far ahead a community's list of who is coming looks, by default


@dataclass(frozen=True)
class CommunityLoad:
    """Distinct units registered at one community in one month (this visit included), and,
    when that is red, the nearest green communities and the quietest weeks."""

    community: str
    name: str
    month: date
    units: int
    level: Load
    quieter_communities: list[tuple[str, str, float, int]] = field(default_factory=list)
    quieter_weeks: list[tuple[date, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Visit:
    """What a unit asks to register."""

    unit: str
    purpose: str
    starts_on: date
    ends_on: date
    communities: Sequence[str]
    people: Sequence[str] = ()


def check_visit(
    session: Session, *, visit: Visit, thresholds: Thresholds, today: date
) -> list[CommunityLoad]:
    """The load each community of the visit would have, without registering anything."""
    return _loads(session, visit, _validate(session, visit, today), thresholds, today)


def _loads(
    session: Session,
    visit: Visit,
    communities: dict[str, tuple[int, str]],
    thresholds: Thresholds,
    today: date,
) -> list[CommunityLoad]:
    loads = []
    for month in months_of(visit.starts_on, visit.ends_on):
        units = _units(session, month)
        for code, (area_id, name) in communities.items():
            at_community = units.get(code, set()) | {visit.unit.strip()}
            level = load_level(len(at_community), thresholds)
            loads.append(
                CommunityLoad(code, name, month, len(at_community), level)
                if level is not Load.RED
                else CommunityLoad(
                    code,
                    name,
                    month,
                    len(at_community),
                    level,
                    _quieter_communities(
                        session, area_id, units, visit.unit.strip(), set(communities), thresholds
                    ),
                    quieter_weeks(_visits_at(session, code, month), month, not_before=today),
                )
            )
    return loads


def register_visit(
    session: Session,
    *,
    visit: Visit,
    registered_by: int | None,
    thresholds: Thresholds,
    today: date,
) -> tuple[VisitRegistration, list[CommunityLoad]]:
    """Register the visit (a red community is warned about, not refused) and say the loads."""
    communities = _validate(session, visit, today)
    loads = _loads(session, visit, communities, thresholds, today)
    registration = VisitRegistration(
        unit=visit.unit.strip(),
        purpose=visit.purpose.strip(),
        people=[p.strip() for p in visit.people if p.strip()],
        starts_on=visit.starts_on,
        ends_on=visit.ends_on,
        registered_by=registered_by,
    )
    session.add(registration)
    session.flush()
    session.add_all(
        VisitPlace(registration_id=registration.id, community_code=code) for code in communities
    )
    session.flush()
    return registration, loads


def community_units(session: Session, *, month: date) -> dict[str, int]:
    """The number of distinct units registered at each community in ``month`` (the heat map)."""
    return {code: len(units) for code, units in _units(session, month).items()}


def visits_to(session: Session, *, community: str, month: date) -> list[VisitRegistration]:
    """Who is coming to a community in a month, in order of arrival."""
    return _visits_between(session, community, month, _month_end(month))


def coming_visits(
    session: Session, *, community: str, today: date, weeks: int = COMING_WEEKS
) -> list[VisitRegistration]:
    """Who is coming to a community from today through the coming ``weeks``, in order of
    arrival (a visit already under way is still listed)."""
    return _visits_between(session, community, today, today + timedelta(weeks=weeks) - timedelta(1))


def community_named(session: Session, *, code: str) -> str:
    """The name of a community of the active generation (FieldError on "community" else)."""
    generation = active_generation(session)
    name = session.scalar(
        select(Area.name).where(
            Area.generation_id == (generation.id if generation else -1),
            Area.level == Level.COMMUNITY.value,
            Area.code == code,
        )
    )
    if name is None:
        raise FieldError("community", "visits.unknown_community", codes=code)
    return name


def home_community(session: Session, *, actor: Actor) -> str | None:
    """The community a user looks after: a grid head's grid's, a community department's
    (the community worker's), an operator's when scoped to one community; else None."""
    generation = active_generation(session)
    if generation is None:
        return None
    if actor.grid_code:
        return session.scalar(
            select(Area.code)
            .join(Grid, Grid.parent_id == Area.id)
            .where(Grid.generation_id == generation.id, Grid.code == actor.grid_code)
        )
    code = actor.area_code
    if actor.department_code:
        code = session.scalar(
            select(Department.area_code).where(Department.code == actor.department_code)
        )
    if code is None:
        return None
    return session.scalar(
        select(Area.code).where(
            Area.generation_id == generation.id,
            Area.level == Level.COMMUNITY.value,
            Area.code == code,
        )
    )


def _visits_between(
    session: Session, community: str, first: date, last: date
) -> list[VisitRegistration]:
    return list(
        session.scalars(
            select(VisitRegistration)
            .join(VisitPlace, VisitPlace.registration_id == VisitRegistration.id)
            .where(
                VisitPlace.community_code == community,
                VisitRegistration.starts_on <= last,
                VisitRegistration.ends_on >= first,
            )
            .order_by(VisitRegistration.starts_on, VisitRegistration.id)
        )
    )


def _validate(session: Session, visit: Visit, today: date) -> dict[str, tuple[int, str]]:
    if not visit.unit.strip() or len(visit.unit.strip()) > 100:
        raise FieldError("unit", "visits.unit")
    if not visit.purpose.strip():
        raise FieldError("purpose", "visits.purpose")
    if visit.starts_on < today:
        raise FieldError("starts_on", "visits.past", today=today.isoformat())
    if visit.ends_on < visit.starts_on:
        raise FieldError("ends_on", "visits.ends_before_start")
    if (visit.ends_on - visit.starts_on).days >= MAX_DAYS:
        raise FieldError("ends_on", "visits.too_long", days=MAX_DAYS)
    codes = list(dict.fromkeys(visit.communities))
    if not 1 <= len(codes) <= MAX_COMMUNITIES:
        raise FieldError("communities", "visits.communities", limit=MAX_COMMUNITIES)
    generation = active_generation(session)
    generation_id = generation.id if generation else -1
    found = _community_rows(session, generation_id, codes)
    # A grid's code stands for its community: the load is counted per community.
    missing = [c for c in codes if c not in found]
    grids: dict[str, str] = {}
    if missing:
        rows = session.execute(
            select(Grid.code, Area.code)
            .join(Area, Area.id == Grid.parent_id)
            .where(
                Grid.generation_id == generation_id,
                Grid.code.in_(missing),
            )
        )
        grids = {grid: community for grid, community in rows}
    unknown = [c for c in codes if c not in found and c not in grids]
    if unknown:
        raise FieldError("communities", "visits.unknown_community", codes=", ".join(unknown))
    found.update(_community_rows(session, generation_id, sorted(set(grids.values()) - set(found))))
    places = dict.fromkeys(grids.get(code, code) for code in codes)
    return {code: found[code] for code in places}


def _community_rows(
    session: Session, generation_id: int, codes: Sequence[str]
) -> dict[str, tuple[int, str]]:
    return {
        code: (area_id, name)
        for code, area_id, name in session.execute(
            select(Area.code, Area.id, Area.name).where(
                Area.generation_id == generation_id,
                Area.level == Level.COMMUNITY.value,
                Area.code.in_(codes),
            )
        )
    }


def _month_end(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def _units(session: Session, month: date) -> dict[str, set[str]]:
    """The distinct units registered at each community in a month."""
    rows = session.execute(
        select(VisitPlace.community_code, VisitRegistration.unit)
        .join(VisitRegistration, VisitRegistration.id == VisitPlace.registration_id)
        .where(VisitRegistration.starts_on <= _month_end(month), VisitRegistration.ends_on >= month)
        .distinct()
    )
    units: dict[str, set[str]] = {}
    for code, unit in rows:
        units.setdefault(code, set()).add(unit)
    return units


def _visits_at(session: Session, community: str, month: date) -> list[tuple[str, date, date]]:
    return [
        (v.unit, v.starts_on, v.ends_on)
        for v in visits_to(session, community=community, month=month)
    ]


_NEIGHBOURS = text(
    """
    SELECT c.code, c.name,
           ST_Distance(geography(ST_PointOnSurface(c.geom)), geography(ST_PointOnSurface(o.geom)))
    FROM areas o JOIN areas c ON c.generation_id = o.generation_id AND c.level = o.level
    WHERE o.id = :origin AND c.id <> o.id
    ORDER BY c.geom <-> ST_PointOnSurface(o.geom)
    LIMIT 30
    """
)


def _quieter_communities(
    session: Session,
    area_id: int,
    units: dict[str, set[str]],
    unit: str,
    going: set[str],
    thresholds: Thresholds,
) -> list[tuple[str, str, float, int]]:
    """The nearest communities that would still be green with this unit counted, other than
    those the visit goes to already."""
    rows = [r for r in session.execute(_NEIGHBOURS, {"origin": area_id}) if r[0] not in going]
    names = {code: name for code, name, _ in rows}
    loads = {code: len(units.get(code, set()) | {unit}) for code in names}
    nearest = nearest_quieter({code: float(d) for code, _, d in rows}, loads, thresholds)
    return [(code, names[code], round(metres), n) for code, metres, n in nearest]
