"""Concurrent actions on one incident are safe; a replayed report never makes a second one."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from gridgov.db import session_scope
from gridgov.incidents import actions
from gridgov.incidents.lifecycle import TransitionNotAllowed
from gridgov.incidents.models import Incident, IncidentEvent
from gridgov.incidents.reporting import report_incident
from gridgov.users.models import User

WORKERS = 8


def user_id(factory, username):
    with session_scope(factory) as session:
        return session.scalar(select(User.id).where(User.username == username))


def test_many_handlers_accepting_at_once_exactly_one_wins(committed):
    reporter = user_id(committed, "gridhead")
    with session_scope(committed) as session:
        iid = report_incident(
            session, reporter_id=reporter, lon=109.1, lat=21.55, category_code="0102"
        ).incident.id
    barrier = threading.Barrier(WORKERS, timeout=60)

    def accept_once(_: int) -> str:
        with session_scope(committed) as session:
            handler = session.scalar(select(User).where(User.username == "handler_jw"))
            barrier.wait()
            try:
                actions.accept(session, incident_id=iid, actor=handler)
                return "accepted"
            except TransitionNotAllowed:
                return "conflict"

    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(accept_once, range(WORKERS)))
    assert sorted(outcomes) == ["accepted"] + ["conflict"] * (WORKERS - 1)
    with session_scope(committed) as session:
        accepts = session.scalar(
            select(func.count()).where(
                IncidentEvent.incident_id == iid, IncidentEvent.action == "accept"
            )
        )
        assert accepts == 1
        assert session.get(Incident, iid).status == "accepted"


def test_the_same_idempotency_key_at_once_makes_one_incident(committed):
    reporter = user_id(committed, "gridhead")
    barrier = threading.Barrier(WORKERS, timeout=60)

    def send(_: int) -> int:
        with session_scope(committed) as session:
            barrier.wait()
            return report_incident(
                session,
                reporter_id=reporter,
                lon=109.1,
                lat=21.55,
                category_code="0102",
                idempotency_key="offline-queue-7",
            ).incident.id

    with ThreadPoolExecutor(WORKERS) as pool:
        ids = set(pool.map(send, range(WORKERS)))
    assert len(ids) == 1
    with session_scope(committed) as session:
        rows = session.scalar(
            select(func.count())
            .select_from(Incident)
            .where(Incident.idempotency_key == "offline-queue-7")
        )
        assert rows == 1
        reports = session.scalar(
            select(func.count()).where(
                IncidentEvent.incident_id == ids.pop(), IncidentEvent.action == "report"
            )
        )
        assert reports == 1


def test_the_audit_log_refuses_changes(committed):
    reporter = user_id(committed, "gridhead")
    with session_scope(committed) as session:
        iid = report_incident(
            session, reporter_id=reporter, lon=109.1, lat=21.55, category_code="0102"
        ).incident.id
    for statement in (
        update(IncidentEvent).where(IncidentEvent.incident_id == iid).values(note="rewritten"),
        delete(IncidentEvent).where(IncidentEvent.incident_id == iid),
    ):
        with pytest.raises(DBAPIError, match="append-only"), session_scope(committed) as session:
            session.execute(statement)
