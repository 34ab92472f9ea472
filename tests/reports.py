"""Planted incidents for the report tests, with the figures worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridgov.incidents import actions
from gridgov.incidents.models import Incident
from gridgov.incidents.reporting import report_incident
from gridgov.users.models import User

STREET = "990105009"
HOME = "990105009003"  # the gridhead's community
OTHER = "990105009001"
NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 10, 2, tzinfo=UTC)


def point_in(session: Session, community: str) -> tuple[float, float]:
    """A point inside the first grid of a community."""
    row = session.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(g.geom) AS p FROM grids g"
            " JOIN areas a ON a.id = g.parent_id JOIN boundary_generations bg"
            " ON bg.id = g.generation_id AND bg.is_active WHERE a.code = :c ORDER BY g.code"
            " LIMIT 1) x"
        ),
        {"c": community},
    ).one()
    return float(row[0]), float(row[1])


def user(session: Session, name: str) -> User:
    found = session.scalar(select(User).where(User.username == name))
    assert found is not None
    return found


def plant(
    session: Session,
    community: str,
    category: str,
    *,
    at: datetime = NOVEMBER,
    to: str = "dispatched",
    resolve_after_h: float = 5,
    rating: int | None = None,
    reporter: str = "operator",
    point: tuple[float, float] | None = None,
) -> Incident:
    """A report in ``community`` taken to status ``to`` (dispatched, accepted, resolved,
    closed), resolved ``resolve_after_h`` hours after it was made."""
    lon, lat = point or point_in(session, community)
    incident = report_incident(
        session,
        reporter_id=user(session, reporter).id,
        lon=lon,
        lat=lat,
        category_code=category,
        now=at,
    ).incident
    if to == "dispatched":
        return incident
    handler = user(session, "admin")  # may act on any department's incidents
    actions.accept(session, incident_id=incident.id, actor=handler, now=at + timedelta(hours=1))
    if to == "accepted":
        return incident
    resolved_at = at + timedelta(hours=resolve_after_h)
    actions.resolve(session, incident_id=incident.id, actor=handler, note="ok", now=resolved_at)
    if to == "resolved":
        return incident
    actions.close(
        session,
        incident_id=incident.id,
        actor=user(session, "admin"),
        rating=rating,
        now=resolved_at + timedelta(hours=1),
    )
    return incident
