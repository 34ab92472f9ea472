"""Conflicts a grid head settles: a department's value for a fact they confirmed on a visit
more recently. Keep the confirmed value, or take the department's; either way the field's
provenance says who settled it and when, and a value taken is undone with its batch.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.errors import FieldError, OutOfScope
from gridgov.register.access import PHONE, Reader, Where, may_read
from gridgov.register.batches import MODELS, _current, _tag_provenance, apply_field
from gridgov.register.confirmations import confirm_field, confirm_tag
from gridgov.register.doorstep import households_changed, may_visit
from gridgov.register.models import (
    Enterprise,
    House,
    Household,
    Person,
    PersonTag,
    RegisterBatch,
    RegisterChange,
    RegisterConflict,
)
from gridgov.register.protect import RegisterKeys, mask_id, mask_phone

DECISIONS = {"keep": "kept", "take": "taken"}


@dataclass(frozen=True)
class ConflictView:
    """An open conflict as its grid head sees it."""

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


@dataclass(frozen=True)
class Settled:
    """A settled conflict, and the households whose facts settling it changed."""

    conflict: RegisterConflict
    changed_households: tuple[int, ...] = ()


def _shown(keys: RegisterKeys, name: str, stored: Any, phone_clear: bool) -> str | None:
    """A stored value as the list shows it: the phone in clear only to who may read it,
    the ID number masked."""
    if stored is None:
        return None
    if name in ("phone", "id_number"):
        raw = base64.b64decode(stored["sealed"]) if isinstance(stored, dict) else None
        clear = keys.open(raw, field=name) if raw else None
        if clear is None:
            return None
        if name == "phone":
            return clear if phone_clear else mask_phone(clear)
        return mask_id(clear)
    if name == "position" and isinstance(stored, dict):
        return f"{stored['lon']:.6f},{stored['lat']:.6f}"
    if isinstance(stored, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(stored.items())) or "—"
    return str(stored)


def _person_of(session: Session, conflict: RegisterConflict) -> Person | None:
    if conflict.entity == "person":
        return session.get(Person, conflict.entity_id)
    if conflict.entity == "tag":
        tag = session.get(PersonTag, conflict.entity_id)
        return session.get(Person, tag.person_id) if tag is not None else None
    return None


def _place_of(session: Session, conflict: RegisterConflict) -> tuple[str | None, int | None]:
    """The grid a conflict's record lies in, and its household (none for an enterprise)."""
    if conflict.entity == "enterprise":
        enterprise = session.get(Enterprise, conflict.entity_id)
        return (enterprise.grid_code if enterprise else None), None
    person = _person_of(session, conflict)
    if person is None or person.household_id is None:
        return None, None
    grid = session.scalar(
        select(House.grid_code)
        .join(Household, Household.house_id == House.id)
        .where(Household.id == person.household_id)
    )
    return grid, person.household_id


def open_conflicts(
    session: Session, *, reader: Reader, keys: RegisterKeys, grid_code: str
) -> list[ConflictView]:
    """The open conflicts of a grid's people, tags and enterprises, oldest first; only
    its grid head may list them."""
    if not may_visit(reader, grid_code):
        raise OutOfScope("scope.register_grid", code=grid_code)
    tag_person = select(PersonTag.person_id).where(PersonTag.id == RegisterConflict.entity_id)
    person_grid = (
        select(House.grid_code)
        .join(Household, Household.house_id == House.id)
        .join(Person, Person.household_id == Household.id)
    )
    in_grid = (
        (
            (RegisterConflict.entity == "person")
            & person_grid.where(Person.id == RegisterConflict.entity_id)
            .scalar_subquery()
            .is_not_distinct_from(grid_code)
        )
        | (
            (RegisterConflict.entity == "tag")
            & person_grid.where(Person.id == tag_person.scalar_subquery())
            .scalar_subquery()
            .is_not_distinct_from(grid_code)
        )
        | (
            (RegisterConflict.entity == "enterprise")
            & select(Enterprise.grid_code)
            .where(Enterprise.id == RegisterConflict.entity_id)
            .scalar_subquery()
            .is_not_distinct_from(grid_code)
        )
    )
    rows = session.execute(
        select(RegisterConflict, RegisterBatch.source)
        .join(RegisterBatch, RegisterBatch.id == RegisterConflict.batch_id)
        .where(RegisterConflict.settled_at.is_(None), in_grid)
        .order_by(RegisterConflict.id)
    ).all()
    phone_clear = may_read(reader, PHONE, Where(grid_code))
    found = []
    for conflict, source in rows:
        person = _person_of(session, conflict)
        found.append(
            ConflictView(
                id=conflict.id,
                entity=conflict.entity,
                entity_id=conflict.entity_id,
                field=conflict.field,
                current=_shown(keys, conflict.field, conflict.current, phone_clear),
                proposed=_shown(keys, conflict.field, conflict.proposed, phone_clear),
                source=source,
                batch_id=conflict.batch_id,
                confirmed_at=conflict.confirmed_at,
                household_id=person.household_id if person else None,
                person_id=person.id if person else None,
                person_name=person.name if person else None,
            )
        )
    return found


