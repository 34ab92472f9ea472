"""A month in the demo city: 200 reports from 20 grid heads, on a controllable clock.

Grid head k's reports are all handled one way: fast and well (k % 4 == 0), slowly
(1), never (2: they climb level by level), or rejected (3: they climb too). The expected
departments come straight from the responsibility list file, read here independently of
gridgov's router; the expected scorecards are counted here from the plan.
"""

from __future__ import annotations

import csv
import itertools
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from gridgov.boundaries.models import Grid
from gridgov.evaluation.quadrants import DepartmentFigures
from gridgov.evaluation.service import evaluate, rate_department
from gridgov.incidents import actions
from gridgov.incidents.escalation import escalate_overdue
from gridgov.incidents.lifecycle import Move, transition
from gridgov.incidents.models import Incident, IncidentEvent
from gridgov.incidents.reporting import report_incident
from gridgov.users.models import User
from tests import evaluation as by_hand
from tests.conftest import GEODATA

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
HEADS = 20
REPORTS = 200
CATEGORIES = ["0102", "0104", "0201", "0301", "0403", "0505", "0601", "0101"]
RUNS = [100, 300, 500, 700, 900]  # escalation runs, hours after T0
PERIOD = (T0, T0 + timedelta(days=30))
LEVELS = {"社区": "community", "街道": "street", "区": "district", "市": "city"}
ORDER = ["community", "street", "district", "city"]
# Group -> (accept after, resolve after, close after, rating), in hours after the report.
PLANS = {0: (1.0, 3.0, 4.0, 5), 1: (6.0, 10.0, 11.0, 3)}


