"""Visit registration (调研报备): warnings at 30/31/35/36 units, quieter communities and
weeks for a red one, who may register, and who is coming."""

from __future__ import annotations

from datetime import date

import pytest

from gridgov.boundaries.frames import read_level
from gridgov.boundaries.levels import Level
from gridgov.errors import FieldError
from gridgov.geo.measure import geodesic_distance_m
from gridgov.visits.load import Load, Thresholds
from gridgov.visits.service import Visit, check_visit, register_visit
from tests.conftest import auth

TODAY = date(2026, 12, 5)
JANUARY = date(2027, 1, 1)
QINGLIU = "990105009003"  # 青柳社区
THRESHOLDS = Thresholds(yellow_above=30, red_above=35)


def visit(unit: str, community: str = QINGLIU, start=date(2027, 1, 11), end=date(2027, 1, 12)):
    return Visit(
        unit=unit, purpose="安全检查", starts_on=start, ends_on=end, communities=[community]
    )


def register(session, unit: str, **kw) -> None:
    register_visit(
        session, visit=visit(unit, **kw), registered_by=None, thresholds=THRESHOLDS, today=TODAY
    )


def loads_for(session, unit: str, community: str = QINGLIU):
    [load] = check_visit(session, visit=visit(unit, community), thresholds=THRESHOLDS, today=TODAY)
    return load


@pytest.mark.parametrize(
    "already,expected", [(29, Load.GREEN), (30, Load.YELLOW), (34, Load.YELLOW), (35, Load.RED)]
)
def test_the_warning_counts_distinct_units_with_the_new_one(session, already, expected):
    # With the unit asking, 30 units is green, 31 yellow, 35 yellow, 36 red.
    for n in range(already):
        register(session, f"单位{n:02d}")
    register(session, "单位00", start=date(2027, 1, 20), end=date(2027, 1, 20))  # counted once
    load = loads_for(session, "新单位")
    assert (load.units, load.level) == (already + 1, expected)
    assert (load.quieter_communities != []) is (expected is Load.RED)


def test_a_red_community_is_shown_the_nearest_green_ones_and_quieter_weeks(
    session, demo_generation
):
    communities = read_level(session, level=Level.COMMUNITY, generation_id=demo_generation.id)
    points = {
        c: g.representative_point()
        for c, g in zip(communities["code"], communities.geometry, strict=True)
    }
    here = points[QINGLIU]
    by_distance = sorted(
        (geodesic_distance_m(p.x, p.y, here.x, here.y), c)
        for c, p in points.items()
        if c != QINGLIU
    )
    nearest = by_distance[0][1]
    for n in range(36):  # Qingliu is red, and so is its nearest neighbour
        register(
            session, f"单位{n:02d}", start=date(2027, 1, 4 + n % 3), end=date(2027, 1, 5 + n % 3)
        )
        register(session, f"单位{n:02d}", community=nearest)
    load = loads_for(session, "新单位")
    assert load.level is Load.RED
    suggested = [code for code, _, _, _ in load.quieter_communities]
    assert suggested == [c for _, c in by_distance[1:4]]  # the busy nearest one is left out
    metres = [m for _, _, m, _ in load.quieter_communities]
    assert metres == sorted(metres) and all(n == 0 for *_, n in load.quieter_communities)
    # All 36 came in the week of 4 January; the other weeks touching January had no one
    # (the week of 28 December holds 1-3 January).
    weeks = [monday for monday, _ in load.quieter_weeks]
    assert weeks == [date(2026, 12, 28), date(2027, 1, 11), date(2027, 1, 18)]
    assert all(units == 0 for _, units in load.quieter_weeks)


@pytest.mark.parametrize(
    "change,field",
    [
        ({"start": date(2026, 12, 1), "end": date(2026, 12, 6)}, "starts_on"),
        ({"start": date(2027, 1, 12), "end": date(2027, 1, 11)}, "ends_on"),
        ({"start": date(2027, 1, 1), "end": date(2027, 2, 15)}, "ends_on"),
        ({"community": "990105009"}, "communities"),  # a street, not a community
    ],
)
def test_bad_registrations_name_the_field(session, change, field):
    with pytest.raises(FieldError) as refused:
        check_visit(session, visit=visit("单位", **change), thresholds=THRESHOLDS, today=TODAY)
    assert refused.value.field == field


def body(unit="区市场监管局", **kw):
    return {
        "unit": unit,
        "purpose": "食品安全检查",
        "starts_on": "2027-01-11",
        "ends_on": "2027-01-12",
        "communities": [QINGLIU],
        "people": ["张三", "李四"],
        **kw,
    }


def test_api_register_see_who_is_coming_and_the_map_layer(client, session):
    made = client.post("/api/v1/visits", json=body(), headers=auth(session, "handler_dcg"))
    assert made.status_code == 201, made.text
    [load] = made.json()["loads"]
    assert (load["community"], load["month"], load["units"], load["level"]) == (
        QINGLIU, "2027-01", 1, "green"
    )  # fmt: skip
    coming = client.get(
        "/api/v1/visits",
        params={"community": QINGLIU, "month": "2027-01"},
        headers=auth(session, "gridhead"),
    ).json()
    assert [(v["unit"], v["people"]) for v in coming] == [("区市场监管局", ["张三", "李四"])]
    layer = client.get(
        "/api/v1/visits/load", params={"month": "2027-01"}, headers=auth(session, "operator")
    ).json()
    mine = next(f for f in layer["features"] if f["properties"]["code"] == QINGLIU)
    assert mine["properties"]["units"] == 1 and mine["geometry"]["type"] in (
        "Polygon",
        "MultiPolygon",
    )
    assert len(layer["features"]) == 136


def test_api_check_registers_nothing_and_grid_heads_cannot_register(client, session):
    checked = client.post("/api/v1/visits/check", json=body(), headers=auth(session, "operator"))
    assert checked.status_code == 200 and checked.json()["loads"][0]["units"] == 1
    coming = client.get(
        "/api/v1/visits",
        params={"community": QINGLIU, "month": "2027-01"},
        headers=auth(session, "operator"),
    )
    assert coming.json() == []
    refused = client.post("/api/v1/visits", json=body(), headers=auth(session, "gridhead"))
    assert refused.status_code == 403


def test_api_refuses_a_visit_already_past(client, session):
    answer = client.post(
        "/api/v1/visits", json=body(starts_on="2020-01-01", ends_on="2020-01-02"),
        headers=auth(session, "operator"),
    )  # fmt: skip
    assert answer.status_code == 422 and "starts_on" in answer.text
