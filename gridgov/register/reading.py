"""Reading the register as the read table allows: a grid's households with members and
tags, one person's record (written to the access log), and the places of a grid or box.

ID numbers and phones are masked unless the table gives the reader the clear value there;
tags the reader may not read are left out, not masked (a hidden 低保 is still a 低保).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from gridgov.departments.models import Department
from gridgov.errors import FieldError, OutOfScope
from gridgov.register.access import (
    ID_NUMBER,
    PEOPLE,
    PHONE,
    PLACES,
    Reach,
    Reader,
    Where,
    may_read,
    reach_of,
    readable_tags,
)
from gridgov.register.models import (
    Enterprise,
    House,
    Household,
    Person,
    PersonTag,
    RegisterAccess,
    Thing,
)
from gridgov.register.places import Codes
from gridgov.register.protect import RegisterKeys, mask_id, mask_phone
from gridgov.users.models import User

MAX_REASON = 500


def reader_of(session: Session, user: User) -> Reader:
    """The user as the read table sees them (a handler: their department's kind and area)."""
    if user.role == "handler" and user.department_code:
        department = session.scalar(
            select(Department).where(Department.code == user.department_code)
        )
        if department is not None:
            return Reader(user.id, user.role, department.role, department.area_code)
        return Reader(user.id, user.role)
    return Reader(user.id, user.role, None, user.area_code, user.grid_code)


def _where(row: Any) -> Where:
    codes = Codes(**{c: getattr(row, c) for c in Codes().columns()}) if row is not None else Codes()
    return Where(codes.grid_code, codes.area_codes())


@dataclass(frozen=True)
class TagView:
    """A tag as shown."""

    tag: str
    details: dict[str, Any]
    valid_from: date | None
    valid_to: date | None
    source: str


@dataclass(frozen=True)
class PersonView:
    """A person as this reader may see them."""

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
    tags: list[TagView]
    household_id: int | None = None
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HouseholdView:
    """A household, its house, and the members this reader may see."""

    id: int
    code: str
    house_code: str
    address: str
    building: str
    unit: str
    room: str
    members: list[PersonView]


def age_on(born: date | None, today: date) -> int | None:
    """Whole years from ``born`` to ``today``.

    >>> age_on(date(1950, 12, 6), date(2026, 12, 5)), age_on(date(1950, 12, 5), date(2026, 12, 5))
    (75, 76)
    """
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


@dataclass(frozen=True)
class _Sight:
    """What a reader sees of one person, from the person's place and tags."""

    people: bool
    tags: frozenset[str]
    id_clear: bool
    phone_clear: bool


def _sight(reader: Reader, where: Where, names: Sequence[str]) -> _Sight:
    return _Sight(
        may_read(reader, PEOPLE, where, names),
        frozenset(readable_tags(reader, where, names)),
        may_read(reader, ID_NUMBER, where, names),
        may_read(reader, PHONE, where, names),
    )


def _view(
    person: Any,
    tags: Sequence[Any],
    sight: _Sight,
    keys: RegisterKeys,
    today: date,
    provenance: dict[str, Any] | None = None,
) -> PersonView:
    id_clear, phone_clear, shown = sight.id_clear, sight.phone_clear, sight.tags
    number = keys.open(person.id_sealed, field="id_number") if person.id_sealed else None
    phone = keys.open(person.phone_sealed, field="phone") if person.phone_sealed else None
    return PersonView(
        id=person.id,
        name=person.name,
        sex=person.sex,
        birth_date=person.birth_date,
        age=age_on(person.birth_date, today),
        relation=person.relation,
        id_number=(number if id_clear else mask_id(number)) if number else None,
        id_number_clear=bool(number) and id_clear,
        phone=(phone if phone_clear else mask_phone(phone)) if phone else None,
        phone_clear=bool(phone) and phone_clear,
        tags=[
            TagView(t.tag, dict(t.details or {}), t.valid_from, t.valid_to, t.source)
            for t in tags
            if t.tag in shown
        ],
        household_id=person.household_id,
        provenance=dict(provenance or {}),
    )


TAG_COLUMNS = (
    PersonTag.person_id,
    PersonTag.tag,
    PersonTag.details,
    PersonTag.valid_from,
    PersonTag.valid_to,
    PersonTag.source,
)
PERSON_COLUMNS = (
    Person.id,
    Person.name,
    Person.sex,
    Person.birth_date,
    Person.relation,
    Person.id_sealed,
    Person.phone_sealed,
    Person.household_id,
)
HOUSE_CODES = (
    House.grid_code,
    House.community_code,
    House.street_code,
    House.district_code,
    House.city_code,
)


def _grouped(rows: Iterable[Any]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {}
    for row in rows:
        found.setdefault(row.person_id, []).append(row)
    return found


def _tags_of(session: Session, person_ids: Iterable[int]) -> dict[int, list[Any]]:
    """The tags of ``person_ids`` as plain rows (tag, details, valid_from, valid_to, source)."""
    ids = list(person_ids)
    if not ids:
        return {}
    query = select(*TAG_COLUMNS).where(PersonTag.person_id.in_(ids)).order_by(PersonTag.tag)
    return _grouped(session.execute(query))


def households_of_grid(
    session: Session, *, reader: Reader, keys: RegisterKeys, grid_code: str, today: date
) -> list[HouseholdView]:
    """The households of a grid with their members and tags, as ``reader`` may see them
    (a reader who may see people only by tag sees only those members).

    Two statements whatever the grid's size, plain rows (no ORM objects, no provenance): a
    grid head opens a grid of a thousand people on a phone."""
    reach = reach_of(reader, PEOPLE)
    in_grid = (
        select(Person.id)
        .join(Household, Household.id == Person.household_id)
        .join(House, House.id == Household.house_id)
        .where(House.grid_code == grid_code, Person.removed_at.is_(None))
    )
    rows = session.execute(
        select(
            Household.id.label("household_id_"),
            Household.code.label("household_code"),
            House.code.label("house_code"),
            House.address,
            House.building,
            House.unit,
            House.room,
            *HOUSE_CODES,
            *PERSON_COLUMNS,
        )
        .join(House, House.id == Household.house_id)
        .join(Person, Person.household_id == Household.id)
        .where(House.grid_code == grid_code, Person.removed_at.is_(None))
        .order_by(House.address, House.building, House.unit, House.room, Household.id, Person.id)
    ).all()
    wheres: dict[tuple[str | None, ...], Where] = {}

    def where_of(row: Any) -> Where:
        codes = (row.grid_code, row.community_code, row.street_code, row.district_code,
                 row.city_code)  # fmt: skip
        if codes not in wheres:
            wheres[codes] = Where(codes[0], frozenset(c for c in codes[1:] if c))
        return wheres[codes]

    if reach is None or (
        rows and reach is not Reach.TAGGED and not may_read(reader, PEOPLE, where_of(rows[0]))
    ):
        raise OutOfScope("scope.register_grid", code=grid_code)
    tags = (
        _grouped(
            session.execute(
                select(*TAG_COLUMNS)
                .where(PersonTag.person_id.in_(in_grid.scalar_subquery()))
                .order_by(PersonTag.person_id, PersonTag.tag)
            )
        )
        if rows
        else {}
    )
    households: dict[int, HouseholdView] = {}
    sights: dict[tuple[Where, tuple[str, ...]], _Sight] = {}  # most people share a few
    for row in rows:
        where = where_of(row)
        mine = tags.get(row.id, [])
        key = (where, tuple(t.tag for t in mine))
        sight = sights.get(key)
        if sight is None:
            sight = sights[key] = _sight(reader, where, key[1])
        if not sight.people:
            continue
        view = households.get(row.household_id_)
        if view is None:
            view = households[row.household_id_] = HouseholdView(
                row.household_id_, row.household_code, row.house_code, row.address,
                row.building, row.unit, row.room, [],
            )  # fmt: skip
        view.members.append(_view(row, mine, sight, keys, today))
    return list(households.values())


def person_record(
    session: Session,
    *,
    reader: Reader,
    keys: RegisterKeys,
    person_id: int,
    reason: str,
    today: date,
) -> PersonView:
    """One person's record, written to the access log with who, when and why (the caller
    commits: no record is shown without its log row in the same transaction)."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise FieldError("reason", "register.reason")
    person = session.get(Person, person_id)
    if person is None or person.removed_at is not None:
        raise FieldError("person_id", "register.person_unknown", person=person_id)
    house = session.scalar(
        select(House)
        .join(Household, Household.house_id == House.id)
        .where(Household.id == person.household_id)
    )
    where = _where(house)
    tags = _tags_of(session, [person.id]).get(person.id, [])
    sight = _sight(reader, where, [t.tag for t in tags])
    if not sight.people:
        raise OutOfScope("scope.register_person", id=person_id)
    view = _view(person, tags, sight, keys, today, person.provenance)
    shown = ["people", *(f"tag:{t.tag}" for t in view.tags)]
    shown += [ID_NUMBER] if view.id_number_clear else []
    shown += [PHONE] if view.phone_clear else []
    session.add(
        RegisterAccess(user_id=reader.user_id, person_id=person.id, reason=reason, shown=shown)
    )
    session.flush()
    return view


def people_shown(
    session: Session,
    *,
    reader: Reader,
    keys: RegisterKeys,
    person_ids: Sequence[int],
    reason: str,
    today: date,
) -> list[tuple[PersonView, House | None]]:
    """Several people's records (a roster), in the order given, with their houses; one
    access-log row per person shown. All or nothing: OutOfScope counting the people the
    reader may not read, before anything is shown or logged (the caller commits)."""
    reason = reason.strip()[:MAX_REASON]
    if not reason:
        raise FieldError("reason", "register.reason")
    rows = session.execute(
        select(Person, House)
        .outerjoin(Household, Household.id == Person.household_id)
        .outerjoin(House, House.id == Household.house_id)
        .where(Person.id.in_(list(person_ids)), Person.removed_at.is_(None))
    ).all()
    found = {person.id: (person, house) for person, house in rows}
    tags = _tags_of(session, found)
    hidden = len(set(person_ids)) - len(found)  # removed meanwhile: not shown either
    for person, house in found.values():
        if not may_read(reader, PEOPLE, _where(house), [t.tag for t in tags.get(person.id, [])]):
            hidden += 1
    if hidden:
        raise OutOfScope("scope.register_people", hidden=hidden, total=len(set(person_ids)))
    shown_rows: list[tuple[PersonView, House | None]] = []
    for person_id in person_ids:
        person, house = found[person_id]
        mine = tags.get(person.id, [])
        sight = _sight(reader, _where(house), [t.tag for t in mine])
        view = _view(person, mine, sight, keys, today, person.provenance)
        shown = ["people", *(f"tag:{t.tag}" for t in view.tags)]
        shown += [ID_NUMBER] if view.id_number_clear else []
        shown += [PHONE] if view.phone_clear else []
        session.add(
            RegisterAccess(user_id=reader.user_id, person_id=person.id, reason=reason, shown=shown)
        )
        shown_rows.append((view, house))
    session.flush()
    return shown_rows


def reach_filter(reader: Reader, model: Any, what: str) -> ColumnElement[bool]:
    """The rows of a placed table that ``reader`` may read ``what`` of, as SQL."""
    reach = reach_of(reader, what)
    if reach is Reach.CITY:
        return true()
    if reach is Reach.GRID and reader.grid_code:
        return model.grid_code == reader.grid_code
    if reach is Reach.AREA and reader.area_code:
        code = reader.area_code
        return or_(
            model.community_code == code,
            model.street_code == code,
            model.district_code == code,
            model.city_code == code,
        )
    return false()


PLACE_MODELS: dict[str, Any] = {"houses": House, "enterprises": Enterprise, "things": Thing}
MAX_PLACES = 5000


def places(
    session: Session,
    *,
    reader: Reader,
    kind: str,
    grid_code: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> list[dict[str, Any]]:
    """Houses, enterprises or things of a grid or a box that ``reader`` may read (at most
    MAX_PLACES); an enterprise's contact phone is not listed."""
    if reach_of(reader, PLACES) is None:
        raise OutOfScope("scope.register_places")
    model = PLACE_MODELS[kind]
    query = select(model).where(reach_filter(reader, model, PLACES))
    if grid_code is not None:
        query = query.where(model.grid_code == grid_code)
    if bbox is not None:
        from sqlalchemy import func

        query = query.where(model.position.intersects(func.ST_MakeEnvelope(*bbox, 4326)))
    rows = session.scalars(query.order_by(model.id).limit(MAX_PLACES)).all()
    return [_place_out(kind, row) for row in rows]


def _place_out(kind: str, row: Any) -> dict[str, Any]:
    point = to_shape(row.position) if row.position is not None else None
    out: dict[str, Any] = {
        "id": row.id,
        "grid_code": row.grid_code,
        "community_code": row.community_code,
        "lon": point.x if point else None,
        "lat": point.y if point else None,
    }
    if kind == "houses":
        out |= {
            "code": row.code, "address": row.address, "building": row.building, "unit": row.unit,
            "room": row.room, "use": row.use, "tenure": row.tenure,
        }  # fmt: skip
    elif kind == "enterprises":
        out |= {
            "credit_code": row.credit_code, "name": row.name, "address": row.address,
            "industry": row.industry, "risk_class": row.risk_class, "contact": row.contact,
        }  # fmt: skip
    else:
        out |= {"code": row.code, "kind": row.kind, "name": row.name}
    return out
