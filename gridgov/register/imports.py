"""Department imports that merge, not duplicate: match, report (dry run), write (commit).

People match by ID number (its keyed hash), else by name + birth date + address; enterprises
by credit code. The plan lists matched, new, ambiguous and invalid rows and every field that
would change (old -> new, masked where the field is protected). A field a grid head confirmed
on a visit is not overwritten unless the department's list is newer than the confirmation
(``as_of``); otherwise the department's value becomes a conflict for the grid head to settle.
The commit writes the plan in the caller's transaction: all of it or, on any error, nothing.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from gridgov.boundaries.index import GridIndex
from gridgov.register.models import (
    Enterprise,
    House,
    Household,
    Person,
    PersonTag,
)
from gridgov.register.places import Codes, locate_all
from gridgov.register.protect import RegisterKeys, mask_id, mask_phone
from gridgov.register.rows import ColumnMap, Row, check_enterprise, check_person, read_rows
from gridgov.register.vocabulary import TagKind
from gridgov.tables import RowProblem

PERSON_COLUMNS = ("name", "sex", "birth_date", "phone", "address", "id_number")
ENTERPRISE_COLUMNS = ("name", "address", "industry", "risk_class", "contact", "phone", "position")
TAG_COLUMNS = ("details", "valid_from", "valid_to")
CREATED = "*"
DUPLICATE = "register.problem.duplicate"


@dataclass(frozen=True)
class FieldChange:
    """One field an import would change (or a conflict it would record), as shown."""

    row: int
    entity: str
    entity_id: int | None
    field: str
    old: str | None
    new: str | None


@dataclass
class _Write:
    row: int
    entity: str  # person | tag | enterprise
    target: Any  # the ORM row, or for a new row the values to create it from
    field: str = CREATED
    old: Any = None
    new: Any = None
    conflict: tuple[datetime | None, int | None] | None = None
    owner: Any = None  # a new tag's person (a row, or the values of a new person)


@dataclass
class ImportPlan:
    """What an import would do: the dry run's report, and what the commit writes."""

    source: str
    file_name: str
    kind: str
    rows: int = 0
    matched: list[int] = field(default_factory=list)
    new: list[int] = field(default_factory=list)
    ambiguous: list[int] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    changes: list[FieldChange] = field(default_factory=list)
    conflicts: list[FieldChange] = field(default_factory=list)
    as_of: datetime | None = None
    writes: list[_Write] = field(default_factory=list, repr=False)

    @property
    def duplicates(self) -> list[int]:
        """Rows repeating the number of an earlier row (written once, from that row)."""
        return sorted({p.row for p in self.problems if p.reason == DUPLICATE})

    @property
    def invalid(self) -> list[int]:
        """Rows with a problem other than matching two records or repeating one."""
        return sorted({p.row for p in self.problems} - set(self.ambiguous) - set(self.duplicates))

    def counts(self) -> dict[str, int]:
        """How many rows fell where (``changed``: matched rows with at least one change;
        ``changes``: fields)."""
        return {
            "rows": self.rows,
            "matched": len(self.matched),
            "new": len(self.new),
            "ambiguous": len(self.ambiguous),
            "invalid": len(self.invalid),
            "duplicate": len(self.duplicates),
            "changed": len({c.row for c in self.changes if c.entity_id is not None}),
            "changes": len(self.changes),
            "conflicts": len(self.conflicts),
        }


def _sealed(keys: RegisterKeys, value: str, name: str) -> dict[str, str]:
    return {"sealed": base64.b64encode(keys.seal(value, field=name)).decode()}


def _unseal(keys: RegisterKeys, stored: Any, name: str) -> str | None:
    if not stored:
        return None
    raw = stored if isinstance(stored, bytes) else base64.b64decode(stored["sealed"])
    return keys.open(raw, field=name)


