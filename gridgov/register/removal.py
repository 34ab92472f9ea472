"""Removing a person from the register: personal fields go, what the counts need stays.

Name, ID number (hash and sealed value), phone and address are erased, the birth date is
cut to the first of January of its year (age bands stay right to the year), and so is every
trace of them in import history, conflicts and visits (old and new values, provenance). Sex,
the household, the relation and the tags remain, so a grid's counts do not change; the access
log keeps the record number and who read it, never a personal field.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gridgov.errors import FieldError
from gridgov.register.doorstep import forget_person
from gridgov.register.models import Person, PersonTag, RegisterChange, RegisterConflict


def remove_person(session: Session, *, person_id: int, user_id: int | None, now: datetime) -> None:
    """Erase a person's personal fields (the caller commits)."""
    person = session.get(Person, person_id, with_for_update=True)
    if person is None or person.removed_at is not None:
        raise FieldError("person_id", "register.person_unknown", person=person_id)
    person.name = person.address = None
    person.id_hash = person.id_sealed = person.phone_sealed = None
    if person.birth_date is not None:
        person.birth_date = date(person.birth_date.year, 1, 1)
    person.provenance = {"removed": {"at": now.isoformat(), "by": user_id}}
    person.removed_at = now
    tag_ids = select(PersonTag.id).where(PersonTag.person_id == person_id)
    for entity, ids in (("person", [person_id]), ("tag", tag_ids)):
        session.execute(
            delete(RegisterChange).where(
                RegisterChange.entity == entity, RegisterChange.entity_id.in_(ids)
            )
        )
        session.execute(
            delete(RegisterConflict).where(
                RegisterConflict.entity == entity, RegisterConflict.entity_id.in_(ids)
            )
        )
    forget_person(session, person_id=person_id)
    session.flush()
