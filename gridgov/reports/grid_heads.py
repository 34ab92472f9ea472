"""Grid heads' work in a month, counted from what the system knows (no form is filled).

Per grid head (an account with the grid_head role and a grid): reports made in the month;
of those, confirmed valid (a department accepted them as its business); incidents located in
the grid in the month, and of those resolved within their deadline; households the grid head
visited in the month (distinct households of their doorstep visits, ``household_visits``);
red households of the grid whose visit fell due by the month's end, and of those the ones
visited in the month by their due day (``tiers.visit_due``: the tier's interval after the
visit before the month, or the day the household turned red if never visited before).
Patrol coverage is the grid's share of houses seen in the month, by the rule of the
register's monthly coverage (``GET /api/v1/register/coverage``, gridgov/register/coverage.py):
a house counts when anyone's patrol passed it or one of its households was visited at the
door. A share 0..1 rounded to 4 places like that API's ``share``; None only when the grid has
no houses. It counts buildings, not people, so it is not suppressed (docs/PRIVACY.md), as the
API shows houses and houses visited to whoever may count in the grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.models import Area, Grid
from gridgov.exports import csv_text
from gridgov.incidents.models import Incident
from gridgov.register.coverage import houses_seen, share_of
from gridgov.register.models import House, Household, HouseholdVisit
from gridgov.register.tiers import TierLevel, load_levels, visit_due
from gridgov.reports.sources import INCIDENT, Period
from gridgov.users.models import User
from gridgov.users.roles import Action, Actor, Target, allowed
from gridgov.users.scope import codes_above

COLUMNS = (
    "username",
    "name",
    "grid_code",
    "grid_name",
    "reports_made",
    "reports_valid",
    "grid_incidents",
    "grid_resolved_within_deadline",
    "households_visited",
    "red_households_due",
    "red_visited_on_time",
    "patrol_coverage",
)


@dataclass(frozen=True)
class GridHeadMonth:
    """One grid head's figures for one month."""

    username: str
    name: str
    grid_code: str
    grid_name: str
    community_code: str
    reports_made: int
    reports_valid: int
    grid_incidents: int
    grid_resolved_within_deadline: int
    households_visited: int = 0
    red_households_due: int = 0
    red_visited_on_time: int = 0
    patrol_coverage: float | None = None  # share of houses seen; None: no houses

    def row(self) -> dict[str, object]:
        """The figures as a CSV row."""
        return {k: v for k, v in asdict(self).items() if k in COLUMNS}


