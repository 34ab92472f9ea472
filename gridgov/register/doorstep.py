"""Doorstep verification (入户走访): a grid head confirms or corrects a household's facts.

A visit names the facts confirmed as they are (``person:12:name``, ``tag:12:allowance`` —
the person and the tag's key —, ``house:5:use``) and the facts corrected. Both are written
with provenance (source ``visit``, the visit, who, when) and a confirmation, so a
department's older list no longer overwrites them: it raises a conflict for the grid head
to settle (gridgov.register.conflicts). A visit counts once per (user, client id): a phone
that sends it again gets the first visit back and changes nothing.

Newer wins, by the time a value was observed: a visit queued offline that arrives after a
later visit confirmed the field, or after a department list drawn later (its ``as_of``)
wrote it, does not overwrite that value; its correction is kept on the visit as
``superseded``, with who holds the newer value.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from geoalchemy2 import WKTElement
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridgov.errors import FieldError, OutOfScope
from gridgov.register.access import Reader
from gridgov.register.confirmations import confirm_field, confirm_tag
from gridgov.register.models import (
    House,
    Household,
    HouseholdVisit,
    Person,
    PersonTag,
    RegisterBatch,
)
from gridgov.register.protect import RegisterKeys
from gridgov.register.tiering import retier
from gridgov.register.vocabulary import RELATION, SEX, TENURE, USE, TagKind, parse_date, parse_grade

SOURCE = "visit"
PERSON_FIELDS = ("name", "sex", "birth_date", "phone", "relation")
HOUSE_FIELDS = ("use", "tenure")
MAX_NAME = 100
MAX_NOTE = 2000
MAX_CLIENT_ID = 64
MAX_FACTS = 500


@dataclass(frozen=True)
class VisitWindow:
    """How far back a visit's time may lie and how far ahead (a fast phone clock): the
    settings a report's ``observed_at`` is held to (GRIDGOV_OBSERVED_MAX_AGE_HOURS, ...)."""

    max_age: timedelta = timedelta(days=7)
    clock_skew: timedelta = timedelta(minutes=5)

    def check(self, visited_at: datetime, *, now: datetime) -> None:
        """FieldError on ``visited_at`` for a time without offset, ahead or too old.

        >>> now = datetime(2026, 12, 5, 12, tzinfo=UTC)
        >>> try:
        ...     VisitWindow().check(now + timedelta(hours=1), now=now)
        ... except FieldError as refused:
        ...     print(refused.field, refused.key)
        visited_at register.visit.future
        """
        if visited_at.tzinfo is None:
            raise FieldError("visited_at", "register.visit.no_offset")
        if visited_at > now + self.clock_skew:
            seconds = round(self.clock_skew.total_seconds())
            raise FieldError("visited_at", "register.visit.future", seconds=seconds)
        if visited_at < now - self.max_age:
            hours = round(self.max_age.total_seconds() / 3600)
            raise FieldError("visited_at", "register.visit.too_old", hours=hours)


@dataclass(frozen=True)
class Correction:
    """One fact corrected on the doorstep.

    ``entity`` ``person`` or ``house`` with ``id`` and ``field`` and the new ``value``; or
    ``tag`` with ``id`` the person and ``field`` the tag's key: ``value`` its details (a
    dict, ``{}`` for none) to add it, None to end it on the day of the visit."""

    entity: str
    id: int
    field: str
    value: Any = None


@dataclass(frozen=True)
class VisitRecorded:
    """The visit, whether this call wrote it (False: a resend), and the households whose
    facts it changed (what a household's tier is computed from)."""

    visit: HouseholdVisit
    created: bool
    changed_households: tuple[int, ...] = ()


@dataclass
class _Household:
    """A household as a visit sees it: its house, members and their tags."""

    row: Household
    house: House
    people: dict[int, Person]
    tags: dict[tuple[int, str], PersonTag] = field(default_factory=dict)


