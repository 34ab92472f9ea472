"""Escalation on a controllable clock: level by level, idempotent, safe across restarts."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from gridgov.cli import app
from gridgov.config import get_settings
from gridgov.db import session_scope
from gridgov.incidents import actions
from gridgov.incidents.escalation import (
    EscalationRun,
    EscalationScheduler,
    escalate_one,
    escalate_overdue,
    run_escalation,
)
from gridgov.incidents.models import Incident, IncidentEvent
from gridgov.incidents.reporting import report_incident
from gridgov.users.models import User

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def user(session, name):
    return session.scalar(select(User).where(User.username == name))


def new_incident(session, category="0102", now=T0, **kw):
    return report_incident(
        session,
        reporter_id=user(session, "gridhead").id,
        lon=109.1,
        lat=21.55,
        category_code=category,
        now=now,
        **kw,
    ).incident


def steps(session, incident):
    events = session.scalars(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident.id)
        .order_by(IncidentEvent.id)
    ).all()
    return [(e.action, e.level, e.department_code) for e in events]


def test_lapsed_deadlines_climb_one_level_per_run(session):
    incident = new_incident(session)
    assert escalate_overdue(session, now=T0 + timedelta(hours=23)).changed == 0
    run = escalate_overdue(session, now=T0 + timedelta(hours=25))
    assert incident.id in run.escalated
    assert (incident.level, incident.department_code) == ("street", "990105009-CG")
    assert incident.deadline_at == T0 + timedelta(hours=25 + 24)
    # The same run again, or a moment later, changes nothing.
    assert escalate_overdue(session, now=T0 + timedelta(hours=25)).changed == 0
    assert escalate_overdue(session, now=T0 + timedelta(hours=26)).changed == 0
    escalate_overdue(session, now=T0 + timedelta(hours=50))
    assert (incident.level, incident.department_code) == ("district", "990105-CG")
    escalate_overdue(session, now=T0 + timedelta(hours=99))
    assert (incident.level, incident.department_code) == ("city", "990100-CG")
    top = escalate_overdue(session, now=T0 + timedelta(hours=200))
    assert top.overdue_at_top == [incident.id] and incident.overdue_at_top
    assert escalate_overdue(session, now=T0 + timedelta(hours=400)).changed == 0
    assert steps(session, incident) == [
        ("report", None, None),
        ("dispatch", "community", "990105009003-JW"),
        ("escalate", "street", "990105009-CG"),
        ("escalate", "district", "990105-CG"),
        ("escalate", "city", "990100-CG"),
        ("overdue", "city", "990100-CG"),
    ]


def test_accepted_but_unresolved_and_rejected_incidents_escalate_too(session):
    accepted = new_incident(session)
    actions.accept(session, incident_id=accepted.id, actor=user(session, "handler_jw"), now=T0)
    rejected = new_incident(session, category="0201")
    actions.reject(
        session, incident_id=rejected.id, actor=user(session, "handler_jw"), reason="x", now=T0
    )
    resolved = new_incident(session, category="0104")
    actions.accept(session, incident_id=resolved.id, actor=user(session, "handler_jw"), now=T0)
    actions.resolve(
        session, incident_id=resolved.id, actor=user(session, "handler_jw"), note="ok", now=T0
    )
    run = escalate_overdue(session, now=T0 + timedelta(hours=30))
    assert set(run.escalated) >= {accepted.id, rejected.id}
    assert resolved.id not in run.escalated
    assert (accepted.status, accepted.level) == ("dispatched", "street")
    assert (rejected.status, rejected.department_code) == ("dispatched", "990105009-CG")


def test_urgent_gas_leak_starts_at_the_street_with_half_an_hour(session):
    incident = new_incident(session, category="0403")
    assert (incident.level, incident.department_code) == ("street", "990105009-YJ")
    assert incident.deadline_at == T0 + timedelta(minutes=30)
    escalate_overdue(session, now=T0 + timedelta(minutes=31))
    assert (incident.level, incident.department_code) == ("district", "990105-YJ")


def test_late_check_ins_are_noted_once(session):
    incident = new_incident(session)
    actions.whistle(
        session,
        incident_id=incident.id,
        actor=user(session, "handler_jw"),
        department_codes=["990105009-ZF"],
        due_hours=1,
        now=T0,
    )
    first = escalate_overdue(session, now=T0 + timedelta(hours=2))
    assert first.late_check_ins == [incident.id]
    assert escalate_overdue(session, now=T0 + timedelta(hours=3)).late_check_ins == []


def test_a_run_that_dies_midway_loses_nothing(committed):
    with session_scope(committed) as session:
        ids = [new_incident(session, now=T0).id for _ in range(3)]
    # A worker takes one incident, escalates it, and dies before committing.
    crashed = committed()
    escalate_one(crashed, now=T0 + timedelta(hours=30), run=EscalationRun())
    crashed.rollback()
    crashed.close()
    run = run_escalation(committed, now=T0 + timedelta(hours=30))
    assert sorted(run.escalated) == sorted(ids)
    assert run_escalation(committed, now=T0 + timedelta(hours=30)).changed == 0
    with session_scope(committed) as session:
        for iid in ids:
            assert [s[0] for s in steps(session, session.get(Incident, iid))].count("escalate") == 1


def test_the_scheduler_inside_the_service_escalates(committed):
    with session_scope(committed) as session:
        iid = new_incident(session, now=datetime.now(UTC) - timedelta(days=3)).id
    scheduler = EscalationScheduler(committed, interval=0.1)
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        level = "community"
        while time.monotonic() < deadline and level == "community":
            time.sleep(0.1)
            with session_scope(committed) as session:
                level = session.get(Incident, iid).level
    finally:
        scheduler.stop()
    assert level == "street"


def test_cron_command(committed, monkeypatch, database_url):
    with session_scope(committed) as session:
        new_incident(session, now=datetime.now(UTC) - timedelta(days=3))
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        result = CliRunner(env={"GRIDGOV_LANG": "en"}).invoke(app, ["escalate", "--now"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "escalated 1" in result.output
