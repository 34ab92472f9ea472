"""What the stored tiers are for: the grid head's list of red and yellow households with the
reason, last visit and next due date; tier counts per grid or community for the map (small
counts suppressed as docs/PRIVACY.md says); and visit-due reminders in the grid heads' inbox,
each due visit reminded once.

A household's last visit is the later of ``households.last_visit_at`` and its latest row in
``household_visits``; its next visit is due ``visit_every_months`` (tier_levels.csv) after
that, or on the day it got its tier if it was never visited.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gridgov.boundaries.models import Area, Generation, Grid
from gridgov.errors import OutOfScope
from gridgov.i18n import t
from gridgov.notifications.service import Message, notify_many
from gridgov.register.access import AGGREGATES, PEOPLE, Reach, Reader, Where, may_read, reach_of
from gridgov.register.aggregates import suppress
from gridgov.register.models import House, Household
from gridgov.register.reading import reach_filter
from gridgov.register.tiering import TierConfig, tier_config
from gridgov.register.tiers import TIERS
from gridgov.users.scope import codes_above

REMINDER_KIND = "visit_due"
LEVELS = ("grid", "community")

# Each household of a tier with reminders, with its last visit and next due date (local days).
_DUE = """
    SELECT h.id, h.code, h.tier, h.tier_rule, h.visit_reminded_on, last.at AS last_visit_at,
           ho.code AS house_code, ho.address, ho.building, ho.unit, ho.room, ho.grid_code,
           CASE WHEN last.at IS NULL THEN (h.tier_at AT TIME ZONE :tz)::date
                ELSE ((last.at AT TIME ZONE :tz)::date + make_interval(months => m.months))::date
           END AS due_on
    FROM households h
    JOIN houses ho ON ho.id = h.house_id
    JOIN unnest(CAST(:tiers AS text[]), CAST(:months AS int[])) AS m(tier, months)
      ON m.tier = h.tier
    CROSS JOIN LATERAL (
        SELECT GREATEST(h.last_visit_at, max(v.visited_at)) AS at
        FROM household_visits v WHERE v.household_id = h.id
    ) AS last
"""


def _cadence(config: TierConfig) -> tuple[list[str], list[int]]:
    tiers = [t for t, level in config.levels.items() if level.visit_every_months]
    return tiers, [config.levels[t].visit_every_months or 0 for t in tiers]


@dataclass(frozen=True)
class TierEntry:
    """A red or yellow household as its grid head sees it in the list."""

    household_id: int
    household_code: str
    house_code: str
    address: str
    tier: str
    rule: str | None
    reason: str
    last_visit_at: datetime | None
    next_due: date | None
    overdue: bool


def grid_where(session: Session, grid_code: str) -> Where:
    """A grid as the read table sees it: its code and the areas above it (active
    generation; a grid it does not know lies in no area)."""
    parent = session.scalar(
        select(Area.code)
        .join(Grid, Grid.parent_id == Area.id)
        .join(Generation, Generation.id == Grid.generation_id)
        .where(Grid.code == grid_code, Generation.is_active)
    )
    return Where(grid_code, codes_above(session, code=parent) if parent else frozenset())


def tier_list(
    session: Session,
    *,
    reader: Reader,
    grid_code: str,
    today: date,
    lang: str,
    timezone: str,
    geodata_dir: Path | None = None,
) -> list[TierEntry]:
    """The red and yellow households of a grid, red first, then by due date: for those who
    may read the people there by place (a grid head their grid; not a department that reads
    people only by tag)."""
    reach = reach_of(reader, PEOPLE)
    if reach is None or reach is Reach.TAGGED:
        raise OutOfScope("scope.register_grid", code=grid_code)
    if not may_read(reader, PEOPLE, grid_where(session, grid_code)):
        raise OutOfScope("scope.register_grid", code=grid_code)
    config = tier_config(geodata_dir)
    tiers, months = _cadence(config)
    shown = [t for t in TIERS if t != "green"]
    query = text(
        _DUE.replace("JOIN unnest", "LEFT JOIN unnest")
        + " WHERE ho.grid_code = :grid AND h.tier = ANY(CAST(:shown AS text[]))"
    )
    rows = session.execute(
        query, {"tz": timezone, "tiers": tiers, "months": months, "grid": grid_code, "shown": shown}
    ).all()
    entries = [
        TierEntry(
            household_id=row.id,
            household_code=row.code,
            house_code=row.house_code,
            address=" ".join(p for p in (row.address, row.building, row.unit, row.room) if p),
            tier=row.tier,
            rule=row.tier_rule,
            reason=config.reason(row.tier_rule, lang),
            last_visit_at=row.last_visit_at,
            next_due=row.due_on if row.tier in tiers else None,
            overdue=row.tier in tiers and row.due_on is not None and row.due_on < today,
        )
        for row in rows
    ]
    entries.sort(key=lambda e: (TIERS.index(e.tier), e.next_due or date.max, e.address))
    return entries


@dataclass(frozen=True)
class TierCounts:
    """Households per tier in one grid or community (None: a count of 1-4 hidden)."""

    code: str
    counts: dict[str, int | None]


def tier_counts(session: Session, *, reader: Reader, level: str) -> list[TierCounts]:
    """Households per tier per grid or community over the places the reader may count in;
    a count of 1-4 is hidden unless the reader may see those people by place. A reader who
    counts in one grid only gets no community figures (they would be that grid's)."""
    if level not in LEVELS:
        raise ValueError(level)
    reach = reach_of(reader, AGGREGATES)
    if reach is None or (level == "community" and reach is Reach.GRID):
        return []
    column = House.grid_code if level == "grid" else House.community_code
    above = [House.community_code, House.street_code, House.district_code, House.city_code]
    if level == "community":
        above = above[1:]
    rows = session.execute(
        select(column, *above, Household.tier, func.count())
        .join(Household, Household.house_id == House.id)
        .where(column.is_not(None), Household.tier.is_not(None))
        .where(reach_filter(reader, House, AGGREGATES))
        .group_by(column, *above, Household.tier)
    ).all()
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(TIERS, 0))
    places: dict[str, Where] = {}
    for code, *rest in rows:
        *areas, tier, count = rest
        if code is None:
            continue
        counts[code][tier] += count
        codes = frozenset(a for a in areas if a)
        places[code] = Where(code, codes) if level == "grid" else Where(None, codes | {code})
    return [
        TierCounts(
            code,
            {
                tier: suppress(n, may_see=may_read(reader, PEOPLE, places[code]))
                for tier, n in found.items()
            },
        )
        for code, found in sorted(counts.items())
    ]


