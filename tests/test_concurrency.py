"""Concurrent actions on one incident are safe; a replayed report never makes a second one."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from gridgov.db import session_scope
from gridgov.incidents import actions
from gridgov.incidents.escalation import EscalationRun, escalate_one
from gridgov.incidents.lifecycle import TransitionNotAllowed
from gridgov.incidents.models import Incident, IncidentEvent
from gridgov.incidents.reporting import report_incident
from gridgov.supplies import reservations
from gridgov.supplies.models import StockLot, Stockpile
from gridgov.supplies.stock import import_stock
from gridgov.users.models import User
from tests.locks import backend_pid, wait_until_blocked
from tests.supplies import add_items, east, stock_row

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


def test_two_escalation_workers_at_once_take_different_incidents(committed):
    # Worker A holds the most overdue incident (uncommitted); worker B must skip it, not
    # wait for it, and escalate the next one. B's lock_timeout turns a wait into a failure.
    t0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
    reporter = user_id(committed, "gridhead")
    with session_scope(committed) as session:
        ids = [
            report_incident(session, reporter_id=reporter, lon=109.1, lat=21.55,
                            category_code="0102", now=t0 + timedelta(minutes=n)).incident.id
            for n in range(2)
        ]  # fmt: skip
    now = t0 + timedelta(hours=30)
    a, b = committed(), committed()
    try:
        run_a, run_b = EscalationRun(), EscalationRun()
        assert escalate_one(a, now=now, run=run_a)
        b.execute(text("SET LOCAL lock_timeout = '20s'"))
        assert escalate_one(b, now=now, run=run_b)
        assert (run_a.escalated, run_b.escalated) == ([ids[0]], [ids[1]])
        assert not escalate_one(b, now=now, run=run_b)  # A's is still taken, B's is done
        a.commit()
        b.commit()
    finally:
        a.close()
        b.close()
    with session_scope(committed) as session:
        escalations = session.scalars(
            select(IncidentEvent.incident_id).where(
                IncidentEvent.incident_id.in_(ids), IncidentEvent.action == "escalate"
            )
        ).all()
    assert sorted(escalations) == ids


def test_a_reservation_locks_its_lots_in_id_order_whatever_order_it_names_them(committed):
    # Two reservations naming the same lots in opposite orders cannot deadlock if each
    # locks in one order. Proof: while another session holds the later lot, a reservation
    # that names the later lot first already holds the earlier one.
    with session_scope(committed) as session:
        add_items(session, "test_tent")
        import_stock(session, rows=[stock_row("T-X", east(1), "test_tent", 10),
                                    stock_row("T-Y", east(2), "test_tent", 10)])  # fmt: skip
        lot_of = dict(
            session.execute(
                select(Stockpile.code, StockLot.id)
                .join(StockLot, StockLot.stockpile_id == Stockpile.id)
                .where(Stockpile.code.in_(["T-X", "T-Y"]))
            ).all()
        )
    earlier, later = sorted(lot_of, key=lot_of.__getitem__)
    first, second = lot_of[earlier], lot_of[later]
    holder = committed()
    holder.execute(text("SELECT 1 FROM stock_lots WHERE id = :id FOR UPDATE"), {"id": second})
    pids: queue.Queue[int] = queue.Queue()
    outcome: dict[str, object] = {}

    def reserving() -> None:
        try:
            with session_scope(committed) as session:
                pids.put(backend_pid(session))
                actor = session.scalar(select(User).where(User.username == "emergency"))
                wants = [reservations.Want(later, "test_tent", 2),
                         reservations.Want(earlier, "test_tent", 2)]  # fmt: skip
                outcome["id"] = reservations.reserve(
                    session, actor=actor, wants=wants, today=date(2026, 6, 1)
                ).id
        except Exception as error:  # reported below
            outcome["error"] = error

    worker = threading.Thread(target=reserving)
    worker.start()
    try:
        wait_until_blocked(committed, pids.get(timeout=30), by=backend_pid(holder))
        with committed() as probe, pytest.raises(DBAPIError, match="could not obtain lock"):
            probe.execute(
                text("SELECT 1 FROM stock_lots WHERE id = :id FOR UPDATE NOWAIT"), {"id": first}
            )
    finally:
        holder.rollback()
        holder.close()
        worker.join(timeout=60)
    assert "id" in outcome, outcome
