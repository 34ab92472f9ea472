"""Grid heads' work in a month, counted from what the system knows (no form is filled).

Per grid head (an account with the grid_head role and a grid): reports made in the month;
of those, confirmed valid (a department accepted them as its business); incidents located in
the grid in the month, and of those resolved within their deadline. Households visited and
patrol coverage join once the register (issue #15) records visits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.models import Area, Grid
from gridgov.exports import csv_text
from gridgov.incidents.models import Incident
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

    def row(self) -> dict[str, object]:
        """The figures as a CSV row."""
        return {k: v for k, v in asdict(self).items() if k in COLUMNS}


def grid_head_month(
    session: Session, *, period: Period, actor: Actor | None = None
) -> list[GridHeadMonth]:
    """Every grid head's month, by grid code; with ``actor``, only the grid heads whose grid
    the actor may read (a grid head their own, an operator their area's)."""
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
    heads = session.scalars(
        select(User)
        .where(User.role == "grid_head", User.grid_code.is_not(None), User.is_active)
        .order_by(User.grid_code, User.username)
    )
    rows = []
    for head in heads:
        grid = head.grid_code or ""
        grid_name, community = grids.get(grid, ("", ""))
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
            )
        )
    if actor is None:
        return rows
    return [r for r in rows if allowed(actor, Action.READ, _target(session, r))]


def _counts(result: Any) -> dict[Any, int]:
    return {key: int(count) for key, count in result}


def _target(session: Session, row: GridHeadMonth) -> Target:
    above = codes_above(session, code=row.community_code) if row.community_code else frozenset()
    return Target(area_codes=frozenset(above), grid_code=row.grid_code)


def grid_heads_csv(rows: Sequence[GridHeadMonth]) -> str:
    """The table as CSV for a spreadsheet (BOM, formulas quoted)."""
    return csv_text(COLUMNS, (r.row() for r in rows))
