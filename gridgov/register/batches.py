"""Writing an import plan as one batch, listing batches, and undoing one.

Every field a batch writes is kept in ``register_changes`` (old -> new, with the field's old
provenance), every row it creates as ``*``: undoing a batch puts each field back where no
later batch or visit changed it since, and removes the rows it created.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from geoalchemy2 import WKTElement
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from gridgov.db.copy import copy_rows, next_ids
from gridgov.errors import FieldError
from gridgov.register.imports import (
    CREATED,
    ImportPlan,
    _stored_tag_of,
    enterprise_stored_values,
    person_stored_values,
)
from gridgov.register.models import (
    Enterprise,
    Person,
    PersonTag,
    RegisterBatch,
    RegisterChange,
    RegisterConflict,
)
from gridgov.register.tiering import households_of_batch, retier

MODELS: dict[str, type[Person] | type[Enterprise] | type[PersonTag]] = {
    "person": Person,
    "enterprise": Enterprise,
    "tag": PersonTag,
}


def _bytes(stored: Any, key: str = "sealed") -> bytes | None:
    return base64.b64decode(stored[key]) if stored else None


def _day(stored: Any) -> date | None:
    return date.fromisoformat(stored) if stored else None


def apply_field(row: Any, entity: str, name: str, stored: Any) -> None:
    """Set one field of a register row from its stored form."""
    if entity == "tag":
        if name == "details":
            row.details = dict(stored or {})
        else:
            setattr(row, name, _day(stored))
    elif name == "phone":
        row.phone_sealed = _bytes(stored)
    elif name == "id_number":
        row.id_sealed, row.id_hash = _bytes(stored), _bytes(stored, "hash")
    elif name == "birth_date":
        row.birth_date = _day(stored)
    elif name == "position":
        row.position = (
            WKTElement(f"POINT({stored['lon']} {stored['lat']})", srid=4326) if stored else None
        )
        for column in ("grid_code", "community_code", "street_code", "district_code", "city_code"):
            setattr(row, column, stored.get(column) if stored else None)
    else:
        setattr(row, name, stored)


def _set_provenance(row: Any, name: str, entry: dict[str, Any] | None) -> None:
    provenance = dict(row.provenance or {})
    if entry is None:
        provenance.pop(name, None)
    else:
        provenance[name] = entry
    row.provenance = provenance


def commit_plan(
    session: Session, *, plan: ImportPlan, user_id: int | None, now: datetime
) -> RegisterBatch:
    """Write ``plan`` as one batch (the caller commits); conflicts are recorded, not written."""
    batch = RegisterBatch(
        source=plan.source,
        file_name=plan.file_name,
        created_by=user_id,
        as_of=plan.as_of,
        counts=plan.counts(),
    )
    session.add(batch)
    session.flush()
    entry = {"source": plan.source, "batch": batch.id, "at": now.isoformat(), "by": user_id}
    created: dict[int, Any] = {}
    for write in plan.writes:  # the new people and enterprises first: tags need their ids
        if write.field != CREATED or write.entity == "tag":
            continue
        row: Any = Person() if write.entity == "person" else Enterprise()
        for name, stored in write.target.items():
            apply_field(row, write.entity, name, stored)
        row.provenance = {name: entry for name in write.target}
        session.add(row)
        created[id(write.target)] = row
    session.flush()
    changes: list[tuple[Any, ...]] = [
        (batch.id, w.entity, created[id(w.target)].id, CREATED, None, None, None)
        for w in plan.writes
        if id(w.target) in created
    ]
    new_tags: list[list[Any]] = []  # written by COPY after the loop, with ids taken ahead
    people: dict[int, SimpleNamespace] = {}  # people's new values, by id
    for write in plan.writes:
        if write.conflict is not None:
            session.add(
                RegisterConflict(
                    batch_id=batch.id,
                    entity=write.entity,
                    entity_id=write.target.id,
                    field=write.field,
                    current=write.old,
                    proposed=write.new,
                    confirmed_at=write.conflict[0],
                    confirmed_by=write.conflict[1],
                )
            )
        elif write.entity == "tag" and write.field == CREATED:
            owner = created.get(id(write.owner), write.owner)
            target = write.target
            new_tags.append(
                [owner.id, target["tag"], dict(target["details"] or {}),
                 _day(target["valid_from"]), _day(target["valid_to"]), plan.source, batch.id,
                 now, user_id]
            )  # fmt: skip
        elif write.field != CREATED:
            row = write.target
            if write.entity == "person":  # written set-based after the loop
                row = people.setdefault(row.id, _person_values(row))
            old_provenance = (
                _tag_provenance(row)
                if write.entity == "tag"
                else (row.provenance or {}).get(write.field)
            )
            apply_field(row, write.entity, write.field, write.new)
            if write.entity == "tag":
                row.source, row.batch_id, row.recorded_by = plan.source, batch.id, user_id
                row.recorded_at, row.confirmed_at, row.confirmed_by = now, None, None
            else:
                _set_provenance(row, write.field, entry)
            changes.append(
                (batch.id, write.entity, row.id, write.field, write.old, write.new, old_provenance)
            )
    _update_people(session, people.values())
    tag_ids = next_ids(session, "person_tags", len(new_tags))
    copy_rows(session, "person_tags", ("id", *TAG_COLUMNS),
              ([tag_id, *tag] for tag_id, tag in zip(tag_ids, new_tags, strict=True)),
              json_columns=("details",))  # fmt: skip
    changes += [(batch.id, "tag", tag_id, CREATED, None, None, None) for tag_id in tag_ids]
    copy_rows(session, "register_changes", CHANGE_COLUMNS, changes,
              json_columns=("old", "new", "old_provenance"))  # fmt: skip
    session.flush()
    return batch


PERSON_COLUMNS = ("name", "id_hash", "id_sealed", "sex", "birth_date", "phone_sealed",
                  "household_id", "relation", "address", "provenance")  # fmt: skip


def _person_values(person: Person) -> SimpleNamespace:
    """A person's columns, to change apart from the ORM row (see ``_update_people``)."""
    return SimpleNamespace(id=person.id, **{c: getattr(person, c) for c in PERSON_COLUMNS})


