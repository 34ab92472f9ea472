"""Incidents as Open311 GeoReport v2 speaks of them: services and service requests.

GeoReport v2 is the citizen-report API of 311 systems; speaking it lets existing 311 / 12345
client apps report into gridgov. Its services are our incident sub-classes (the categories
that responsibility rules name), its requests our incidents, its two statuses ours folded:
``open`` until an incident is closed. This module maps; ``api/routes/open311.py`` speaks HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from gridgov.incidents.lifecycle import OPEN_STATUSES
from gridgov.incidents.models import Incident
from gridgov.incidents.queries import readable_by
from gridgov.responsibilities.catalogue import Catalogue
from gridgov.users.roles import Actor

MAX_REQUESTS = 1000  # GeoReport v2: at most 1000 requests per answer
DEFAULT_DAYS = 90  # and the last 90 days unless dates are given


def services(catalogue: Catalogue, lang: str) -> list[dict[str, Any]]:
    """Every sub-class as a service, grouped by its major class, in code order."""
    out = []
    for code, category in sorted(catalogue.categories.items()):
        if category.parent_code is None:
            continue  # a major class: reports name sub-classes
        parent = catalogue.categories.get(category.parent_code)
        out.append(
            {
                "service_code": code,
                "service_name": category.name(lang),
                "description": category.name(lang),
                "metadata": False,
                "type": "realtime",
                "keywords": "urgent" if category.urgent else "",
                "group": parent.name(lang) if parent else "",
            }
        )
    return out


def open_or_closed(status: str) -> str:
    """GeoReport's two statuses: resolved but not yet confirmed is still ``open``."""
    return "open" if status in OPEN_STATUSES or status == "resolved" else "closed"


@dataclass(frozen=True)
class RequestFilter:
    """GeoReport v2's filters for a list of requests."""

    ids: Sequence[int] = ()
    service_codes: Sequence[str] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: Sequence[str] = ()  # "open", "closed"


def _conditions(f: RequestFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if f.ids:
        conditions.append(Incident.id.in_(f.ids))
    if f.service_codes:
        conditions.append(Incident.category_code.in_(f.service_codes))
    if f.start is not None:
        conditions.append(Incident.reported_at >= f.start)
    if f.end is not None:
        conditions.append(Incident.reported_at <= f.end)
    if set(f.statuses) == {"closed"}:
        conditions.append(Incident.status == "closed")
    elif set(f.statuses) == {"open"}:
        conditions.append(Incident.status != "closed")
    return conditions


def service_requests(
    session: Session, *, actor: Actor, catalogue: Catalogue, lang: str, filters: RequestFilter
) -> list[dict[str, Any]]:
    """The incidents the caller may read that match, newest first, as service requests."""
    rows = session.execute(
        select(
            Incident.id,
            Incident.status,
            Incident.category_code,
            Incident.description,
            Incident.department_code,
            Incident.reported_at,
            Incident.updated_at,
            Incident.deadline_at,
            Incident.grid_code,
            func.ST_X(Incident.position),
            func.ST_Y(Incident.position),
        )
        .where(readable_by(actor), *_conditions(filters))
        .order_by(Incident.reported_at.desc(), Incident.id.desc())
        .limit(MAX_REQUESTS)
    ).all()
    return [_request(catalogue, lang, *row) for row in rows]


def _request(
    catalogue: Catalogue,
    lang: str,
    incident_id: int,
    status: str,
    category_code: str,
    description: str,
    department_code: str | None,
    reported_at: datetime,
    updated_at: datetime,
    deadline_at: datetime | None,
    grid_code: str,
    lon: float,
    lat: float,
) -> dict[str, Any]:
    category = catalogue.categories.get(category_code)
    return {
        "service_request_id": str(incident_id),
        "status": open_or_closed(status),
        "status_notes": status,  # gridgov's own, finer status
        "service_name": category.name(lang) if category else category_code,
        "service_code": category_code,
        "description": description,
        "agency_responsible": catalogue.department_name(department_code) or "",
        "service_notice": "",
        "requested_datetime": reported_at.isoformat(),
        "updated_datetime": updated_at.isoformat(),
        "expected_datetime": deadline_at.isoformat() if deadline_at else None,
        "address": "",
        "address_id": grid_code,
        "zipcode": None,
        "lat": lat,
        "long": lon,
        "media_url": None,
    }