def may_visit(reader: Reader, grid_code: str | None) -> bool:
    """Only the grid head of the grid visits its households (an administrator runs the
    service and reads no one; a department reads, it does not visit).

    >>> head = Reader(7, "grid_head", grid_code="G1")
    >>> may_visit(head, "G1"), may_visit(head, "G2"), may_visit(Reader(1, "admin"), "G1")
    (True, False, False)
    """
    return reader.role == "grid_head" and grid_code is not None and reader.grid_code == grid_code


def households_changed(
    session: Session,
    *,
    household_ids: Sequence[int],
    now: datetime,
    timezone: tzinfo = UTC,
    geodata_dir: Path | None = None,
) -> None:
    """Called with the households whose facts a visit or a settled conflict changed: what
    is computed from a household's facts (its tier, as of the city's date) is brought up
    to date at once, in the same transaction."""
    if household_ids:
        retier(
            session,
            household_ids=household_ids,
            today=now.astimezone(timezone).date(),
            now=now,
            geodata_dir=geodata_dir,
        )


def _load(session: Session, household_id: int) -> _Household:
    found = session.execute(
        select(Household, House)
        .join(House, House.id == Household.house_id)
        .where(Household.id == household_id)
        .with_for_update(of=Household)
    ).first()
    if found is None:
        raise FieldError("household_id", "register.visit.household_unknown", id=household_id)
    household, house = found
    people = {
        p.id: p
        for p in session.scalars(
            select(Person).where(Person.household_id == household.id, Person.removed_at.is_(None))
        )
    }
    tags = {
        (t.person_id, t.tag): t
        for t in session.scalars(select(PersonTag).where(PersonTag.person_id.in_(list(people))))
    }
    return _Household(household, house, people, tags)


def _earlier(session: Session, user_id: int, client_id: str) -> HouseholdVisit | None:
    return session.scalar(
        select(HouseholdVisit).where(
            HouseholdVisit.user_id == user_id, HouseholdVisit.client_id == client_id
        )
    )


def _entry(visit: HouseholdVisit) -> dict[str, Any]:
    """The provenance of a value a visit wrote."""
    return {
        "source": SOURCE,
        "visit": visit.id,
        "at": visit.visited_at.isoformat(),
        "by": visit.user_id,
    }


def _checked_value(
    name: str, value: Any, where: str, keys: RegisterKeys, today: date
) -> tuple[Any, Any]:
    """A corrected person or house field as stored (sealed where protected) and as the
    visit keeps it; FieldError on ``where`` when it is no value of that field."""
    text = value.strip() if isinstance(value, str) else None
    if text is None or not text:
        raise FieldError(where, "register.visit.value")
    if name == "name":
        if len(text) > MAX_NAME:
            raise FieldError(where, "register.visit.name", limit=MAX_NAME)
        return text, text
    if name == "sex":
        return _keyed(SEX, text, where)
    if name == "relation":
        return _keyed(RELATION, text, where)
    if name == "use":
        return _keyed(USE, text, where)
    if name == "tenure":
        return _keyed(TENURE, text, where)
    if name == "birth_date":
        born = parse_date(text)
        if born is None or not date(1900, 1, 1) <= born <= today:
            raise FieldError(where, "register.problem.birth_date")
        return born, born.isoformat()
    phone = text.replace(" ", "")  # the field left is the phone
    if not 7 <= len(phone) <= 20 or not phone.replace("-", "").isdigit():
        raise FieldError(where, "register.problem.phone")
    sealed = keys.seal(phone, field="phone")
    return sealed, {"sealed": base64.b64encode(sealed).decode()}


def _keyed(words: Mapping[str, str], text: str, where: str) -> tuple[str, str]:
    key = words.get(text) or words.get(text.lower())
    if key is None:
        raise FieldError(where, "register.problem.value")
    return key, key


def _stored(row: Any, name: str) -> Any:
    """A field's current value as a visit keeps it (the phone sealed, never in clear)."""
    if name == "phone":
        return {"sealed": base64.b64encode(row.phone_sealed).decode()} if row.phone_sealed else None
    value = getattr(row, name)
    return value.isoformat() if isinstance(value, date) else value


