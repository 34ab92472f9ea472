"""Department figures for a period, read from the incident audit log."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.lookup import get_area
from gridgov.boundaries.models import Area
from gridgov.departments.models import Department
from gridgov.errors import FieldError, OutOfScope
from gridgov.evaluation.quadrants import (
    DepartmentFigures,
    Quadrant,
    Thresholds,
    city_medians,
    quadrant,
)
from gridgov.exports import csv_text
from gridgov.incidents.models import IncidentEvent, StreetRating
from gridgov.users.roles import Action, Actor, Target, allowed
from gridgov.users.scope import codes_above

ASSIGNING = ("dispatch", "escalate", "reopen")


@dataclass(frozen=True)
class Scorecard:
    """One department's figures and quadrant."""

    department: Department
    figures: DepartmentFigures
    quadrant: Quadrant | None


@dataclass(frozen=True)
class Evaluation:
    """Every scorecard of a period, with the thresholds used."""

    start: datetime
    end: datetime
    thresholds: Thresholds | None
    scorecards: list[Scorecard]


def department_figures(
    session: Session, *, start: datetime, end: datetime, departments: Iterable[str] | None = None
) -> dict[str, DepartmentFigures]:
    """Figures per department for events in [start, end)."""
    wanted = set(departments) if departments is not None else None
    in_period = select(IncidentEvent.incident_id).where(
        IncidentEvent.at >= start, IncidentEvent.at < end
    )
    events = session.scalars(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id.in_(in_period), IncidentEvent.at < end)
        .order_by(IncidentEvent.incident_id, IncidentEvent.at, IncidentEvent.id)
    ).all()
    tally: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    open_stint: dict[int, tuple[str, datetime]] = {}  # incident -> (department, assigned at)
    for event in events:
        dept = event.department_code
        counted = event.at >= start and dept is not None and (wanted is None or dept in wanted)
        if event.action in ASSIGNING and dept is not None:
            open_stint[event.incident_id] = (dept, event.at)
            if counted:
                tally[dept]["assigned"].append(1)
                if event.action == "reopen":
                    tally[dept]["reopened"].append(1)
        elif event.action == "accept" and dept is not None:
            stint = open_stint.pop(event.incident_id, None)
            if counted and stint is not None and stint[0] == dept:
                tally[dept]["accept_hours"].append((event.at - stint[1]).total_seconds() / 3600)
        elif event.action == "resolve" and counted and dept is not None:
            tally[dept]["resolved"].append(1)
            tally[dept]["within_sla"].append(1.0 if event.details.get("within_sla") else 0.0)
        elif event.action == "close" and counted and dept is not None:
            rating = event.details.get("rating")
            if rating is not None:
                tally[dept]["ratings"].append(float(rating))
    street = _street_ratings(session, start.date(), end.date())
    codes = set(tally) | (set(street) if wanted is None else set(street) & wanted)
    return {code: _figures(code, tally.get(code, {}), street.get(code)) for code in sorted(codes)}


def _figures(code: str, t: dict[str, list[float]], street_mean: float | None) -> DepartmentFigures:
    accept = t.get("accept_hours", [])
    ratings = t.get("ratings", [])
    return DepartmentFigures(
        department_code=code,
        assigned=len(t.get("assigned", [])),
        accepted=len(accept),
        median_accept_hours=statistics.median(accept) if accept else None,
        resolved=len(t.get("resolved", [])),
        resolved_within_sla=int(sum(t.get("within_sla", []))),
        reopened=len(t.get("reopened", [])),
        rating_mean=statistics.fmean(ratings) if ratings else None,
        street_rating_mean=street_mean,
    )


def _street_ratings(session: Session, start: date, end: date) -> dict[str, float]:
    rows = session.execute(
        select(StreetRating.department_code, func.avg(StreetRating.score))
        .where(StreetRating.period_start < end, StreetRating.period_end >= start)
        .group_by(StreetRating.department_code)
    ).all()
    return {code: float(mean) for code, mean in rows}


