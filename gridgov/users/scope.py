"""Things other than incidents as the permission table sees them: where they lie.

An incident carries its chain of areas (``incidents.events.target_of``); a stockpile or a
sensor carries its own codes; a department and a user's scope are one area code, whose
chain comes from the active boundary generation. A thing in no area (a sensor at sea, a
tracker owned by an admin) belongs to the whole city: only city-wide users reach it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridgov.boundaries.models import Area, Generation
from gridgov.users.roles import Target

_CHAIN = text(
    """
    WITH RECURSIVE up AS (
        SELECT a.id, a.code, a.parent_id FROM areas a
        JOIN boundary_generations g ON g.id = a.generation_id AND g.is_active
        WHERE a.code = :code
        UNION ALL
        SELECT p.id, p.code, p.parent_id FROM areas p JOIN up ON p.id = up.parent_id
    )
    SELECT code FROM up
    """
)


def codes_above(session: Session, *, code: str) -> frozenset[str]:
    """An area's code and the codes of every area above it (active generation).

    A code the active generation does not know stands for itself alone: departments and
    users refer to areas by code and outlive generations."""
    return frozenset(session.scalars(_CHAIN, {"code": code})) | {code}


def city_codes(session: Session) -> frozenset[str]:
    """The codes of the top areas (the city) of the active generation."""
    return frozenset(
        session.scalars(
            select(Area.code)
            .join(Generation, Generation.id == Area.generation_id)
            .where(Generation.is_active, Area.parent_id.is_(None))
        )
    )


def placed(session: Session, codes: Iterable[str | None]) -> Target:
    """A thing with its chain of area codes (city down to community); none: the whole city."""
    known = frozenset(c for c in codes if c)
    return Target(area_codes=known or city_codes(session))


def owned_by(session: Session, *, owner_id: int | None, owner_area: str | None) -> Target:
    """A thing a user owns (a tracker): its owner, and the owner's area with those above it
    (an owner without an area, an admin, places it in the whole city)."""
    areas = codes_above(session, code=owner_area) if owner_area else city_codes(session)
    return Target(area_codes=areas, reporter_id=owner_id)