def expected_chain(category: str, areas: dict[str, str]) -> list[tuple[str, str, float]]:
    """(level, department, SLA hours) at each level with a rule, read from the CSV itself."""
    with (GEODATA / "demo_city" / "responsibilities.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["事项编码"] == category]
    chain = []
    for level in ORDER:
        candidates = [r for r in rows if LEVELS[r["层级"]] == level]
        specific = [r for r in candidates if r["区域编码"] in areas.values()]
        if specific:  # the deepest area wins
            rule = max(specific, key=lambda r: ORDER[::-1].index(_level_of(r["区域编码"], areas)))
        else:
            general = [r for r in candidates if not r["区域编码"]]
            if not general:
                continue
            rule = general[0]
        dept = rule["责任部门"]
        code = dept if "-" in dept else f"{areas[level]}-{dept}"
        chain.append((level, code, float(rule["时限（小时）"])))
    return chain


def _level_of(code: str, areas: dict[str, str]) -> str:
    return next(level for level, value in areas.items() if value == code)


@pytest.fixture
def heads(session):
    grids = session.scalars(select(Grid).order_by(Grid.code)).all()
    picked = grids[:: len(grids) // HEADS][:HEADS]
    users = []
    for k, grid in enumerate(picked):
        user = User(
            username=f"head{k}",
            password_hash="-",
            display_name=f"网格长{k}",
            role="grid_head",
            grid_code=grid.code,
        )
        session.add(user)
        point = session.scalar(
            select(func.ST_AsText(func.ST_PointOnSurface(Grid.geom))).where(Grid.id == grid.id)
        )
        lon, lat = (float(v) for v in point.removeprefix("POINT(").removesuffix(")").split())
        users.append((user, lon, lat))
    session.flush()
    return users


def handler_for(session, cache, department):
    if department not in cache:
        user = User(
            username=f"h-{department}",
            password_hash="-",
            display_name=department,
            role="handler",
            department_code=department,
        )
        session.add(user)
        session.flush()
        cache[department] = user
    return cache[department]


def send_reports(session, heads):
    made = []
    for n in range(REPORTS):
        user, lon, lat = heads[n % HEADS]
        result = report_incident(
            session,
            reporter_id=user.id,
            lon=lon,
            lat=lat,
            category_code=CATEGORIES[(n // HEADS) % len(CATEGORIES)],
            description=f"scenario report {n}",
            idempotency_key=f"scenario-{n}",
            now=T0 + timedelta(minutes=n),
        )
        made.append(result)
    return made


def test_a_month_of_reports(session, heads):
    results = send_reports(session, heads)
    assert all(r.created for r in results)
    incidents = [r.incident for r in results]
    handlers: dict[str, User] = {}
    plan = {}
    for n, incident in enumerate(incidents):
        areas = {
            "community": incident.community_code,
            "street": incident.street_code,
            "district": incident.district_code,
            "city": incident.city_code,
        }
        group = (n % HEADS) % 4
        chain = expected_chain(incident.category_code, areas)
        plan[incident.id] = (group, chain, heads[n % HEADS][0])
        first_dept = chain[0][1]
        assert (incident.level, incident.department_code) == chain[0][:2]
        handler = handler_for(session, handlers, first_dept)
        at = incident.reported_at
        if group in PLANS:
            accept, resolve, close, rating = PLANS[group]
            actions.accept(
                session, incident_id=incident.id, actor=handler, now=at + timedelta(hours=accept)
            )
            actions.resolve(
                session,
                incident_id=incident.id,
                actor=handler,
                note="处置完毕",
                now=at + timedelta(hours=resolve),
            )
            actions.close(
                session,
                incident_id=incident.id,
                actor=plan[incident.id][2],
                rating=rating,
                now=at + timedelta(hours=close),
            )
        elif group == 3:
            actions.reject(
                session,
                incident_id=incident.id,
                actor=handler,
                reason="非本部门职责",
                now=at + timedelta(hours=2),
            )

    # Street ratings (双向测评) for two street departments.
    street_scores = {"990105009-CG": 4, "990105009-ZF": 2}
    for dept, score in street_scores.items():
        rate_department(
            session,
            street_code=dept.split("-")[0],
            department_code=dept,
            period_start=date(2026, 3, 1),
            period_end=date(2026, 3, 31),
            score=score,
        )

    for hours in RUNS:
        escalate_overdue(session, now=T0 + timedelta(hours=hours))
    # A second pass at the last moment changes nothing.
    assert escalate_overdue(session, now=T0 + timedelta(hours=RUNS[-1])).changed == 0

    events_before = session.scalar(select(func.count()).select_from(IncidentEvent))
    incidents_before = session.scalar(select(func.count()).select_from(Incident))
    check_every_story(session, plan)
    check_replay_creates_nothing(session, heads, results, events_before, incidents_before)
    check_scorecards(session, plan, street_scores)


def check_every_story(session, plan):
    """Each incident reached exactly the departments the list names, and its log says so."""
    for iid, (group, chain, reporter) in plan.items():
        incident = session.get(Incident, iid)
        events = session.scalars(
            select(IncidentEvent).where(IncidentEvent.incident_id == iid).order_by(IncidentEvent.id)
        ).all()
        assigned = [
            (e.level, e.department_code) for e in events if e.action in ("dispatch", "escalate")
        ]
        climbs = len(chain) - 1
        if group in PLANS:
            assert assigned == [chain[0][:2]]
            expected_actions = ["report", "dispatch", "accept", "resolve", "close"]
            assert incident.status == "closed"
        else:
            assert assigned == [c[:2] for c in chain], (iid, assigned, chain)
            middle = ["reject"] if group == 3 else []
            expected_actions = ["report", "dispatch", *middle, *["escalate"] * climbs, "overdue"]
            assert incident.status == "dispatched" and incident.overdue_at_top
        assert [e.action for e in events] == expected_actions
        # The log is one unbroken chain of statuses that the transition table allows.
        assert events[0].from_status is None and events[0].to_status == "reported"
        assert events[0].actor_id == reporter.id
        for previous, event in itertools.pairwise(events):
            assert event.from_status == previous.to_status
            assert event.at >= previous.at
            if event.action in Move.__members__.values():
                assert transition(event.from_status, event.action) == event.to_status
        assert events[-1].to_status == incident.status
        escalations = [e for e in events if e.action == "escalate"]
        assert all(e.actor_id is None for e in escalations)


def check_replay_creates_nothing(session, heads, results, events_before, incidents_before):
    replayed = send_reports(session, heads)
    assert not any(r.created for r in replayed)
    assert [r.incident.id for r in replayed] == [r.incident.id for r in results]
    assert session.scalar(select(func.count()).select_from(Incident)) == incidents_before
    assert session.scalar(select(func.count()).select_from(IncidentEvent)) == events_before


def check_scorecards(session, plan, street_scores):
    """Count the figures from the plan by hand, then compare figures and quadrants."""
    tally = defaultdict(lambda: defaultdict(list))
    end_hours = (PERIOD[1] - T0).total_seconds() / 3600
    for group, chain, _ in plan.values():
        _, first_dept, sla = chain[0]
        tally[first_dept]["assigned"].append(1)
        if group in PLANS:
            accept, resolve, _, rating = PLANS[group]
            tally[first_dept]["accept"].append(accept)
            tally[first_dept]["resolved"].append(1)
            tally[first_dept]["within"].append(1 if resolve <= sla else 0)
            tally[first_dept]["ratings"].append(rating)
        else:
            for (_, dept, _), run in zip(chain[1:], RUNS, strict=False):
                if run < end_hours:
                    tally[dept]["assigned"].append(1)
    expected = {}
    for dept in set(tally) | set(street_scores):
        t = tally.get(dept, {})
        expected[dept] = DepartmentFigures(
            department_code=dept,
            assigned=len(t.get("assigned", [])),
            accepted=len(t.get("accept", [])),
            median_accept_hours=statistics.median(t["accept"]) if t.get("accept") else None,
            resolved=len(t.get("resolved", [])),
            resolved_within_sla=sum(t.get("within", [])),
            reopened=0,
            rating_mean=statistics.fmean(t["ratings"]) if t.get("ratings") else None,
            street_rating_mean=float(street_scores[dept]) if dept in street_scores else None,
        )
    result = evaluate(session, start=PERIOD[0], end=PERIOD[1])
    got = {card.figures.department_code: card for card in result.scorecards}
    assert set(got) == set(expected)
    # Effectiveness, thresholds and quadrants worked out without gridgov.evaluation.
    effect = {}
    for dept, f in expected.items():
        ratings = [r for r in (f.rating_mean, f.street_rating_mean) if r is not None]
        effect[dept] = by_hand.effectiveness(
            within_sla=f.resolved_within_sla / f.resolved if f.resolved else None,
            reopen_rate=0.0 if f.resolved else None,
            ratings=ratings,
        )
    speeds = [f.median_accept_hours for f in expected.values() if f.median_accept_hours is not None]
    speed_hours = statistics.median(speeds)
    threshold = statistics.median(e for e in effect.values() if e is not None)
    assert result.thresholds is not None
    assert result.thresholds.speed_hours == pytest.approx(speed_hours)
    assert result.thresholds.effectiveness == pytest.approx(threshold)
    for dept, figures in expected.items():
        assert got[dept].figures == figures, dept
        if effect[dept] is None:
            assert got[dept].figures.effectiveness is None, dept
        else:
            assert got[dept].figures.effectiveness == pytest.approx(effect[dept]), dept
        hours = figures.median_accept_hours
        want = None
        if hours is not None and effect[dept] is not None:
            want = by_hand.quadrant(
                hours, effect[dept], speed_hours=speed_hours, threshold=threshold
            )
        assert (got[dept].quadrant and got[dept].quadrant.value) == want, dept
    quadrants = {card.quadrant.value for card in result.scorecards if card.quadrant}
    assert quadrants == {  # the plan puts departments in all four
        "fast_effective", "slow_effective", "fast_ineffective", "slow_ineffective"
    }  # fmt: skip
