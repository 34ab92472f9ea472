"""A grid head's confirmation of a fact on a visit (入户走访), as the import rules see it.

The visit pages and their API come later (issue #15 item 3); this records, per field, who
confirmed the value and when, so that a department's older list cannot overwrite it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gridgov.register.models import PersonTag


def confirm_field(row: Any, *, field: str, user_id: int, at: datetime) -> None:
    """Mark ``field`` of a register row (a person, house, enterprise ...) confirmed now."""
    provenance = dict(row.provenance or {})
    entry = dict(provenance.get(field) or {})
    entry.update({"confirmed_at": at.isoformat(), "confirmed_by": user_id})
    provenance[field] = entry
    row.provenance = provenance


def confirm_tag(tag: PersonTag, *, user_id: int, at: datetime) -> None:
    """Mark a person's tag (its details and dates) confirmed now."""
    tag.confirmed_at, tag.confirmed_by = at, user_id
