"""Rosters (花名册): a pattern row repeated once per person (``{{each person: age >= 80}}``)
or household (``{{each household: tier = red}}``) of the area matching the conditions, read
through the register's read table (``gridgov.register.access``).

A roster is all or nothing: when the caller may not read every person it would list (the
table's ``people`` row and its reach), it is refused (403) saying how many are out of reach,
never filled with gaps (a subsidy roster missing a name is a wrong form, not a smaller one).
Each person shown is written to the register's access log, the reason being the template and
the period; ID numbers and phones are masked as the register masks them for this reader. A
household's row shows its head (or, without one, its first member).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.models import Area
from gridgov.errors import OutOfScope
from gridgov.i18n import t
from gridgov.register.access import PEOPLE, Reader, may_read_anywhere
from gridgov.register.models import House, Household, Person
from gridgov.register.protect import RegisterKeys
from gridgov.register.reading import PersonView, people_shown
from gridgov.reports.definitions import Definition
from gridgov.reports.indicators import IndicatorError, checked, conditions_sql, in_place
from gridgov.reports.sources import Period, Place, source_named

ROSTERS = frozenset({"person", "household"})


@dataclass(frozen=True)
class RosterReader:
    """Who fills a roster (as the read table sees them), the keys to open ID numbers and
    phones, the reason written to the access log, and the tags' names to show."""

    reader: Reader
    keys: RegisterKeys
    reason: str
    tag_names: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RosterRow:
    """One row of a roster: the person shown, where they live, their household."""

    person: PersonView
    address: str
    community: str
    tier: str | None
    household_size: int


def check_roster(dimension: str, argument: str, roster: RosterReader | None) -> Definition:
    """The roster's filter, read; IndicatorError when it cannot be read or nobody fills it
    (the command line without ``--as``), OutOfScope when the reader's role may not read
    anyone by name. Reads no row."""
    definition = checked(f"count({dimension}, {argument})" if argument else f"count({dimension})")
    if roster is None:
        raise IndicatorError(dimension, "reports.roster_needs_reader")
    if not may_read_anywhere(roster.reader, PEOPLE):
        raise OutOfScope("scope.register_people_role")
    return definition


def roster_rows(
    session: Session,
    *,
    dimension: str,
    argument: str,
    place: Place,
    period: Period,
    roster: RosterReader | None,
    limit: int,
) -> list[RosterRow]:
    """The rows of a roster, each person shown logged; IndicatorError for a filter that
    cannot be read, a roster without a reader (the command line without ``--as``) or one
    longer than ``limit``; OutOfScope when the reader may not read everyone on it."""
    definition = check_roster(dimension, argument, roster)
    assert roster is not None  # check_roster refused none
    source = source_named(dimension)
    where = [
        source.base,
        in_place(source, place),
        *conditions_sql(source, definition.conditions, period),
    ]
    order = (House.community_code, House.address, House.building, House.unit, House.room)
    if dimension == "person":
        query = select(Person.id).where(Person.removed_at.is_(None)).order_by(*order, Person.id)
    else:
        member = Person.__table__.alias("member")
        head = (
            select(member.c.id)
            .where(member.c.household_id == Household.id, member.c.removed_at.is_(None))
            .order_by(case((member.c.relation == "head", 0), else_=1), member.c.id)
            .limit(1)
            .scalar_subquery()
        )
        query = select(head).where(head.is_not(None)).order_by(*order, Household.id)
    ids = list(session.scalars(query.select_from(source.rows).where(*where).limit(limit + 1)))
    if len(ids) > limit:
        raise IndicatorError(dimension, "reports.too_many_rows", limit=limit)
    shown = people_shown(
        session,
        reader=roster.reader,
        keys=roster.keys,
        person_ids=ids,
        reason=roster.reason,
        today=period.as_of.date(),
    )
    households = {view.household_id for view, _ in shown if view.household_id is not None}
    sizes = dict(
        session.execute(
            select(Person.household_id, func.count())
            .where(Person.household_id.in_(households), Person.removed_at.is_(None))
            .group_by(Person.household_id)
        ).all()
    )
    tiers: dict[int, str | None] = {
        key: tier
        for key, tier in session.execute(
            select(Household.id, Household.tier).where(Household.id.in_(households))
        )
    }
    names = _community_names(session, {h.community_code for _, h in shown if h is not None})
    return [
        RosterRow(
            person=view,
            address=_address(house),
            community=names.get(house.community_code or "", "") if house is not None else "",
            tier=tiers.get(view.household_id) if view.household_id is not None else None,
            household_size=int(sizes.get(view.household_id, 0)),
        )
        for view, house in shown
    ]


