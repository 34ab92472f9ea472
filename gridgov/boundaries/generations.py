"""Boundary generations: new boundaries load inactive and are switched on explicitly."""

from __future__ import annotations

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from gridgov.boundaries.follow import DEFAULT_EDGE_TOLERANCE_M, follow_boundaries
from gridgov.boundaries.models import Generation, Grid
from gridgov.errors import Refusal


class GenerationError(Refusal):
    """A generation that does not exist or cannot be activated."""


def create_generation(session: Session, *, name: str) -> Generation:
    """Start a new, inactive generation."""
    generation = Generation(name=name, is_active=False)
    session.add(generation)
    session.flush()
    return generation


def list_generations(session: Session) -> list[Generation]:
    """Every generation, oldest first."""
    return list(session.scalars(select(Generation).order_by(Generation.id)))


def active_generation(session: Session) -> Generation | None:
    """The generation that answers lookups, if any."""
    return session.scalar(select(Generation).where(Generation.is_active))


def get_generation(session: Session, *, generation_id: int | None) -> Generation | None:
    """A generation by id, or the active one when ``generation_id`` is None."""
    if generation_id is None:
        return active_generation(session)
    return session.get(Generation, generation_id)


def latest_inactive_generation(session: Session) -> Generation | None:
    """The newest generation that was never activated (where an import goes by default)."""
    return session.scalar(
        select(Generation)
        .where(~Generation.is_active, Generation.activated_at.is_(None))
        .order_by(Generation.id.desc())
        .limit(1)
    )


def activate_generation(
    session: Session, *, generation_id: int, edge_tolerance_m: float = DEFAULT_EDGE_TOLERANCE_M
) -> Generation:
    """Make one generation the active one; the previous stays queryable, inactive.
    Stockpiles and sensors are placed again in its grids (``follow_boundaries``)."""
    generation = session.get(Generation, generation_id, with_for_update=True)
    if generation is None:
        raise GenerationError("error.not_found.generation", id=generation_id)
    grids = session.scalar(
        select(func.count()).select_from(Grid).where(Grid.generation_id == generation_id)
    )
    if not grids:
        raise GenerationError("generation.no_grids", id=generation_id)
    session.execute(
        update(Generation)
        .where(Generation.is_active, Generation.id != generation_id)
        .values(is_active=False)
    )
    session.flush()
    generation.is_active = True
    generation.activated_at = session.scalar(select(func.now()))
    session.flush()
    follow_boundaries(session, generation_id=generation_id, tolerance_m=edge_tolerance_m)
    # Workers listening on this channel drop their in-memory index at once.
    session.execute(text("SELECT pg_notify('gridgov_boundaries', :id)"), {"id": str(generation_id)})
    return generation