def _tag_details(kind: TagKind, value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or any(k not in kind.details for k in value):
        raise FieldError(where, "register.visit.details", details=" ".join(kind.details) or "-")
    details: dict[str, Any] = {}
    for name, given in value.items():
        if given in (None, ""):
            continue
        if name == "grade":
            grade = parse_grade(str(given))
            if grade is None:
                raise FieldError(f"{where}.grade", "register.problem.grade")
            details[name] = grade
        elif not isinstance(given, str) or len(given) > 50:
            raise FieldError(f"{where}.{name}", "register.visit.value")
        else:
            details[name] = kind.kind_key(given) if name == "kind" else given.strip()
    return details


class _Visit:
    """Applies one visit's confirmations and corrections to a household."""

    def __init__(
        self,
        session: Session,
        home: _Household,
        visit: HouseholdVisit,
        keys: RegisterKeys,
        day: date,
    ) -> None:
        self.session, self.home, self.visit = session, home, visit
        self.keys, self.day = keys, day
        self.confirmed: list[str] = []
        self.corrected: list[dict[str, Any]] = []
        self.superseded: list[dict[str, Any]] = []

    def _observed_after(
        self, confirmed_at: datetime | None, batch_id: Any
    ) -> dict[str, Any] | None:
        """Who holds a value observed after this visit (a later visit's confirmation, or a
        department list drawn after it, ``--as-of``), or None when the visit is the newer.
        A list without its drawing time counts as older than any visit, as imports do."""
        batch = self.session.get(RegisterBatch, batch_id) if isinstance(batch_id, int) else None
        seen = [(confirmed_at, SOURCE)] + ([(batch.as_of, batch.source)] if batch else [])
        observed, source = max(((t, s) for t, s in seen if t is not None), default=(None, None))
        if observed is None or observed <= self.visit.visited_at:
            return None
        return {"source": source, "observed_at": observed.isoformat()}

    def _supersede(self, change: Correction, new: Any, newer: dict[str, Any]) -> bool:
        """Keep a late correction on the visit, unwritten (False: nothing changed)."""
        self.superseded.append(
            {"entity": change.entity, "id": change.id, "field": change.field, "new": new, **newer}
        )
        return False

    def _person(self, person_id: Any, where: str) -> Person:
        person = self.home.people.get(person_id) if isinstance(person_id, int) else None
        if person is None:
            raise FieldError(where, "register.visit.not_here")
        return person

    def confirm(self, fact: Any, where: str) -> None:
        """Confirm one fact named ``entity:id:field`` (a tag: ``tag:person:key``)."""
        parts = fact.split(":") if isinstance(fact, str) else []
        if len(parts) != 3 or not parts[1].isdigit():
            raise FieldError(where, "register.visit.fact")
        entity, number, name = parts[0], int(parts[1]), parts[2]
        at, by = self.visit.visited_at, self.visit.user_id
        if entity == "person" and name in PERSON_FIELDS:
            confirm_field(self._person(number, where), field=name, user_id=by, at=at)
        elif entity == "house" and name in HOUSE_FIELDS and number == self.home.house.id:
            confirm_field(self.home.house, field=name, user_id=by, at=at)
        elif entity == "tag" and (number, name) in self.home.tags:
            confirm_tag(self.home.tags[(number, name)], user_id=by, at=at)
        else:
            raise FieldError(where, "register.visit.not_here")
        self.confirmed.append(fact)

    def correct(self, change: Correction, where: str, tags: Mapping[str, TagKind]) -> bool:
        """Apply one correction; False when the value was already so (a confirmation)."""
        if change.entity == "tag":
            return self._tag(change, where, tags)
        if change.entity == "person" and change.field in PERSON_FIELDS:
            row: Any = self._person(change.id, f"{where}.id")
        elif change.entity == "house" and change.field in HOUSE_FIELDS:
            if change.id != self.home.house.id:
                raise FieldError(f"{where}.id", "register.visit.not_here")
            row = self.home.house
        else:
            raise FieldError(f"{where}.field", "register.visit.fact")
        value, kept = _checked_value(
            change.field, change.value, f"{where}.value", self.keys, self.day
        )
        old = _stored(row, change.field)
        fact = f"{change.entity}:{change.id}:{change.field}"
        same = (
            self.keys.open(row.phone_sealed, field="phone") == change.value.strip().replace(" ", "")
            if change.field == "phone" and row.phone_sealed
            else old == kept
        )
        if same:
            self.confirm(fact, where)
            return False
        entry = (row.provenance or {}).get(change.field) or {}
        confirmed = entry.get("confirmed_at")
        newer = self._observed_after(
            datetime.fromisoformat(confirmed) if confirmed else None, entry.get("batch")
        )
        if newer is not None:
            return self._supersede(change, kept, newer)
        setattr(row, "phone_sealed" if change.field == "phone" else change.field, value)
        self._provenance(row, change.field)
        self.corrected.append(
            {"entity": change.entity, "id": change.id, "field": change.field,
             "old": old, "new": kept}
        )  # fmt: skip
        return True

    def _provenance(self, row: Any, name: str) -> None:
        provenance = dict(row.provenance or {})
        provenance[name] = _entry(self.visit)
        row.provenance = provenance
        confirm_field(row, field=name, user_id=self.visit.user_id, at=self.visit.visited_at)

    def _tag(self, change: Correction, where: str, tags: Mapping[str, TagKind]) -> bool:
        person = self._person(change.id, f"{where}.id")
        kind = tags.get(change.field)
        if kind is None:
            raise FieldError(f"{where}.field", "register.problem.tag", tag=change.field)
        held = self.home.tags.get((person.id, change.field))
        at, by = self.visit.visited_at, self.visit.user_id
        fact = f"tag:{person.id}:{change.field}"
        # valid_to is the last day a tag holds (as lists, tiers and reports read it): a tag
        # found not to hold at the visit ended the day before.
        current = held is not None and (held.valid_to is None or held.valid_to >= self.day)
        newer = self._observed_after(held.confirmed_at, held.batch_id) if held else None
        if change.value is None:  # ended
            if held is None or not current:
                raise FieldError(f"{where}.field", "register.visit.no_tag", tag=change.field)
            if newer is not None:
                return self._supersede(change, None, newer)
            old: Any = held.valid_to.isoformat() if held.valid_to else None
            held.valid_to = self.day - timedelta(days=1)
            self._tag_provenance(held)
            self.corrected.append(
                {"entity": "tag", "id": person.id, "field": change.field,
                 "old": {"valid_to": old}, "new": {"valid_to": held.valid_to.isoformat()}}
            )  # fmt: skip
            return True
        details = _tag_details(kind, change.value, f"{where}.value")
        if held is not None and current and dict(held.details or {}) == details:
            confirm_tag(held, user_id=by, at=at)
            self.confirmed.append(fact)
            return False
        if newer is not None:
            return self._supersede(change, details, newer)
        before = (
            {"details": dict(held.details or {}), "valid_to": _day(held.valid_to)} if held else None
        )
        if held is None:
            held = PersonTag(person_id=person.id, tag=change.field, details=details)
            self.session.add(held)
            self.home.tags[(person.id, change.field)] = held
        held.details = details
        if not current:
            held.valid_from, held.valid_to = self.day, None
        self._tag_provenance(held)
        self.corrected.append(
            {"entity": "tag", "id": person.id, "field": change.field, "old": before,
             "new": {"details": details, "valid_from": _day(held.valid_from)}}
        )  # fmt: skip
        return True

    def _tag_provenance(self, tag: PersonTag) -> None:
        tag.source, tag.batch_id = SOURCE, None
        tag.recorded_at, tag.recorded_by = self.visit.visited_at, self.visit.user_id
        confirm_tag(tag, user_id=self.visit.user_id, at=self.visit.visited_at)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def record_visit(
    session: Session,
    *,
    reader: Reader,
    keys: RegisterKeys,
    tags: Mapping[str, TagKind],
    household_id: int,
    client_id: str,
    visited_at: datetime,
    now: datetime,
    window: VisitWindow | None = None,
    timezone: tzinfo = UTC,
    position: tuple[float, float] | None = None,
    accuracy_m: float | None = None,
    confirmed: Sequence[str] = (),
    corrections: Sequence[Correction] = (),
    note: str = "",
    geodata_dir: Path | None = None,
) -> VisitRecorded:
    """Record a grid head's visit to a household of their grid: confirmations and
    corrections written with provenance, ``last_visit_at`` moved on (the caller commits).
    The same ``client_id`` again returns the first visit and changes nothing."""
    client_id = client_id.strip()
    if not 1 <= len(client_id) <= MAX_CLIENT_ID:
        raise FieldError("client_id", "register.visit.client_id", limit=MAX_CLIENT_ID)
    earlier = _earlier(session, reader.user_id, client_id)
    if earlier is not None:
        return VisitRecorded(earlier, False)
    (window or VisitWindow()).check(visited_at, now=now)
    if len(note) > MAX_NOTE:
        raise FieldError("note", "register.visit.note", limit=MAX_NOTE)
    if len(confirmed) + len(corrections) > MAX_FACTS:
        raise FieldError("confirmed", "register.visit.too_many", limit=MAX_FACTS)
    if accuracy_m is not None and not 0 <= accuracy_m <= 100_000:
        raise FieldError("accuracy_m", "register.visit.accuracy")
    home = _load(session, household_id)
    if not may_visit(reader, home.house.grid_code):
        raise OutOfScope("scope.register_visit", id=household_id)
    visit = HouseholdVisit(
        household_id=home.row.id,
        grid_code=home.house.grid_code,
        user_id=reader.user_id,
        client_id=client_id,
        visited_at=visited_at,
        received_at=now,
        position=WKTElement(f"POINT({position[0]} {position[1]})", srid=4326) if position else None,
        accuracy_m=accuracy_m,
        note=note.strip(),
    )
    changed = False
    try:
        # One savepoint: a refused fact leaves nothing of the visit behind.
        with session.begin_nested():
            session.add(visit)
            session.flush()
            applied = _Visit(session, home, visit, keys, visited_at.astimezone(timezone).date())
            for n, fact in enumerate(confirmed):
                applied.confirm(fact, f"confirmed.{n}")
            for n, change in enumerate(corrections):
                changed |= applied.correct(change, f"corrected.{n}", tags)
            visit.confirmed, visit.corrected = applied.confirmed, applied.corrected
            visit.superseded = applied.superseded
            session.flush()
    except IntegrityError:  # the same visit, sent twice at once: the other one counts
        raced = _earlier(session, reader.user_id, client_id)
        if raced is None:
            raise
        return VisitRecorded(raced, False)
    if home.row.last_visit_at is None or home.row.last_visit_at < visited_at:
        home.row.last_visit_at = visited_at
    session.flush()
    ids = (home.row.id,) if changed else ()
    households_changed(
        session, household_ids=ids, now=now, timezone=timezone, geodata_dir=geodata_dir
    )
    return VisitRecorded(visit, True, ids)


def forget_person(session: Session, *, person_id: int) -> None:
    """Erase what visits kept of a removed person's fields (old and new values, applied or
    superseded)."""
    theirs = [{"entity": "person", "id": person_id}], [{"entity": "tag", "id": person_id}]
    visits = session.scalars(
        select(HouseholdVisit).where(
            or_(
                *(HouseholdVisit.corrected.contains(t) for t in theirs),
                *(HouseholdVisit.superseded.contains(t) for t in theirs),
            )
        )
    )

    def erased(facts: list[Any]) -> list[Any]:
        return [
            {**c, "old": None, "new": None}
            if c.get("entity") in ("person", "tag") and c.get("id") == person_id
            else c
            for c in facts
        ]

    for visit in visits:
        visit.corrected, visit.superseded = erased(visit.corrected), erased(visit.superseded)
