"""Department figures for a period, read from the incident audit log."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.departments.models import Department
from gridgov.evaluation.quadrants import (
    DepartmentFigures,
    Quadrant,
    Thresholds,
    city_medians,
    quadrant,
)
from gridgov.exports import csv_text
from gridgov.incidents.models import IncidentEvent, StreetRating

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
) -> StreetRating:
    """A street rates a department for a period (again: the new score replaces the old)."""
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