def grid_head_month(
    session: Session,
    *,
    period: Period,
    actor: Actor | None = None,
    red: TierLevel | None = None,
) -> list[GridHeadMonth]:
    """Every grid head's month, by grid code; with ``actor``, only the grid heads whose grid
    the actor may read (a grid head their own, an operator their area's). ``red`` is the red
    tier's level (tier_levels.csv); without one, red households are not counted."""
    in_month = (Incident.reported_at >= period.start) & (Incident.reported_at < period.end)
    made = _counts(
        session.execute(
            select(
                Incident.reporter_id,
                func.count(),
            )
            .where(in_month, Incident.reporter_id.is_not(None))
            .group_by(Incident.reporter_id)
        )
    )
    valid = _counts(
        session.execute(
            select(Incident.reporter_id, func.count())
            .where(in_month, Incident.reporter_id.is_not(None), Incident.accepted_at.is_not(None))
            .group_by(Incident.reporter_id)
        )
    )
    flag = INCIDENT.flag("resolved within deadline")
    assert flag is not None
    within, _ = flag
    in_grid = _counts(
        session.execute(
            select(Incident.grid_code, func.count()).where(in_month).group_by(Incident.grid_code)
        )
    )
    on_time = _counts(
        session.execute(
            select(Incident.grid_code, func.count())
            .where(in_month, within(period, ()))
            .group_by(Incident.grid_code)
        )
    )
    generation = active_generation(session)
    grids: dict[str, tuple[str, str]] = {}
    if generation is not None:
        grids = {
            code: (name, community)
            for code, name, community in session.execute(
                select(Grid.code, Grid.name, Area.code)
                .join(Area, Area.id == Grid.parent_id)
                .where(Grid.generation_id == generation.id)
            )
        }
    heads = list(
        session.scalars(
            select(User)
            .where(User.role == "grid_head", User.grid_code.is_not(None), User.is_active)
            .order_by(User.grid_code, User.username)
        )
    )
    visited = _counts(
        session.execute(
            select(HouseholdVisit.user_id, func.count(distinct(HouseholdVisit.household_id)))
            .where(
                HouseholdVisit.visited_at >= period.start,
                HouseholdVisit.visited_at < period.end,
                HouseholdVisit.user_id.in_([h.id for h in heads]),
            )
            .group_by(HouseholdVisit.user_id)
        )
    )
    red_due, red_on_time = (
        red_visits(session, period=period, red=red, grids={h.grid_code or "" for h in heads})
        if red is not None
        else ({}, {})
    )
    covered = houses_seen(
        session, grids={h.grid_code or "" for h in heads}, start=period.start, end=period.end
    )
    rows = []
    for head in heads:
        grid = head.grid_code or ""
        grid_name, community = grids.get(grid, ("", ""))
        houses, seen = covered.get(grid, (0, 0))
        rows.append(
            GridHeadMonth(
                username=head.username,
                name=head.display_name,
                grid_code=grid,
                grid_name=grid_name,
                community_code=community,
                reports_made=made.get(head.id, 0),
                reports_valid=valid.get(head.id, 0),
                grid_incidents=in_grid.get(grid, 0),
                grid_resolved_within_deadline=on_time.get(grid, 0),
                households_visited=visited.get(head.id, 0),
                red_households_due=red_due.get(grid, 0),
                red_visited_on_time=red_on_time.get(grid, 0),
                patrol_coverage=share_of(seen, houses),
            )
        )
    if actor is None:
        return rows
    return [r for r in rows if allowed(actor, Action.READ, _target(session, r))]


def red_visits(
    session: Session, *, period: Period, red: TierLevel, grids: set[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Per grid: red households whose visit fell due by the month's last day, and those of
    them visited in the month on or before the day it was due. Days are the city's."""
    zone = period.start.tzinfo
    households = session.execute(
        select(Household.id, House.grid_code, Household.tier_at)
        .join(House, House.id == Household.house_id)
        .where(Household.tier == "red", House.grid_code.in_(grids))
    ).all()
    visits: dict[int, list[date]] = {}
    for household_id, at in session.execute(
        select(HouseholdVisit.household_id, HouseholdVisit.visited_at)
        .where(
            HouseholdVisit.household_id.in_([h.id for h in households]),
            HouseholdVisit.visited_at < period.end,
        )
        .order_by(HouseholdVisit.visited_at)
    ):
        visits.setdefault(household_id, []).append(at.astimezone(zone).date())
    due_in: dict[str, int] = {}
    on_time: dict[str, int] = {}
    for household_id, grid_code, tier_at in households:
        grid = grid_code or ""
        days = visits.get(household_id, [])
        before = [d for d in days if d < period.first_day]
        during = [d for d in days if d >= period.first_day]
        turned = tier_at.astimezone(zone).date() if tier_at is not None else period.first_day
        due = visit_due(red, last_visit=before[-1] if before else None, assigned_on=turned)
        if due is None or due > period.last_day:
            continue
        due_in[grid] = due_in.get(grid, 0) + 1
        if during and during[0] <= due:
            on_time[grid] = on_time.get(grid, 0) + 1
    return due_in, on_time


def red_level(geodata_dir: Path) -> TierLevel:
    """The red tier's level from the city's tier_levels.csv."""
    return load_levels(geodata_dir / "register" / "tier_levels.csv")["red"]


def _counts(result: Any) -> dict[Any, int]:
    return {key: int(count) for key, count in result}


def _target(session: Session, row: GridHeadMonth) -> Target:
    above = codes_above(session, code=row.community_code) if row.community_code else frozenset()
    return Target(area_codes=frozenset(above), grid_code=row.grid_code)


def grid_heads_csv(rows: Sequence[GridHeadMonth]) -> str:
    """The table as CSV for a spreadsheet (BOM, formulas quoted)."""
    return csv_text(COLUMNS, (r.row() for r in rows))
