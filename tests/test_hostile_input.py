"""Inputs that once gave a 500 and dropped the connection: each is now a 4xx naming the field.

Ids beyond their column's integer type, NUL characters in any text, a box that is no number,
NaN coordinates, and readings bodies too deep, not UTF-8, with huge numbers or times at the
edge of the calendar; the same photo twice in one report.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import auth
from tests.photos import image_bytes

HERE = {"lon": 109.1, "lat": 21.55}  # inside the grid head's grid
SQUARE = [[109.10, 21.55], [109.11, 21.55], [109.11, 21.56], [109.10, 21.56], [109.10, 21.55]]


@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("GET", "/api/v1/incidents/9223372036854775808", "incident_id"),
        ("GET", "/api/v1/incidents/0", "incident_id"),
        ("POST", "/api/v1/notifications/9223372036854775808/read", "notification_id"),
        ("GET", "/api/v1/supplies/reservations/9223372036854775808", "reservation_id"),
        ("GET", "/api/v1/grids/0?generation=2147483648", "generation"),
        ("GET", "/api/v1/incidents?area=%00", "area"),
        ("GET", "/api/v1/incidents?category=01%0002", "category"),
        ("GET", "/api/v1/grids/99%0001", "code"),
        ("GET", "/api/v1/incidents?bbox=1,2,3,4..", "bbox"),
        ("GET", "/api/v1/incidents?bbox=109,21,108,22", "bbox"),
        ("GET", "/api/v1/map/grids?bbox=nan,1,2,3", "bbox"),
        ("GET", "/api/v1/visits?community=990105009003&month=0000-01", "month"),
        ("GET", "/api/v1/visits/load?month=9999-12", "month"),
    ],
)
def test_ids_and_text_out_of_range_are_422_naming_the_field(client, session, method, url, field):
    response = client.request(method, url, headers=auth(session, "admin"))
    assert response.status_code == 422, response.text
    assert field in response.text


def test_a_webhook_id_beyond_its_integer_column(client, session):
    response = client.patch(
        "/api/v1/webhooks/2147483648", json={"is_active": False}, headers=auth(session, "admin")
    )
    assert response.status_code == 422, response.text
    assert "webhook_id" in response.text


@pytest.mark.parametrize("field", ["description", "category", "idempotency_key"])
def test_a_nul_in_a_form_field_is_422_naming_it(client, session, field):
    data = {**HERE, "category": "0102", "description": "门口垃圾", field: "a\x00b"}
    response = client.post("/api/v1/incidents", data=data, headers=auth(session, "gridhead"))
    assert response.status_code == 422, response.text
    assert field in response.text


def test_a_nul_in_a_json_body_is_422_naming_the_nested_field(client, session):
    headers = auth(session, "operator")
    tracker = client.post("/api/v1/trackers", json={"code": "T\x00-1"}, headers=headers)
    assert tracker.status_code == 422, tracker.text
    assert "code" in tracker.text
    whistle = client.post(
        "/api/v1/incidents/1/whistle", json={"department_codes": ["ok", "J\x00W"]}, headers=headers
    )
    assert whistle.status_code == 422, whistle.text
    assert "department_codes.1" in whistle.text


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_a_fence_coordinate_that_is_not_finite_is_422(client, session, number):
    ring = json.dumps(SQUARE).replace("109.11", number, 1)
    body = (
        '{"code": "F-NAN", "name": "nan", "rule": "watch",'
        f' "geometry": {{"type": "Polygon", "coordinates": [{ring}]}}}}'
    )
    response = client.post(
        "/api/v1/fences",
        content=body,
        headers={**auth(session, "operator"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert "geometry.coordinates.0" in response.text


def _readings(client, session, body: bytes, kind: str = "application/json"):
    headers = {**auth(session, "operator"), "Content-Type": kind}
    return client.post("/api/v1/readings", content=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "kind", "word"),
    [
        (b"[" * 100_000, "application/json", "body"),
        # The streaming JSON parser stops at the first bad byte and names the body.
        (b'[{"sensor": "SN0006", "metric": "\xff\xfe"}]', "application/json", "body"),
        (b'{"sensor": "SN0006"}\n{"metric": "\xff"}\n', "application/x-ndjson", "UTF-8"),
        (b"sensor,metric\nSN0006,\xff\n", "text/csv", "UTF-8"),
        (b'[{"sensor": "SN0006", "value": ' + b"9" * 5000 + b"}]", "application/json", "body"),
        (b'[{"sensor": "SN0006", "value": NaN}]', "application/json", "body"),
        (b'[{"sensor": "SN\\u00000006"}]', "application/json", "body.0.sensor"),
        (b'{"sensor": "SN\\u00000006"}\n', "application/x-ndjson", "body.0.sensor"),
    ],
)
def test_readings_that_cannot_be_parsed_are_422(client, session, body, kind, word):
    response = _readings(client, session, body, kind)
    assert response.status_code == 422, response.text
    assert word.lower() in response.text.lower()


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"time": "0001-01-01T00:00:00Z", "value": 1}, "time"),
        ({"time": "9999-12-31T23:59:59+08:00", "value": 1}, "time"),
        ({"time": "2026-11-22T08:00:00Z", "value": 10**400}, "body"),  # beyond the parser
    ],
)
def test_readings_at_the_edge_of_the_calendar_or_of_float(client, session, row, field):
    body = json.dumps([{"sensor": "SN0006", "metric": "methane", **row}]).encode()
    response = _readings(client, session, body)
    assert response.status_code == 422, response.text
    assert field in response.text


def test_the_same_photo_twice_in_one_report_is_kept_once(client, session):
    photo = image_bytes()
    response = client.post(
        "/api/v1/incidents",
        data={**HERE, "category": "0102"},
        files=[
            ("photos", ("a.jpg", photo, "image/jpeg")),
            ("photos", ("b.jpg", photo, "image/jpeg")),
        ],
        headers=auth(session, "gridhead"),
    )
    assert response.status_code == 201, response.text
    assert len(response.json()["photos"]) == 1
