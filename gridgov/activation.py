"""Switching a boundary generation on, with everything that follows the boundaries.

``activate_generation`` (gridgov.boundaries) knows nothing above it; this is the one place
where a new generation also moves what lies in grids (the register's houses, enterprises
and things), so no caller switches boundaries and forgets the rest.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from gridgov.boundaries.generations import activate_generation
from gridgov.boundaries.models import Generation
from gridgov.register.places import follow_generation


def activate(session: Session, *, generation_id: int) -> Generation:
    """Make ``generation_id`` the active generation and re-place the register in its grids."""
    generation = activate_generation(session, generation_id=generation_id)
    follow_generation(session, generation_id=generation_id)
    return generation
