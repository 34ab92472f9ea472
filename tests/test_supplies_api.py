"""The supplies API: search, bad input, reservations (201/409), coverage."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from gridgov.config import Settings
from gridgov.supplies.roads import replace_roads
from tests.conftest import auth
from tests.supplies import ORIGIN, hand_made

HERE = {"lon": ORIGIN[0], "lat": ORIGIN[1]}
TODAY = date(2026, 11, 22)  # the hand-made stock expires in 2020 and 2030


class CityCalendar(Settings):
    """The service's settings with the city's calendar set by the test, not by the clock."""

    day: date = TODAY

    def today(self) -> date:
        return self.day


@pytest.fixture(autouse=True)
def calendar(client) -> CityCalendar:
    """Every request of these tests runs on ``calendar.day`` (TODAY unless a test moves it)."""
    settings = CityCalendar(**client.app.state.settings.model_dump())
    client.app.state.settings = settings
    return settings


def nearest(client, session, user="emergency", **params):
    return client.get(
        "/api/v1/supplies/nearest", params={**HERE, **params}, headers=auth(session, user)
    )


def test_single_item_search(client, session):
    hand_made(session)
    response = nearest(client, session, item="test_tent", quantity=100)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["distance"] == "straight" and body["note"] is None
    assert [s["code"] for s in body["nearest"]] == ["T-A", "T-B", "T-C", "T-D"]
    assert [s["running_total"]["test_tent"] for s in body["nearest"]] == [30, 70, 570, 580]
    assert body["covered_at"] == {"test_tent": 2}
    first = body["nearest"][0]
    assert first["contact"]["phone"] and first["opening_hours"] == "24小时"
    assert body["plan"]["covered"] is True


def test_covered_at_points_into_the_list_as_answered(client, session):
    hand_made(session)
    body = nearest(client, session, item="test_tent", quantity=100, limit=2).json()
    assert [s["code"] for s in body["nearest"]] == ["T-A", "T-B"]
    # 70 tents in the two shown: not covered within the list; the plan still covers it.
    assert body["covered_at"] == {"test_tent": None}
    assert body["plan"]["covered"] is True
    body = nearest(client, session, item="test_tent", quantity=60, limit=2).json()
    assert body["covered_at"] == {"test_tent": 1}


def test_a_kind_of_the_citys_own_shows_as_written(client, session):
    hand_made(session)
    session.execute(text("UPDATE stockpiles SET kind = 'firehouse' WHERE code = 'T-A'"))
    body = nearest(client, session, item="test_tent", quantity=10, lang="en").json()
    first = body["nearest"][0]
    assert (first["code"], first["kind"], first["kind_label"]) == ("T-A", "firehouse", "firehouse")
    labels = {s["kind_label"] for s in body["nearest"][1:]}
    assert not any(label.startswith("stockpile_kind.") for label in labels)


def test_multi_item_plan_and_shortfall(client, session):
    hand_made(session)
    body = nearest(client, session, item=["test_tent:100", "test_water:5000"], max_km=10).json()
    assert body["plan"]["shortfall"] == {"test_water": 4000}
    assert {s["code"] for s in body["plan"]["stockpiles"]} == {"T-C", "T-D"}


def test_road_requested_without_a_network_says_it_fell_back(client, session):
    hand_made(session)
    replace_roads(session, lines=[])
    body = nearest(client, session, item="test_tent:10", by="road").json()
    assert body["distance"] == "straight"
    assert "路网" in body["note"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"item": "unicorn:5"}, "item"),
        ({"item": "test_tent:0"}, "quantity"),
        ({"item": "test_tent", "quantity": -5}, "quantity"),
        ({"item": "test_tent"}, "quantity"),
        ({"item": "test_tent:5", "limit": 51}, "limit"),
        ({"item": "test_tent:5", "lat": 21.0}, "position"),
        ({"item": "test_tent:5", "lat": 95}, "lat"),
        ({"item": "test_tent:5", "max_km": 500}, "max_km"),
        ({}, "item"),
    ],
)
def test_bad_input_is_422_naming_the_field(client, session, params, field):
    hand_made(session)
    response = nearest(client, session, **params)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


def test_grid_heads_cannot_search_supplies(client, session):
    assert nearest(client, session, user="gridhead", item="tent:5").status_code == 403


def test_reserve_409_then_201_then_release_and_fulfil(client, session):
    hand_made(session)
    headers = auth(session, "emergency")
    too_much = {
        "lines": [
            {"stockpile": "T-C", "item": "test_tent", "quantity": 100},
            {"stockpile": "T-A", "item": "test_tent", "quantity": 31},
        ],
        "purpose": "森林火灾安置",
    }
    refused = client.post("/api/v1/supplies/reservations", json=too_much, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["shortages"] == [
        {"stockpile": "T-A", "item": "test_tent", "requested": 31, "available": 30}
    ]
    stock = client.get("/api/v1/supplies/stockpiles/T-C", headers=headers).json()["stock"]
    assert stock[0]["reserved"] == 0  # nothing reserved by the refused request
    too_much["lines"][1]["quantity"] = 30
    made = client.post("/api/v1/supplies/reservations", json=too_much, headers=headers)
    assert made.status_code == 201
    body = made.json()
    assert body["status"] == "reserved" and body["status_label"] == "已预留"
    assert {(line["stockpile"], line["quantity"]) for line in body["lines"]} == {
        ("T-C", 100),
        ("T-A", 30),
    }
    rid = body["id"]
    released = client.post(f"/api/v1/supplies/reservations/{rid}/release", headers=headers).json()
    assert released["status"] == "released"
    again = client.post(f"/api/v1/supplies/reservations/{rid}/fulfil", headers=headers)
    assert again.status_code == 409
    assert [
        h["action"]
        for h in client.get(f"/api/v1/supplies/reservations/{rid}", headers=headers).json()[
            "history"
        ]
    ] == ["reserve", "release"]
    assert client.get("/api/v1/supplies/reservations/999999", headers=headers).status_code == 404


def test_reservation_input_is_checked(client, session):
    hand_made(session)
    headers = auth(session, "emergency")
    for lines, field in (
        ([{"stockpile": "T-C", "item": "test_tent", "quantity": 0}], "lines.0.quantity"),
        ([{"stockpile": "nowhere", "item": "test_tent", "quantity": 1}], "lines[0].stockpile"),
        ([{"stockpile": "T-C", "item": "unicorn", "quantity": 1}], "lines.item"),
        ([], "lines"),
    ):
        response = client.post(
            "/api/v1/supplies/reservations", json={"lines": lines}, headers=headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field
    assert client.post("/api/v1/supplies/reservations", json={"lines": [
        {"stockpile": "T-C", "item": "test_tent", "quantity": 1}]},
        headers=auth(session, "handler_jw")).status_code == 403  # fmt: skip


def test_coverage_table_and_geojson(client, session):
    hand_made(session)
    headers = auth(session, "operator")
    params = {"area": "990105", "item": ["tent", "rubber_boat"], "radius_km": 3}
    table = client.get("/api/v1/supplies/coverage", params=params, headers=headers).json()
    assert table["in_area"]["tent"]["available"] > 0
    assert table["communities"], "南湾区 has communities"
    assert all(c["code"].startswith("990105") for c in table["communities"])
    assert all(set(c["within_radius"]) == {"tent", "rubber_boat"} for c in table["communities"])
    geo = client.get(
        "/api/v1/supplies/coverage", params={**params, "format": "geojson"}, headers=headers
    ).json()
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == len(table["communities"])
    bad = client.get(
        "/api/v1/supplies/coverage", params={**params, "area": "nowhere"}, headers=headers
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "area"


def test_stock_expires_by_the_citys_calendar(client, session, calendar):
    # T-B's 40 good tents expire on 1 January 2030: usable that day, gone the day after.
    hand_made(session)
    calendar.day = date(2030, 1, 1)
    body = nearest(client, session, item="test_tent", quantity=100).json()
    assert [s["code"] for s in body["nearest"]] == ["T-A", "T-B", "T-C", "T-D"]
    calendar.day = date(2030, 1, 2)
    body = nearest(client, session, item="test_tent", quantity=100).json()
    assert [s["code"] for s in body["nearest"]] == ["T-A", "T-C", "T-D"]
    assert [s["running_total"]["test_tent"] for s in body["nearest"]] == [30, 530, 540]
    headers = auth(session, "emergency")
    line = {"stockpile": "T-B", "item": "test_tent", "quantity": 1}
    refused = client.post("/api/v1/supplies/reservations", json={"lines": [line]}, headers=headers)
    assert refused.status_code == 409
