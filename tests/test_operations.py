"""An operator's view: liveness, readiness, metrics, request ids in logs and audit rows, and
what clients get while the database is away."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.deps import SessionDep
from api.main import create_app
from gridgov.config import Settings
from gridgov.context import request_context
from gridgov.db import make_engine, make_session_factory
from gridgov.db.health import DatabaseWatchdog, database_unavailable
from gridgov.incidents.escalation import EscalationRun, note_run
from gridgov.incidents.models import IncidentEvent
from gridgov.logs import formatter
from gridgov.supplies.models import SupplyEvent
from tests.conftest import TEST_SECRET, auth

# A socket folder where no server listens: connecting fails at once.
NOWHERE = "postgresql+psycopg://gridgov@/gridgov?host=/nonexistent-gridgov&port=5432"


@pytest.fixture
def app_client(database_url: str, demo_generation_id: int, tmp_path: Path) -> Iterator[TestClient]:
    """The app over the test database with its own sessions (no per-test transaction)."""
    settings = Settings(
        database_url=database_url,
        environment="test",
        escalation_interval=0,
        delivery_interval=0,
        db_watchdog_interval=0,
        data_dir=tmp_path / "var",
        secret_key=TEST_SECRET,  # the key tests.conftest.auth signs with
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_liveness_needs_no_database(app_client):
    app_client.app.state.sessions = make_session_factory(make_engine(NOWHERE))
    app_client.app.state.engine = make_engine(NOWHERE)
    r = app_client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_ready_when_database_schema_and_index_are(app_client):
    r = app_client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"database": "ok", "migrations": "ok", "grid_index": "ok"}


def test_not_ready_says_what_is_missing(app_client, engine: Engine):
    app_client.app.state.head_revision = "9999"
    r = app_client.get("/readyz")
    assert r.status_code == 503
    assert "migrations" in r.text and "9999" in r.text
    app_client.app.state.engine = make_engine(NOWHERE)
    r = app_client.get("/readyz", params={"lang": "en"})
    assert r.status_code == 503
    assert r.json()["checks"]["database"] == "database unreachable"


def test_database_away_is_a_503_problem_with_retry_after(app_client, session: Session):
    headers = {**auth(session, "gridhead"), "Accept-Language": "en"}
    app_client.app.state.sessions = make_session_factory(make_engine(NOWHERE))
    for path in ("/api/v1/health", "/api/v1/incidents"):
        r = app_client.get(path, headers=headers)
        assert r.status_code == 503, (path, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert int(r.headers["Retry-After"]) > 0
        body = r.json()
        assert body["status"] == 503
        assert body["code"] == "error.database_unavailable"
        assert "database" in body["detail"]


def test_only_unreachable_databases_count_as_unavailable(engine: Engine):
    with pytest.raises(IntegrityError) as refused, engine.begin() as conn:
        conn.execute(text("INSERT INTO incidents (id) VALUES (NULL)"))
    assert not database_unavailable(refused.value)
    with pytest.raises(Exception) as away:
        make_engine(NOWHERE).connect()
    assert database_unavailable(away.value)


def test_the_answer_waits_for_the_commit(app_client):
    # A commit that fails must not follow an answer that said "done": with FastAPI's default
    # dependency scope the session committed after the 200 was sent.
    @app_client.app.post("/test/deferred-failure")
    def deferred_failure(session: SessionDep) -> dict[str, str]:
        session.execute(
            text(
                "CREATE TEMP TABLE once (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)"
                " ON COMMIT DROP; INSERT INTO once VALUES (1), (1)"
            )
        )
        return {"status": "done"}

    r = app_client.post("/test/deferred-failure")
    assert r.status_code >= 500
    assert "done" not in r.text


def test_request_id_is_echoed_or_made(client):
    r = client.get("/healthz", headers={"X-Request-ID": "phone-7/000123"})
    assert r.headers["X-Request-ID"] == "phone-7/000123"
    for insane in ("two words", "x" * 65, "<script>"):
        r = client.get("/healthz", headers={"X-Request-ID": insane})
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-ID"]), insane
    made = {client.get("/healthz").headers["X-Request-ID"] for _ in range(2)}
    assert len(made) == 2


def test_audit_rows_carry_the_request_id(client, session: Session):
    r = client.post(
        "/api/v1/incidents",
        data={"lon": 109.1, "lat": 21.55, "category": "0102"},
        headers={**auth(session, "gridhead"), "X-Request-ID": "report-req-1"},
    )
    assert r.status_code == 201, r.text
    events = session.scalars(
        select(IncidentEvent).where(IncidentEvent.incident_id == r.json()["id"])
    ).all()
    assert [e.request_id for e in events] == ["report-req-1"] * len(events)
    assert events

    r = client.post(
        "/api/v1/supplies/reservations",
        json={
            "purpose": "drill",
            "lines": [{"stockpile": "SP0082", "item": "tent", "quantity": 1}],
        },
        headers={**auth(session, "emergency"), "X-Request-ID": "reserve-req-1"},
    )
    assert r.status_code in (200, 201), r.text
    made = session.scalars(
        select(SupplyEvent).where(SupplyEvent.reservation_id == r.json()["id"])
    ).all()
    assert [e.request_id for e in made] == ["reserve-req-1"]


def test_log_lines_are_json_with_the_request_id():
    line = formatter(json_lines=True)
    with request_context("req-42"):
        record = logging.LogRecord(
            "gridgov.test", logging.INFO, __file__, 1, "hello %s", ("市",), None
        )
        record.route = "/api/v1/incidents/{incident_id}"
        out = json.loads(line.format(record))
    assert out["request_id"] == "req-42"
    assert out["event"] == "hello 市"
    assert out["route"] == "/api/v1/incidents/{incident_id}"
    assert out["level"] == "info" and "timestamp" in out


def test_metrics_need_loopback_or_the_token(client, session: Session):
    assert client.get("/metrics").status_code == 403  # TestClient's address is no loopback
    settings = client.app.state.settings
    client.app.state.settings = settings.model_copy(update={"metrics_token": SecretStr("s3")})
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403

    reported = client.post(
        "/api/v1/incidents",
        data={"lon": 109.1, "lat": 21.55, "category": "0102"},
        headers=auth(session, "gridhead"),
    )
    incident_id = reported.json()["id"]
    client.get(f"/api/v1/incidents/{incident_id}", headers=auth(session, "gridhead"))
    r = client.get("/metrics", headers={"Authorization": "Bearer s3"})
    assert r.status_code == 200
    body = r.text
    # One series per route template, never per raw path.
    assert 'route="/api/v1/incidents/{incident_id}"' in body
    assert f"/api/v1/incidents/{incident_id}" not in body
    assert "gridgov_http_request_duration_seconds_bucket" in body
    assert 'gridgov_db_pool_connections{state="checked_out"}' in body
    assert "gridgov_readings_written_total" in body
    assert "gridgov_escalations_total" in body or "gridgov_escalations_created" in body


def test_metrics_list_incidents_by_status_and_the_webhook_backlog(app_client):
    r = app_client.get("/metrics", headers={"Authorization": "Bearer none"})
    assert r.status_code == 403
    app_client.app.state.settings = app_client.app.state.settings.model_copy(
        update={"metrics_token": SecretStr("t")}
    )
    body = app_client.get("/metrics", headers={"Authorization": "Bearer t"}).text
    assert 'gridgov_incidents{status="reported"}' in body
    assert 'gridgov_webhook_backlog{status="pending"}' in body


def test_metrics_open_to_loopback(live_server):
    r = httpx.get(f"{live_server}/metrics")
    assert r.status_code == 200
    assert "gridgov_http_request_duration_seconds" in r.text


def test_watchdog_on_an_external_server_only_reports(caplog):
    watchdog = DatabaseWatchdog(make_engine(NOWHERE), cluster=None, interval=1)
    with caplog.at_level(logging.ERROR, logger="gridgov.db.health"):
        assert watchdog.check() is False
        assert watchdog.check() is False
    assert watchdog.state.reachable is False
    assert watchdog.state.restarts == 0
    # A change is logged once, not at every tick.
    assert len([r for r in caplog.records if "does not answer" in r.getMessage()]) == 1


def test_ingest_and_escalation_counters_count(client, session: Session):
    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = value("gridgov_readings_written_total"), value("gridgov_positions_refused_total")
    r = client.post(
        "/api/v1/readings",
        json=[
            {"sensor": "SN0006", "metric": "methane", "time": "2026-11-02T00:00:00Z", "value": 1},
            {"sensor": "SN0006", "metric": "methane", "time": "2026-11-02T00:01:00Z", "value": 2},
        ],
        headers=auth(session, "operator"),
    )
    assert r.status_code == 200, r.text
    r = client.post(
        "/api/v1/positions",
        json=[{"tracker": "NO-SUCH-TRACKER", "time": "2026-11-02T00:00:00Z", "lon": 1, "lat": 2}],
        headers=auth(session, "operator"),
    )
    assert r.status_code == 200, r.text
    after = value("gridgov_readings_written_total"), value("gridgov_positions_refused_total")
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)

    escalated = value("gridgov_escalations_total", kind="escalated")
    note_run(EscalationRun(escalated=[1, 2], late_check_ins=[3]))
    assert value("gridgov_escalations_total", kind="escalated") == escalated + 2