def _community_names(session: Session, codes: set[str | None]) -> dict[str, str]:
    generation = active_generation(session)
    wanted = [c for c in codes if c]
    if generation is None or not wanted:
        return {}
    rows = session.execute(
        select(Area.code, Area.name).where(
            Area.generation_id == generation.id, Area.code.in_(wanted)
        )
    )
    return {code: name for code, name in rows}


def _address(house: House | None) -> str:
    """The house's address with its building, unit and room: ``青柳路1号 1-2-301``."""
    if house is None:
        return ""
    rooms = "-".join(part for part in (house.building, house.unit, house.room) if part)
    return f"{house.address} {rooms}".strip()


def _tag_detail(row: RosterRow, tag: str, detail: str) -> object:
    found = next((t for t in row.person.tags if t.tag == tag), None)
    return None if found is None else found.details.get(detail)


# What a roster column (a ``field`` or ``key`` indicator's ``field(...)``) shows of a row.
FIELDS = {
    "person.name": lambda row, lang, tags: row.person.name,
    "person.id_number": lambda row, lang, tags: row.person.id_number,
    "person.phone": lambda row, lang, tags: row.person.phone,
    "person.sex": lambda row, lang, tags: (
        t(f"reports.sex.{row.person.sex}", lang) if row.person.sex else None
    ),
    "person.birth_date": lambda row, lang, tags: row.person.birth_date,
    "person.age": lambda row, lang, tags: row.person.age,
    "house.address": lambda row, lang, tags: row.address,
    "area.name": lambda row, lang, tags: row.community,
    "household.tier": lambda row, lang, tags: (
        t(f"reports.tier.{row.tier}", lang) if row.tier else None
    ),
    "household.size": lambda row, lang, tags: row.household_size,
}


def field_path(definition: str) -> str:
    """``field(person.name)`` -> ``person.name``.

    >>> field_path("field(tag.disability.kind)")
    'tag.disability.kind'
    """
    text = definition.strip()
    return text[len("field(") : -1].strip() if text.startswith("field(") else text


def known_field(path: str) -> bool:
    """Whether a roster can show the column ``path`` names."""
    if path in FIELDS or path.startswith("person.tags:"):
        return True
    parts = path.split(".")
    return len(parts) == 3 and parts[0] == "tag" and parts[2] in ("kind", "grade")


def field_value(path: str, row: RosterRow, *, lang: str, tag_names: dict[str, str]) -> object:
    """What the column ``path`` shows for ``row`` (tags the reader may not read: nothing)."""
    if path in FIELDS:
        return FIELDS[path](row, lang, tag_names)
    if path.startswith("person.tags:"):
        wanted = [w.strip() for w in path.partition(":")[2].split("|") if w.strip()]
        held = {t.tag for t in row.person.tags}
        return "、".join(tag_names.get(w, w) for w in wanted if w in held) or None
    _, tag, detail = path.split(".")
    return _tag_detail(row, tag, detail)


def reason_for(template: str, period: str, lang: str) -> str:
    """The access log's reason for a roster: the template and the period."""
    return t("reports.roster_reason", lang, template=template, period=period)