def evaluate(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    departments: Iterable[str] | None = None,
    thresholds: Thresholds | None = None,
) -> Evaluation:
    """Scorecards for a period; thresholds default to the medians over all departments."""
    everyone = department_figures(session, start=start, end=end)
    chosen = set(departments) if departments is not None else set(everyone)
    thresholds = thresholds or city_medians(list(everyone.values()))
    rows = session.scalars(select(Department).where(Department.code.in_(chosen))).all()
    by_code = {d.code: d for d in rows}
    cards = [
        Scorecard(
            department=by_code[code],
            figures=everyone.get(code, DepartmentFigures(code)),
            quadrant=quadrant(everyone[code], thresholds)
            if thresholds and code in everyone
            else None,
        )
        for code in sorted(chosen)
        if code in by_code
    ]
    return Evaluation(start=start, end=end, thresholds=thresholds, scorecards=cards)


def rate_department(
    session: Session,
    *,
    street_code: str,
    department_code: str,
    period_start: date,
    period_end: date,
    score: int,
    comment: str = "",
    rated_by: int | None = None,
    actor: Actor | None = None,
) -> StreetRating:
    """A street rates a department for a period (again: the new score replaces the old).

    The street must lie in ``actor``'s area (None: a trusted caller) and the department must
    serve it: its area is the street, one above it, or a community of the street."""
    street = _street(session, street_code)
    department = session.scalar(select(Department).where(Department.code == department_code))
    if department is None:
        raise FieldError("department_code", "incident.unknown_department", code=department_code)
    above = codes_above(session, code=street_code)
    if actor is not None and not allowed(actor, Action.RATE_DEPARTMENT, Target(area_codes=above)):
        raise OutOfScope("scope.street", code=street.code)
    serves = department.area_code in above or street_code in codes_above(
        session, code=department.area_code
    )
    if not serves:
        raise OutOfScope("scope.rated_department", code=department_code, street=street_code)
    rating = session.scalar(
        select(StreetRating).where(
            StreetRating.street_code == street_code,
            StreetRating.department_code == department_code,
            StreetRating.period_start == period_start,
            StreetRating.period_end == period_end,
        )
    )
    if rating is None:
        rating = StreetRating(
            street_code=street_code,
            department_code=department_code,
            period_start=period_start,
            period_end=period_end,
        )
        session.add(rating)
    rating.score = score
    rating.comment = comment
    rating.rated_by = rated_by
    session.flush()
    return rating


def _street(session: Session, code: str) -> Area:
    """The area that rates: a street, or a district in a city without streets (the level
    that stands where the street office would)."""
    generation = active_generation(session)
    street = get_area(session, code=code, generation_id=generation.id) if generation else None
    if street is not None and street.level == "district":
        has_streets = select(Area.id).where(
            Area.generation_id == street.generation_id, Area.level == "street"
        )
        if session.scalar(has_streets.limit(1)) is None:
            return street
    if street is None or street.level != "street":
        raise FieldError("street_code", "error.not_found.area", code=code)
    return street


CSV_COLUMNS = [
    "department_code", "department_name", "level", "assigned", "accepted",
    "median_accept_hours", "resolved", "within_sla_share", "reopen_rate", "rating_mean",
    "street_rating_mean", "effectiveness", "quadrant",
]  # fmt: skip


def scorecard_rows(evaluation: Evaluation) -> list[dict[str, object]]:
    """One flat row per scorecard (for JSON and CSV)."""
    rows = []
    for card in evaluation.scorecards:
        f = card.figures
        rows.append(
            {
                "department_code": card.department.code,
                "department_name": card.department.name,
                "level": card.department.level,
                "assigned": f.assigned,
                "accepted": f.accepted,
                "median_accept_hours": _round(f.median_accept_hours),
                "resolved": f.resolved,
                "within_sla_share": _round(f.within_sla_share),
                "reopen_rate": _round(f.reopen_rate),
                "rating_mean": _round(f.rating_mean),
                "street_rating_mean": _round(f.street_rating_mean),
                "effectiveness": _round(f.effectiveness),
                "quadrant": card.quadrant.value if card.quadrant else None,
            }
        )
    return rows


def scorecards_csv(evaluation: Evaluation) -> str:
    """The scorecards as CSV text for a spreadsheet (see gridgov.exports)."""
    return csv_text(CSV_COLUMNS, scorecard_rows(evaluation))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
