"""The HTTP API of the lookup, grids, areas and generations, on the demo city."""

from __future__ import annotations

import pytest

from gridgov.boundaries.generations import activate_generation, create_generation
from gridgov.geo.crs import from_wgs84
from gridgov.geo.measure import geodesic_distance_m
from tests import shapes
from tests.conftest import auth
from tests.test_import import import_tiny_city

INSIDE = (109.1, 21.55)


def test_locate_answers_grid_areas_and_grid_head(client):
    response = client.get("/api/v1/locate", params={"lon": INSIDE[0], "lat": INSIDE[1]})
    assert response.status_code == 200
    body = response.json()
    assert [a["level"] for a in body["areas"]] == ["city", "district", "street", "community"]
    assert body["areas"][0] == {"level": "city", "code": "990100", "name": "示范市"}
    assert body["grid"]["code"].startswith(body["areas"][-1]["code"])
    assert body["grid_head"]["name"] and body["grid_head"]["phone"].startswith("138")


def test_locate_converts_gcj02_and_bd09_input(client):
    plain = client.get("/api/v1/locate", params={"lon": INSIDE[0], "lat": INSIDE[1]}).json()
    for crs in ("gcj02", "bd09"):
        lon, lat = from_wgs84(*INSIDE, crs)
        body = client.get("/api/v1/locate", params={"lon": lon, "lat": lat, "crs": crs}).json()
        assert body["grid"]["code"] == plain["grid"]["code"]
        assert body["point"]["wgs84"] == pytest.approx(list(INSIDE), abs=1e-6)


def test_gcj02_coordinates_read_as_wgs84_land_hundreds_of_metres_away(client):
    lon, lat = from_wgs84(*INSIDE, "gcj02")
    as_gcj = client.get("/api/v1/locate", params={"lon": lon, "lat": lat, "crs": "gcj02"})
    as_wgs = client.get("/api/v1/locate", params={"lon": lon, "lat": lat})
    apart = geodesic_distance_m(*as_gcj.json()["point"]["wgs84"], *as_wgs.json()["point"]["wgs84"])
    assert 100 < apart < 1000


@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        ({"lon": 109.1, "lat": 91}, "lat", "90"),
        ({"lon": 181, "lat": 21.5}, "lon", "180"),
        ({"lon": -181, "lat": 21.5}, "lon", "-180"),
        ({"lat": 21.5}, "lon", "缺少"),
        ({"lon": "east", "lat": 21.5}, "lon", "数字"),
        ({"lon": 109.1, "lat": 21.5, "crs": "mars"}, "crs", "gcj02"),
    ],
)
def test_bad_input_is_422_naming_the_field(client, params, field, fragment):
    response = client.get("/api/v1/locate", params=params)
    assert response.status_code == 422
    body = response.json()
    assert [d["field"] for d in body["errors"]] == [field]
    assert fragment in body["errors"][0]["reason"]
    assert field in body["detail"]


def test_errors_speak_english_on_request(client):
    response = client.get(
        "/api/v1/locate", params={"lon": 109.1, "lat": 95}, headers={"Accept-Language": "en-GB"}
    )
    assert response.json()["errors"][0]["reason"] == "must be less than or equal to 90.0"


def test_point_outside_every_grid_is_404_with_the_distance(client):
    response = client.get("/api/v1/locate", params={"lon": 109.1, "lat": 21.0})
    assert response.status_code == 404
    body = response.json()
    assert body["distance_m"] > 30_000
    assert body["nearest_grid"]
    assert f"{body['distance_m']}" in body["detail"] and "不在任何网格内" in body["detail"]


def test_grid_and_area_features(client, session):
    client.headers.update(auth(session, "operator"))
    located = client.get("/api/v1/locate", params={"lon": INSIDE[0], "lat": INSIDE[1]}).json()
    grid = client.get(f"/api/v1/grids/{located['grid']['code']}").json()
    assert grid["type"] == "Feature" and grid["geometry"]["type"] == "MultiPolygon"
    assert grid["properties"]["areas"] == located["areas"]
    community_code = located["areas"][-1]["code"]
    community = client.get(f"/api/v1/areas/{community_code}").json()
    assert community["properties"]["level"] == "community"
    assert [p["level"] for p in community["properties"]["parents"]] == [
        "city",
        "district",
        "street",
    ]
    children = client.get(f"/api/v1/areas/{community_code}/children").json()
    assert located["grid"]["code"] in {f["id"] for f in children["features"]}
    districts = client.get("/api/v1/areas/990100/children").json()
    assert len(districts["features"]) == 4


def test_unknown_codes_are_404(client, session):
    client.headers.update(auth(session, "operator"))
    assert client.get("/api/v1/grids/nope").status_code == 404
    response = client.get("/api/v1/areas/nope", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert response.json()["detail"] == "Area nope does not exist"


def test_older_generations_stay_queryable(client, session, demo_generation):
    tiny = create_generation(session, name="tiny")
    import_tiny_city(session, generation_id=tiny.id)
    activate_generation(session, generation_id=tiny.id)
    point = {"lon": shapes.X0 + 0.005, "lat": shapes.Y0 + 0.005}
    assert client.get("/api/v1/locate", params=point).json()["grid"]["code"] == "G1"
    assert client.get("/api/v1/locate", params={"lon": 109.1, "lat": 21.55}).status_code == 404
    old = client.get(
        "/api/v1/locate", params={"lon": 109.1, "lat": 21.55, "generation": demo_generation.id}
    )
    assert old.status_code == 200
    listed = client.get("/api/v1/generations", headers=auth(session, "admin")).json()
    assert {g["id"]: g["active"] for g in listed}[tiny.id] is True
    # Grids, areas and children answer from the active generation, or the one asked for.
    headers, then = auth(session, "operator"), {"generation": demo_generation.id}
    for path in ("/api/v1/grids/990105009003007", "/api/v1/areas/990105009",
                 "/api/v1/areas/990105009/children"):  # fmt: skip
        assert client.get(path, headers=headers).status_code == 404, path
        assert client.get(path, params=then, headers=headers).status_code == 200, path
    assert client.get("/api/v1/grids/G1", headers=headers).status_code == 200
    assert client.get("/api/v1/grids/G1", params=then, headers=headers).status_code == 404
    children = client.get("/api/v1/areas/990105009/children", params=then, headers=headers)
    assert len(children.json()["features"]) > 1


def test_health_and_docs(client, demo_generation):
    assert client.get("/api/v1/health").json() == {
        "status": "ok",
        "active_generation": demo_generation.id,
    }
    assert client.get("/docs").status_code == 200
    assert "/api/v1/locate" in client.get("/openapi.json").json()["paths"]


def test_boundary_reads_need_a_token_but_locate_does_not(client):
    assert client.get("/api/v1/locate", params={"lon": 109.1, "lat": 21.55}).status_code == 200
    for path in ("/api/v1/grids/990105009003007", "/api/v1/areas/990100", "/api/v1/generations"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
