"""A grid head's confirmation of a fact on a visit (入户走访), as the import rules see it.

Per field, who confirmed the value and when, so that a department's older list cannot
overwrite it. A confirmation only moves forward: a visit that arrives late (queued offline)
does not make a later confirmation look older.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gridgov.register.models import PersonTag


def confirm_field(row: Any, *, field: str, user_id: int, at: datetime) -> None:
    """Mark ``field`` of a register row (a person, house, enterprise ...) confirmed at ``at``
    (unless it was confirmed later already)."""
    provenance = dict(row.provenance or {})
    entry = dict(provenance.get(field) or {})
    earlier = entry.get("confirmed_at")
    if earlier and datetime.fromisoformat(earlier) >= at:
        return
    entry.update({"confirmed_at": at.isoformat(), "confirmed_by": user_id})
    provenance[field] = entry
    row.provenance = provenance


def confirm_tag(tag: PersonTag, *, user_id: int, at: datetime) -> None:
    """Mark a person's tag (its details and dates) confirmed at ``at`` (unless later already)."""
    if tag.confirmed_at is None or tag.confirmed_at < at:
        tag.confirmed_at, tag.confirmed_by = at, user_id
