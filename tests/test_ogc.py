"""OGC API - Features over the demo city: documents, paging, filters, scopes, and a real client.

Expected features are read from the demo city's own GeoJSON files with shapely, not from the
code under test.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from owslib.ogcapi.features import Features
from shapely.geometry import box, shape

from tests.conftest import auth

DEMO = Path(__file__).resolve().parents[1] / "geodata" / "demo_city"
HERE = {"lon": 109.1, "lat": 21.55}  # 青柳社区第7网格 990105009003007, district 990105


def demo_features(level: str) -> list[dict]:
    return json.loads((DEMO / f"{level}.geojson").read_text(encoding="utf-8"))["features"]


def report_at(client, session, lon: float, lat: float, user: str = "admin") -> int:
    answer = client.post(
        "/api/v1/incidents",
        data={"lon": lon, "lat": lat, "category": "0102"},
        headers=auth(session, user),
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_landing_page_and_conformance_are_public_and_linked(client):
    landing = client.get("/ogc")
    assert landing.status_code == 200
    rels = {link["rel"]: link["href"] for link in landing.json()["links"]}
    assert rels["conformance"].endswith("/ogc/conformance")
    assert rels["data"].endswith("/ogc/collections")
    assert rels["service-desc"].endswith("/openapi.json")
    assert landing.json()["title"] == "gridgov 全市一张图"
    assert client.get("/ogc?lang=en").json()["title"].startswith("gridgov: one map")
    classes = client.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in classes


def test_collections_need_a_token_and_follow_the_role(client, session):
    assert client.get("/ogc/collections").status_code == 401
    names = {
        user: {
            c["id"]
            for c in client.get("/ogc/collections", headers=auth(session, user)).json()[
                "collections"
            ]
        }
        for user in ("admin", "gridhead", "emergency")
    }
    everything = {
        "districts",
        "streets",
        "communities",
        "grids",
        "incidents",
        "stockpiles",
        "sensors",
        "fences",
    }
    assert names["admin"] == everything
    # A grid head neither searches stockpiles nor manages sensors and fences.
    assert names["gridhead"] == everything - {"stockpiles", "sensors", "fences"}
    assert names["emergency"] == everything - {"sensors", "fences"}
    answer = client.get("/ogc/collections/sensors/items", headers=auth(session, "gridhead"))
    assert answer.status_code == 403 and "sensors" in answer.text


def test_districts_page_through_with_next_links(client, session):
    expected = sorted(f["properties"]["code"] for f in demo_features("districts"))
    assert len(expected) == 4
    headers = auth(session, "gridhead")
    first = client.get("/ogc/collections/districts/items?limit=3", headers=headers)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("application/geo+json")
    page = first.json()
    assert (page["numberMatched"], page["numberReturned"]) == (4, 3)
    assert [f["id"] for f in page["features"]] == expected[:3]
    following = next(link["href"] for link in page["links"] if link["rel"] == "next")
    assert parse_qs(urlparse(following).query) == {"limit": ["3"], "offset": ["3"]}
    last = client.get(following, headers=headers).json()
    assert [f["id"] for f in last["features"]] == expected[3:]
    assert all(link["rel"] != "next" for link in last["links"])


def test_grids_in_a_box_match_the_demo_file(client, session):
    west, south, east, north = 109.08, 21.53, 109.12, 21.57
    window = box(west, south, east, north)
    expected = sorted(
        f["properties"]["code"]
        for f in demo_features("grids")
        if shape(f["geometry"]).intersects(window)
    )
    assert 5 < len(expected) < 200
    answer = client.get(
        f"/ogc/collections/grids/items?bbox={west},{south},{east},{north}&limit=1000",
        headers=auth(session, "gridhead"),
    ).json()
    assert answer["numberMatched"] == len(expected)
    assert [f["id"] for f in answer["features"]] == expected
    one = answer["features"][0]
    assert one["geometry"]["type"] == "MultiPolygon"
    assert set(one["properties"]) == {"code", "name", "grid_head", "households", "population"}


def test_incidents_keep_the_callers_scope_and_filter_by_time(client, session):
    other = shape(
        next(f for f in demo_features("districts") if f["properties"]["code"] == "990102")[
            "geometry"
        ]
    )
    inside_other = other.representative_point()
    ours = report_at(client, session, HERE["lon"], HERE["lat"])
    theirs = report_at(client, session, inside_other.x, inside_other.y)

    def ids(user: str, query: str = "") -> set[int]:
        answer = client.get(
            f"/ogc/collections/incidents/items?limit=10000{query}", headers=auth(session, user)
        )
        assert answer.status_code == 200, answer.text
        return {f["id"] for f in answer.json()["features"]}

    assert {ours, theirs} <= ids("operator")  # the city's operator
    assert ours in ids("operator_nw") and theirs not in ids("operator_nw")  # 南湾区 only
    assert ours in ids("gridhead") and theirs not in ids("gridhead")  # the grid head's grid
    assert not {ours, theirs} & ids(
        "operator", "&datetime=2000-01-01T00:00:00Z/2000-12-31T00:00:00Z"
    )
    assert {ours, theirs} <= ids("operator", "&datetime=2000-01-01T00:00:00Z/..")

    single = client.get(
        f"/ogc/collections/incidents/items/{theirs}", headers=auth(session, "operator")
    )
    assert single.status_code == 200 and single.json()["properties"]["district"] == "990102"
    hidden = client.get(
        f"/ogc/collections/incidents/items/{theirs}", headers=auth(session, "operator_nw")
    )
    assert hidden.status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?colour=red", "colour"),
        ("?limit=0", "limit"),
        ("?limit=10001", "limit"),
        ("?offset=-1", "offset"),
        ("?limit=abc", "limit"),
        ("?bbox=1,2,3", "bbox"),
        ("?datetime=yesterday", "datetime"),
        ("?datetime=2026-01-01T00:00:00", "datetime"),  # no offset: which zone?
        ("?datetime=2026-02-01T00:00:00Z/2026-01-01T00:00:00Z", "datetime"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(client, session, query, field):
    answer = client.get(f"/ogc/collections/grids/items{query}", headers=auth(session, "gridhead"))
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["field"] == field


def test_unknown_collections_and_features_are_404(client, session):
    headers = auth(session, "admin")
    assert client.get("/ogc/collections/rivers", headers=headers).status_code == 404
    assert client.get("/ogc/collections/grids/items/nope", headers=headers).status_code == 404
    assert (
        client.get(
            "/ogc/collections/incidents/items/99999999999999999999", headers=headers
        ).status_code
        == 404
    )
    grid = client.get("/ogc/collections/grids/items/990105009003007", headers=headers).json()
    assert grid["properties"]["name"] == "青柳社区第7网格"


def test_owslib_reads_the_collections_over_http(live_server, committed):
    with committed() as session:
        headers = auth(session, "gridhead")
    service = Features(live_server + "/ogc", headers=headers)
    assert "districts" in {c["id"] for c in service.collections()["collections"]}
    districts = service.collection_items("districts", limit=10)
    assert sorted(f["id"] for f in districts["features"]) == sorted(
        f["properties"]["code"] for f in demo_features("districts")
    )
