"""Writing an import plan as one batch, listing batches, and undoing one.

Every field a batch writes is kept in ``register_changes`` (old -> new, with the field's old
provenance), every row it creates as ``*``: undoing a batch puts each field back where no
later batch or visit changed it since, and removes the rows it created.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from geoalchemy2 import WKTElement
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

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
    changes = [
        RegisterChange(
            batch_id=batch.id, entity=w.entity, entity_id=created[id(w.target)].id, field=CREATED
        )
        for w in plan.writes
        if id(w.target) in created
    ]
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
            tag = PersonTag(
                person_id=owner.id,
                tag=write.target["tag"],
                source=plan.source,
                batch_id=batch.id,
                recorded_by=user_id,
            )
            for name in ("details", "valid_from", "valid_to"):
                apply_field(tag, "tag", name, write.target[name])
            session.add(tag)
            session.flush()
            changes.append(
                RegisterChange(batch_id=batch.id, entity="tag", entity_id=tag.id, field=CREATED)
            )
        elif write.field != CREATED:
            row = write.target
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
                RegisterChange(
                    batch_id=batch.id,
                    entity=write.entity,
                    entity_id=row.id,
                    field=write.field,
                    old=write.old,
                    new=write.new,
                    old_provenance=old_provenance,
                )
            )
    session.add_all(changes)
    session.flush()
    return batch


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


def undo_batch(session: Session, *, batch_id: int, user_id: int | None, now: datetime) -> Undone:
    """Put back what batch ``batch_id`` changed and remove what it created (the caller
    commits). A field changed again since then (by a later batch or a visit) is kept."""
    batch = session.get(RegisterBatch, batch_id, with_for_update=True)
    if batch is None:
        raise FieldError("batch", "register.batch_unknown", batch=batch_id)
    if batch.undone_at is not None:
        raise FieldError("batch", "register.batch_undone", batch=batch_id)
    if batch.source == "grassroots":
        raise FieldError("batch", "register.batch_grassroots", batch=batch_id)
    restored = removed = kept = 0
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
    return Undone(restored=restored, removed=removed, kept=kept)
