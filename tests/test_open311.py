"""Open311 GeoReport v2 over the demo city: services, posting a request, reading requests."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from shapely.geometry import shape

from gridgov.incidents.open311 import open_or_closed
from tests.conftest import auth, token_for

GEODATA = Path(__file__).resolve().parents[1] / "geodata"
HERE = {"lat": 21.55, "long": 109.1}  # 青柳社区第7网格 990105009003007, 南湾区 990105
BASE = "/open311/v2"


def post(client, data, headers=None):
    return client.post(f"{BASE}/requests.json", data=data, headers=headers or {})


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("reported", "open"),
        ("dispatched", "open"),
        ("accepted", "open"),
        ("rejected", "open"),
        ("resolved", "open"),  # not confirmed yet
        ("closed", "closed"),
    ],
)
def test_two_statuses(status, expected):
    assert open_or_closed(status) == expected


def test_discovery_and_services_are_public(client):
    found = client.get(f"{BASE}/discovery.json").json()
    assert found["endpoints"][0]["url"].endswith("/open311/v2")
    with (GEODATA / "categories.csv").open(encoding="utf-8") as f:
        subclasses = sorted(
            (row["code"], row["name_zh"]) for row in csv.DictReader(f) if row["parent_code"]
        )
    listed = client.get(f"{BASE}/services.json").json()
    assert [(s["service_code"], s["service_name"]) for s in listed] == subclasses
    rubbish = next(s for s in listed if s["service_code"] == "0102")
    assert rubbish["group"] == "市容环境" and rubbish["metadata"] is False
    english = client.get(f"{BASE}/services.json?lang=en").json()
    assert next(s for s in english if s["service_code"] == "0102")["service_name"] == (
        "Exposed rubbish"
    )


def test_a_request_posted_with_api_key_is_located_and_routed(client, session):
    token = token_for(session, "gridhead")
    answer = post(
        client,
        {**HERE, "service_code": "0102", "description": "路口垃圾", "api_key": token},
    )
    assert answer.status_code == 201, answer.text
    [made] = answer.json()
    assert set(made) == {"service_request_id", "service_notice", "account_id"}
    detail = client.get(
        f"/api/v1/incidents/{made['service_request_id']}", headers=auth(session, "gridhead")
    ).json()
    assert detail["grid"] == "990105009003007"
    assert detail["department"]["code"] == "990105009003-JW"
    assert detail["source"] == "open311"

    [read] = client.get(
        f"{BASE}/requests/{made['service_request_id']}.json", headers=auth(session, "gridhead")
    ).json()
    assert read["status"] == "open" and read["status_notes"] == "dispatched"
    assert read["service_code"] == "0102" and read["service_name"] == "暴露垃圾"
    assert read["agency_responsible"] == "青柳社区居民委员会"
    assert (read["lat"], read["long"]) == pytest.approx((21.55, 109.1))
    assert read["expected_datetime"] > read["requested_datetime"]


def test_the_same_device_report_twice_is_one_request(client, session):
    data = {**HERE, "service_code": "0102", "device_id": "phone-42"}
    first = post(client, data, auth(session, "gridhead")).json()[0]["service_request_id"]
    again = post(client, data, auth(session, "gridhead")).json()[0]["service_request_id"]
    assert first == again


@pytest.mark.parametrize(
    ("data", "status", "field"),
    [
        ({"lat": 21.55, "service_code": "0102"}, 422, "long"),
        ({"address_string": "青柳路1号", "service_code": "0102"}, 422, "lat"),
        ({**HERE, "service_code": "9999"}, 422, "service_code"),
        ({**HERE}, 422, "service_code"),
    ],
)
def test_bad_requests_name_the_field(client, session, data, status, field):
    answer = post(client, data, auth(session, "gridhead"))
    assert answer.status_code == status, answer.text
    assert field in [e["field"] for e in answer.json()["errors"]]


def test_posting_needs_a_valid_key(client):
    assert post(client, {**HERE, "service_code": "0102"}).status_code == 401
    refused = post(client, {**HERE, "service_code": "0102", "api_key": "not-a-token"})
    assert refused.status_code == 401


def test_requests_keep_the_callers_scope(client, session):
    districts = json.loads((GEODATA / "demo_city" / "districts.geojson").read_text("utf-8"))
    other = next(f for f in districts["features"] if f["properties"]["code"] == "990102")
    point = shape(other["geometry"]).representative_point()
    admin = auth(session, "admin")
    ours = post(client, {**HERE, "service_code": "0102"}, admin).json()[0]["service_request_id"]
    theirs = post(client, {"lat": point.y, "long": point.x, "service_code": "0102"}, admin).json()[
        0
    ]["service_request_id"]

    def ids(user: str, query: str = "") -> set[str]:
        answer = client.get(f"{BASE}/requests.json{query}", headers=auth(session, user))
        assert answer.status_code == 200, answer.text
        return {r["service_request_id"] for r in answer.json()}

    assert {ours, theirs} <= ids("operator")
    assert ours in ids("operator_nw") and theirs not in ids("operator_nw")
    assert ids("operator", f"?service_request_id={ours},{theirs}") == {ours, theirs}
    assert not {ours, theirs} & ids("operator", "?status=closed")
    assert {ours, theirs} <= ids("operator", "?status=open&service_code=0102")
    assert not {ours, theirs} & ids("operator", "?service_code=0101")
    hidden = client.get(f"{BASE}/requests/{theirs}.json", headers=auth(session, "operator_nw"))
    assert hidden.status_code == 404
    bad = client.get(f"{BASE}/requests.json?service_request_id=1,x", headers=auth(session, "admin"))
    assert bad.status_code == 422 and "service_request_id" in bad.text
    assert client.get(f"{BASE}/requests.json").status_code == 401