def remind_due_visits(
    session: Session,
    *,
    today: date,
    now: datetime,
    timezone: str,
    geodata_dir: Path | None = None,
) -> int:
    """Tell each grid head of the households of their grid whose visit is due by ``today``
    (red monthly, yellow quarterly: tier_levels.csv), each due date once however often this
    runs: the due date reminded is kept on the household. The number of households."""
    config = tier_config(geodata_dir)
    tiers, months = _cadence(config)
    if not tiers:
        return 0
    due = session.execute(
        text(
            f"SELECT * FROM ({_DUE}) AS d WHERE d.due_on <= :today AND d.grid_code IS NOT NULL"
            " AND d.visit_reminded_on IS DISTINCT FROM d.due_on"
        ),
        {"tz": timezone, "tiers": tiers, "months": months, "today": today},
    ).all()
    if not due:
        return 0
    heads: dict[str, list[int]] = defaultdict(list)
    for user_id, grid in session.execute(
        text(
            "SELECT id, grid_code FROM users WHERE role = 'grid_head' AND is_active"
            " AND grid_code = ANY(CAST(:grids AS text[]))"
        ),
        {"grids": sorted({row.grid_code for row in due})},
    ):
        heads[grid].append(user_id)
    waiting = [row for row in due if heads.get(row.grid_code)]
    if not waiting:
        return 0  # no grid head yet: reminded when one is appointed
    # Marked first, and only the rows this run marked are told: two runs at once (or a
    # re-run) remind nobody twice.
    marked = set(
        session.scalars(
            text(
                "UPDATE households AS h SET visit_reminded_on = v.due"
                " FROM unnest(CAST(:ids AS bigint[]), CAST(:dues AS date[])) AS v(id, due)"
                " WHERE h.id = v.id AND h.visit_reminded_on IS DISTINCT FROM v.due"
                " RETURNING h.id"
            ),
            {"ids": [row.id for row in waiting], "dues": [row.due_on for row in waiting]},
        )
    )
    messages = [
        Message(
            kind=REMINDER_KIND,
            title=t(
                "register.reminder.title",
                "zh",
                tier=config.levels[row.tier].name_zh,
                household=row.code,
                due=row.due_on.isoformat(),
            ),
            user_ids=tuple(heads[row.grid_code]),
            data={
                "household": row.id,
                "household_code": row.code,
                "grid": row.grid_code,
                "tier": row.tier,
                "rule": row.tier_rule,
                "due": row.due_on.isoformat(),
                "last_visit": row.last_visit_at.isoformat() if row.last_visit_at else None,
            },
        )
        for row in waiting
        if row.id in marked
    ]
    notify_many(session, messages, now=now)
    return len(messages)