def settle_conflict(
    session: Session,
    *,
    reader: Reader,
    conflict_id: int,
    decision: str,
    now: datetime,
    timezone: tzinfo = UTC,
    geodata_dir: Path | None = None,
) -> Settled:
    """Keep the confirmed value (confirmed again, now) or take the department's (written
    with the batch's source, settled and confirmed by the grid head, and kept as a change
    of that batch so undoing the batch puts it back). The caller commits."""
    if decision not in DECISIONS:
        raise FieldError("decision", "register.conflict.decision")
    conflict = session.get(RegisterConflict, conflict_id, with_for_update=True)
    if conflict is None:
        raise FieldError("conflict_id", "register.conflict.unknown", id=conflict_id)
    grid, household_id = _place_of(session, conflict)
    if not may_visit(reader, grid):
        raise OutOfScope("scope.register_conflict", id=conflict_id)
    if conflict.settled_at is not None:
        raise FieldError("conflict_id", "register.conflict.settled", id=conflict_id)
    row: Any = session.get(MODELS[conflict.entity], conflict.entity_id)
    if row is None:
        raise FieldError("conflict_id", "register.conflict.unknown", id=conflict_id)
    user_id = reader.user_id
    conflict.status = DECISIONS[decision]
    conflict.settled_at, conflict.settled_by = now, user_id
    changed: tuple[int, ...] = ()
    if decision == "keep":
        if conflict.entity == "tag":
            confirm_tag(row, user_id=user_id, at=now)
        else:
            confirm_field(row, field=conflict.field, user_id=user_id, at=now)
    else:
        batch = session.get(RegisterBatch, conflict.batch_id)
        assert batch is not None  # a conflict goes with its batch (ON DELETE CASCADE)
        old = _current(session, conflict.entity, row).get(conflict.field)
        if conflict.entity == "tag":
            old_provenance: Any = _tag_provenance(row)
            apply_field(row, "tag", conflict.field, conflict.proposed)
            row.source, row.batch_id = batch.source, batch.id
            row.recorded_at, row.recorded_by = now, user_id
            confirm_tag(row, user_id=user_id, at=now)
        else:
            old_provenance = (row.provenance or {}).get(conflict.field)
            apply_field(row, conflict.entity, conflict.field, conflict.proposed)
            provenance = dict(row.provenance or {})
            provenance[conflict.field] = {
                "source": batch.source,
                "batch": batch.id,
                "at": now.isoformat(),
                "by": user_id,
                "settled": conflict.id,
            }
            row.provenance = provenance
            confirm_field(row, field=conflict.field, user_id=user_id, at=now)
        session.add(
            RegisterChange(
                batch_id=batch.id,
                entity=conflict.entity,
                entity_id=row.id,
                field=conflict.field,
                old=old,
                new=conflict.proposed,
                old_provenance=old_provenance,
            )
        )
        changed = (household_id,) if household_id is not None else ()
    session.flush()
    households_changed(
        session, household_ids=changed, now=now, timezone=timezone, geodata_dir=geodata_dir
    )
    return Settled(conflict, changed)