def _shown(keys: RegisterKeys, name: str, stored: Any) -> str | None:
    """A stored value as a report shows it: protected fields masked."""
    if stored is None:
        return None
    if name == "phone":
        clear = _unseal(keys, stored, "phone")
        return mask_phone(clear) if clear else None
    if name == "id_number":
        clear = _unseal(keys, stored, "id_number")
        return mask_id(clear) if clear else None
    if name == "position":
        return f"{stored['lon']:.6f},{stored['lat']:.6f}"
    return str(stored)


def _normal_address(text: str | None) -> str:
    return "".join((text or "").split())


def _confirmation(provenance: Mapping[str, Any], name: str) -> tuple[datetime | None, int | None]:
    entry = provenance.get(name) or {}
    at = entry.get("confirmed_at")
    return (datetime.fromisoformat(at) if at else None), entry.get("confirmed_by")


def _overrides(confirmed_at: datetime | None, as_of: datetime | None) -> bool:
    """Whether a department's value may replace one confirmed at ``confirmed_at``.

    >>> from datetime import UTC
    >>> visit, april = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    >>> _overrides(None, None), _overrides(visit, None), _overrides(visit, april)
    (True, False, True)
    """
    return confirmed_at is None or (as_of is not None and as_of > confirmed_at)


class _Planner:
    """Builds an ImportPlan: rows checked, matched, and compared field by field."""

    def __init__(self, session: Session, keys: RegisterKeys, plan: ImportPlan) -> None:
        self.session, self.keys, self.plan = session, keys, plan

    def field(
        self,
        row: int,
        entity: str,
        target: Any,
        name: str,
        old: Any,
        new: Any,
        provenance: Mapping[str, Any],
        seen_as: Any = None,
    ) -> None:
        """Plan one field: a change, a conflict, or nothing. ``seen_as``: the value the
        field stands for while it is empty (a housed person's address is their house's)."""
        if old == new or new is None:
            return
        if name == "address" and _normal_address(old or seen_as) == _normal_address(new):
            return  # spacing is not a change
        if name == "phone" and _unseal(self.keys, old, "phone") == _unseal(self.keys, new, "phone"):
            return  # sealed twice, never the same bytes
        entity_id = getattr(target, "id", None)
        shown_old = _shown(self.keys, name, old if old is not None else seen_as)
        shown = FieldChange(row, entity, entity_id, name, shown_old, _shown(self.keys, name, new))
        confirmed_at, confirmed_by = _confirmation(provenance, name)
        if _overrides(confirmed_at, self.plan.as_of):
            self.plan.changes.append(shown)
            self.plan.writes.append(_Write(row, entity, target, name, old, new))
        else:
            self.plan.conflicts.append(shown)
            self.plan.writes.append(
                _Write(row, entity, target, name, old, new, conflict=(confirmed_at, confirmed_by))
            )


def plan_people(
    session: Session,
    *,
    keys: RegisterKeys,
    plan: ImportPlan,
    raw_rows: list[dict[str, str]],
    columns: ColumnMap,
    tags: Mapping[str, TagKind],
    today: date,
) -> None:
    """Check, match and compare every person row of a list into ``plan``."""
    planner = _Planner(session, keys, plan)
    rows: list[Row] = []
    seen: dict[bytes, int] = {}
    for number, raw in enumerate(raw_rows, start=2):
        row, problems = check_person(number, raw, columns, tags, today)
        plan.problems.extend(problems)
        if row is None:
            continue
        if "id_number" in row.values:
            digest = keys.id_hash(row.values["id_number"])
            if digest in seen:
                plan.problems.append(
                    RowProblem(
                        number,
                        columns.header_of("id_number"),
                        "register.problem.duplicate",
                        (("first", str(seen[digest])),),
                    )
                )
                continue
            seen[digest] = number
            row.values["id_hash"] = digest
        rows.append(row)
    by_hash = _people_by_hash(session, [r.values["id_hash"] for r in rows if "id_hash" in r.values])
    unmatched = [r for r in rows if r.values.get("id_hash") not in by_hash]
    by_fallback = _people_by_name_birth(session, unmatched)
    # Row numbers, not rows: `row in list` compares dataclasses one by one (quadratic).
    unmatched_rows = {r.number for r in unmatched}
    matches: list[tuple[Row, Person]] = []
    for row in rows:
        person = by_hash.get(row.values.get("id_hash", b""))
        if person is None and row.number in unmatched_rows:
            candidates = [
                p
                for p, address in by_fallback.get(
                    (row.values.get("name"), row.values.get("birth_date")), []
                )
                if _normal_address(address) == _normal_address(row.values.get("address"))
                and (p.id_hash is None or "id_hash" not in row.values)
            ]
            if len(candidates) > 1:
                plan.ambiguous.append(row.number)
                plan.problems.append(
                    RowProblem(
                        row.number,
                        columns.header_of("name"),
                        "register.problem.ambiguous",
                        (("count", str(len(candidates))),),
                    )
                )
                continue
            person = candidates[0] if candidates else None
        if person is None:
            if not row.values.get("name"):
                plan.problems.append(
                    RowProblem(row.number, columns.header_of("name"), "register.problem.name")
                )
                continue
            _plan_new_person(planner, row)
        else:
            matches.append((row, person))
    ids = [p.id for _, p in matches]
    homes = _house_addresses(session, ids)
    held = _tags_held(session, ids)
    for row, person in matches:
        _plan_matched_person(planner, row, person, homes.get(person.id), held)