def _update_people(session: Session, people: Iterable[SimpleNamespace]) -> None:
    """Write the people's new values in one statement (COPY into a scratch table, then one
    UPDATE): a department's list changes tens of thousands of people at once, one UPDATE each
    costs most of an import. Their ORM rows are expired, so they read the new values."""
    people = list(people)
    if not people:
        return
    session.flush()
    session.execute(text("DROP TABLE IF EXISTS people_update"))
    columns = ", ".join(PERSON_COLUMNS)
    session.execute(
        text(f"CREATE TEMP TABLE people_update ON COMMIT DROP AS SELECT id, {columns}"
             " FROM people WITH NO DATA")
    )  # fmt: skip
    rows = ([p.id, *(getattr(p, c) for c in PERSON_COLUMNS)] for p in people)
    copy_rows(session, "people_update", ("id", *PERSON_COLUMNS), rows, json_columns=("provenance",))
    assignments = ", ".join(f"{c} = u.{c}" for c in PERSON_COLUMNS)
    session.execute(
        text(f"UPDATE people p SET {assignments} FROM people_update u WHERE p.id = u.id")
    )
    for person in people:
        loaded = session.identity_map.get(identity_key(Person, person.id))
        if loaded is not None:
            session.expire(loaded)


TAG_COLUMNS = ("person_id", "tag", "details", "valid_from", "valid_to", "source", "batch_id",
               "recorded_at", "recorded_by")  # fmt: skip
CHANGE_COLUMNS = ("batch_id", "entity", "entity_id", "field", "old", "new", "old_provenance")


_TAG_PROVENANCE = (
    "source",
    "batch_id",
    "recorded_at",
    "recorded_by",
    "confirmed_at",
    "confirmed_by",
)
_TAG_TIMES = ("recorded_at", "confirmed_at")


def _tag_provenance(tag: PersonTag) -> dict[str, Any]:
    """A tag's provenance columns as JSON (kept with a change, for undo)."""
    values = {name: getattr(tag, name) for name in _TAG_PROVENANCE}
    for name in _TAG_TIMES:
        values[name] = values[name].isoformat() if values[name] else None
    return values


def _restore_tag_provenance(tag: Any, kept: dict[str, Any] | None) -> None:
    for name, value in (kept or {}).items():
        if name in _TAG_TIMES:
            value = datetime.fromisoformat(value) if value else None
        setattr(tag, name, value)


def list_batches(session: Session) -> list[RegisterBatch]:
    """Every import batch, newest first."""
    return list(session.scalars(select(RegisterBatch).order_by(RegisterBatch.id.desc())))


@dataclass(frozen=True)
class Undone:
    """What undoing a batch did."""

    restored: int
    removed: int
    kept: int  # fields changed again since the batch: left as they are


def _current(session: Session, entity: str, row: Any) -> dict[str, Any]:
    if entity == "person":
        return person_stored_values(row)
    if entity == "enterprise":
        return enterprise_stored_values(session, row)
    return _stored_tag_of(row)


def undo_batch(
    session: Session,
    *,
    batch_id: int,
    user_id: int | None,
    now: datetime,
    today: date | None = None,
    geodata_dir: Path | None = None,
) -> Undone:
    """Put back what batch ``batch_id`` changed and remove what it created, and retier the
    households it touched as of ``today`` (default: ``now``'s date); the caller commits. A
    field changed again since then (by a later batch or a visit) is kept."""
    batch = session.get(RegisterBatch, batch_id, with_for_update=True)
    if batch is None:
        raise FieldError("batch", "register.batch_unknown", batch=batch_id)
    if batch.undone_at is not None:
        raise FieldError("batch", "register.batch_undone", batch=batch_id)
    if batch.source == "grassroots":
        raise FieldError("batch", "register.batch_grassroots", batch=batch_id)
    restored = removed = kept = 0
    touched = households_of_batch(session, batch_id=batch_id)  # before its rows go
    changes = session.scalars(
        select(RegisterChange)
        .where(RegisterChange.batch_id == batch_id)
        .order_by(RegisterChange.id.desc())
    )
    for change in changes:
        row = session.get(MODELS[change.entity], change.entity_id)
        if row is None:
            continue
        if change.field == CREATED:
            session.delete(row)
            removed += 1
            continue
        if _current(session, change.entity, row).get(change.field) != change.new:
            kept += 1
            continue
        apply_field(row, change.entity, change.field, change.old)
        if change.entity == "tag":
            _restore_tag_provenance(row, change.old_provenance)
        else:
            _set_provenance(row, change.field, change.old_provenance)
        restored += 1
    session.execute(
        delete(RegisterConflict).where(
            RegisterConflict.batch_id == batch_id, RegisterConflict.status == "open"
        )
    )
    batch.undone_at, batch.undone_by = now, user_id
    session.flush()
    retier(
        session,
        household_ids=touched,
        today=today or now.date(),
        now=now,
        geodata_dir=geodata_dir,
    )
    return Undone(restored=restored, removed=removed, kept=kept)