def full_address(address: str, building: str, unit: str, room: str) -> str:
    """A house's address as departments write it: street and number, then building, unit
    and room where it has them.

    >>> full_address("东澜区青石路12号", "7", "3", "1602")
    '东澜区青石路12号7栋3单元1602室'
    >>> full_address("东澜区青石路3号", "", "", "")
    '东澜区青石路3号'
    """
    parts = ((building, "栋"), (unit, "单元"), (room, "室"))
    return address + "".join(f"{value}{suffix}" for value, suffix in parts if value)


_HOUSE = (House.address, House.building, House.unit, House.room)


def _house_addresses(session: Session, person_ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for start in range(0, len(person_ids), 5000):
        query = (
            select(Person.id, *_HOUSE)
            .join(Household, Household.id == Person.household_id)
            .join(House, House.id == Household.house_id)
            .where(Person.id.in_(person_ids[start : start + 5000]))
        )
        for person_id, *house in session.execute(query):
            found[person_id] = full_address(*house)
    return found


def _tags_held(session: Session, person_ids: list[int]) -> dict[tuple[int, str], PersonTag]:
    found: dict[tuple[int, str], PersonTag] = {}
    for start in range(0, len(person_ids), 5000):
        query = select(PersonTag).where(PersonTag.person_id.in_(person_ids[start : start + 5000]))
        for tag in session.scalars(query):
            found[(tag.person_id, tag.tag)] = tag
    return found


def _people_by_hash(session: Session, digests: list[bytes]) -> dict[bytes, Person]:
    found: dict[bytes, Person] = {}
    for start in range(0, len(digests), 5000):
        chunk = digests[start : start + 5000]
        for person in session.scalars(select(Person).where(Person.id_hash.in_(chunk))):
            assert person.id_hash is not None
            found[person.id_hash] = person
    return found


def _people_by_name_birth(
    session: Session, rows: list[Row]
) -> dict[tuple[Any, Any], list[tuple[Person, str | None]]]:
    pairs = list(
        {
            (r.values["name"], r.values["birth_date"])
            for r in rows
            if r.values.get("name") and r.values.get("birth_date")
        }
    )
    found: dict[tuple[Any, Any], list[tuple[Person, str | None]]] = {}
    for start in range(0, len(pairs), 5000):
        chunk = pairs[start : start + 5000]
        query = (
            select(Person, *_HOUSE)
            .outerjoin(Household, Household.id == Person.household_id)
            .outerjoin(House, House.id == Household.house_id)
            .where(tuple_(Person.name, Person.birth_date).in_(chunk), Person.removed_at.is_(None))
        )
        for person, address, *rest in session.execute(query):
            home = full_address(address, *rest) if address is not None else None
            found.setdefault((person.name, person.birth_date), []).append(
                (person, person.address or home)
            )
    return found


def _stored_person(keys: RegisterKeys, values: Mapping[str, Any]) -> dict[str, Any]:
    stored: dict[str, Any] = {}
    for name in ("name", "sex", "address"):
        if values.get(name):
            stored[name] = values[name]
    if values.get("birth_date"):
        stored["birth_date"] = values["birth_date"].isoformat()
    if values.get("phone"):
        stored["phone"] = _sealed(keys, values["phone"], "phone")
    if values.get("id_number"):
        stored["id_number"] = {
            **_sealed(keys, values["id_number"], "id_number"),
            "hash": base64.b64encode(values["id_hash"]).decode(),
        }
    return stored


def _stored_tag(tag: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "details": {k: v for k, v in tag["details"].items() if v not in (None, "")},
        "valid_from": tag["valid_from"].isoformat() if tag["valid_from"] else None,
        "valid_to": tag["valid_to"].isoformat() if tag["valid_to"] else None,
    }


def _plan_new_person(planner: _Planner, row: Row) -> None:
    plan = planner.plan
    plan.new.append(row.number)
    values = _stored_person(planner.keys, row.values)
    plan.writes.append(_Write(row.number, "person", values))
    if "tag" in row.values:
        tag = row.values["tag"]
        plan.writes.append(
            _Write(row.number, "tag", {"tag": tag["tag"], **_stored_tag(tag)}, owner=values)
        )


def person_stored_values(person: Person) -> dict[str, Any]:
    """A person's fields in the form changes keep them (protected ones sealed)."""
    return {
        "name": person.name,
        "sex": person.sex,
        "address": person.address,
        "birth_date": person.birth_date.isoformat() if person.birth_date else None,
        "phone": {"sealed": base64.b64encode(person.phone_sealed).decode()}
        if person.phone_sealed
        else None,
        "id_number": (
            {
                "sealed": base64.b64encode(person.id_sealed).decode(),
                "hash": base64.b64encode(person.id_hash).decode(),
            }
            if person.id_sealed and person.id_hash
            else None
        ),
    }


def _plan_matched_person(
    planner: _Planner,
    row: Row,
    person: Person,
    home: str | None,
    held: Mapping[tuple[int, str], PersonTag],
) -> None:
    plan = planner.plan
    plan.matched.append(row.number)
    current = person_stored_values(person)
    proposed = _stored_person(planner.keys, row.values)
    for name in PERSON_COLUMNS:
        if name == "id_number" and current["id_number"] is not None:
            continue  # matched by it, or the person already has another: never replaced
        planner.field(
            row.number, "person", person, name, current[name], proposed.get(name),
            person.provenance, seen_as=home if name == "address" else None,
        )  # fmt: skip
    if "tag" not in row.values:
        return
    tag = row.values["tag"]
    existing = held.get((person.id, tag["tag"]))
    stored = _stored_tag(tag)
    if existing is None:
        plan.writes.append(_Write(row.number, "tag", {"tag": tag["tag"], **stored}, owner=person))
        plan.changes.append(FieldChange(row.number, "tag", None, tag["tag"], None, "+"))
        return
    confirmed = (
        {
            name: {
                "confirmed_at": existing.confirmed_at.isoformat(),
                "confirmed_by": existing.confirmed_by,
            }
            for name in TAG_COLUMNS
        }
        if existing.confirmed_at
        else {}
    )
    now = _stored_tag_of(existing)
    for name in TAG_COLUMNS:
        planner.field(row.number, "tag", existing, name, now[name], stored[name], confirmed)


def _stored_tag_of(tag: PersonTag) -> dict[str, Any]:
    return {
        "details": dict(tag.details or {}),
        "valid_from": tag.valid_from.isoformat() if tag.valid_from else None,
        "valid_to": tag.valid_to.isoformat() if tag.valid_to else None,
    }


def plan_enterprises(
    session: Session,
    *,
    keys: RegisterKeys,
    plan: ImportPlan,
    raw_rows: list[dict[str, str]],
    columns: ColumnMap,
    index: GridIndex | None,
) -> None:
    """Check and match every enterprise row by credit code into ``plan``."""
    planner = _Planner(session, keys, plan)
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(raw_rows, start=2):
        row, problems = check_enterprise(number, raw, columns)
        plan.problems.extend(problems)
        if row is None:
            continue
        code = row.values["credit_code"]
        if code in seen:
            plan.problems.append(
                RowProblem(
                    number,
                    columns.header_of("credit_code"),
                    "register.problem.duplicate",
                    (("first", str(seen[code])),),
                )
            )
            continue
        seen[code] = number
        rows.append(row)
    positions = [r.values["position"] for r in rows if "position" in r.values]
    codes = iter(locate_all(index, positions))
    existing = {
        e.credit_code: e
        for e in session.scalars(select(Enterprise).where(Enterprise.credit_code.in_(list(seen))))
    }
    for row in rows:
        stored = _stored_enterprise(
            keys, row.values, next(codes) if "position" in row.values else None
        )
        enterprise = existing.get(row.values["credit_code"])
        if enterprise is None:
            if not row.values.get("name"):
                plan.problems.append(
                    RowProblem(row.number, columns.header_of("name"), "register.problem.name")
                )
                continue
            plan.new.append(row.number)
            plan.writes.append(
                _Write(
                    row.number, "enterprise", {"credit_code": row.values["credit_code"], **stored}
                )
            )
            continue
        plan.matched.append(row.number)
        current = enterprise_stored_values(session, enterprise)
        for name in ENTERPRISE_COLUMNS:
            planner.field(
                row.number,
                "enterprise",
                enterprise,
                name,
                current[name],
                stored.get(name),
                enterprise.provenance,
            )


def _stored_enterprise(
    keys: RegisterKeys, values: Mapping[str, Any], codes: Codes | None
) -> dict[str, Any]:
    stored = {
        k: values[k]
        for k in ("name", "address", "industry", "risk_class", "contact")
        if values.get(k)
    }
    if values.get("phone"):
        stored["phone"] = _sealed(keys, values["phone"], "phone")
    if codes is not None:
        lon, lat = values["position"]
        stored["position"] = {"lon": lon, "lat": lat, **codes.columns()}
    return stored


def enterprise_stored_values(session: Session, enterprise: Enterprise) -> dict[str, Any]:
    """An enterprise's fields in the form changes keep them."""
    from geoalchemy2.shape import to_shape

    position = None
    if enterprise.position is not None:
        point = to_shape(enterprise.position)
        position = {
            "lon": point.x,
            "lat": point.y,
            **{c: getattr(enterprise, c) for c in Codes().columns()},
        }
    return {
        "name": enterprise.name,
        "address": enterprise.address,
        "industry": enterprise.industry,
        "risk_class": enterprise.risk_class,
        "contact": enterprise.contact,
        "phone": {"sealed": base64.b64encode(enterprise.phone_sealed).decode()}
        if enterprise.phone_sealed
        else None,
        "position": position,
    }


def plan_import(
    session: Session,
    *,
    keys: RegisterKeys,
    path: Path,
    columns: ColumnMap,
    source: str,
    tags: Mapping[str, TagKind],
    today: date,
    index: GridIndex | None = None,
    as_of: datetime | None = None,
) -> ImportPlan:
    """The dry run of a department's list: nothing is written."""
    plan = ImportPlan(source=source, file_name=path.name, kind=columns.kind, as_of=as_of)
    raw_rows, problems = read_rows(path, columns)
    plan.rows = len(raw_rows)
    plan.problems.extend(problems)
    if problems:
        return plan
    if columns.kind == "enterprises":
        plan_enterprises(
            session, keys=keys, plan=plan, raw_rows=raw_rows, columns=columns, index=index
        )
    else:
        plan_people(
            session,
            keys=keys,
            plan=plan,
            raw_rows=raw_rows,
            columns=columns,
            tags=tags,
            today=today,
        )
    plan.problems.sort(key=lambda p: (p.row, p.column))
    return plan
