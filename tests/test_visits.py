"""Visit registration (调研报备): warnings at 30/31/35/36 units, quieter communities and
weeks for a red one, who may register, and who is coming."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text

from gridgov.boundaries.frames import read_level
from gridgov.boundaries.levels import Level
from gridgov.errors import FieldError
from gridgov.geo.measure import geodesic_distance_m
from gridgov.i18n import t
from gridgov.visits.load import Load, Thresholds, quieter_weeks
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
    # Each suggestion's load counts the unit asking, as the load of the red one does.
    assert metres == sorted(metres) and all(n == 1 for *_, n in load.quieter_communities)
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


def neighbours_by_distance(session, demo_generation, origin: str = QINGLIU) -> list[str]:
    communities = read_level(session, level=Level.COMMUNITY, generation_id=demo_generation.id)
    points = {
        c: g.representative_point()
        for c, g in zip(communities["code"], communities.geometry, strict=True)
    }
    here = points[origin]
    return [
        c
        for _, c in sorted(
            (geodesic_distance_m(p.x, p.y, here.x, here.y), c)
            for c, p in points.items()
            if c != origin
        )
    ]


def test_a_suggested_community_stays_green_with_the_unit_asking(session, demo_generation):
    # The nearest neighbour has 30 units: green now, yellow (31) once this unit goes there,
    # so it is no quieter choice; the second nearest, with 29, is (30 with this unit).
    first, second, third = neighbours_by_distance(session, demo_generation)[:3]
    for n in range(36):
        register(session, f"单位{n:02d}")
    for n in range(30):
        register(session, f"单位{n:02d}", community=first)
    for n in range(29):
        register(session, f"单位{n:02d}", community=second)
    load = loads_for(session, "新单位")
    assert load.level is Load.RED
    suggested = [(code, units) for code, _, _, units in load.quieter_communities]
    assert suggested[:2] == [(second, 30), (third, 1)]
    assert first not in [code for code, _ in suggested]


def test_a_unit_already_coming_to_a_neighbour_is_counted_there_once(session, demo_generation):
    first = neighbours_by_distance(session, demo_generation)[0]
    for n in range(36):
        register(session, f"单位{n:02d}")
    for n in range(30):  # the unit asking is one of the 30 already
        register(session, f"单位{n:02d}", community=first)
    [load] = check_visit(
        session, visit=visit("单位00"), thresholds=THRESHOLDS, today=TODAY
    )  # fmt: skip
    assert load.quieter_communities[0][0] == first and load.quieter_communities[0][3] == 30


def test_a_community_the_visit_goes_to_already_is_no_alternative(session, demo_generation):
    first, second, third, fourth = neighbours_by_distance(session, demo_generation)[:4]
    for n in range(36):
        register(session, f"单位{n:02d}")
    both = Visit(
        unit="新单位",
        purpose="走访",
        starts_on=date(2027, 1, 11),
        ends_on=date(2027, 1, 12),
        communities=[QINGLIU, first],
    )
    red, green = check_visit(session, visit=both, thresholds=THRESHOLDS, today=TODAY)
    assert (red.level, green.level) == (Load.RED, Load.GREEN)
    assert [code for code, *_ in red.quieter_communities] == [second, third, fourth]


def test_quieter_weeks_leave_out_weeks_already_over():
    busy = [("A", date(2027, 1, 25), date(2027, 1, 26))]
    weeks = quieter_weeks(busy, JANUARY, count=6, not_before=date(2027, 1, 20))
    assert weeks == [(date(2027, 1, 18), 0), (date(2027, 1, 25), 1)]


def test_a_red_community_in_the_current_month_suggests_no_past_week(session):
    for n in range(36):
        register(session, f"单位{n:02d}", start=date(2027, 1, 20), end=date(2027, 1, 21))
    mid_january = date(2027, 1, 19)
    [load] = check_visit(
        session,
        visit=visit("新单位", start=date(2027, 1, 20), end=date(2027, 1, 20)),
        thresholds=THRESHOLDS,
        today=mid_january,
    )
    assert load.level is Load.RED
    assert [monday for monday, _ in load.quieter_weeks] == [date(2027, 1, 25), date(2027, 1, 18)]


@pytest.mark.parametrize(
    "already,expected", [(9, Load.GREEN), (10, Load.YELLOW), (11, Load.YELLOW), (12, Load.RED)]
)
def test_the_thresholds_are_the_callers(session, already, expected):
    for n in range(already):
        register(session, f"单位{n:02d}")
    [load] = check_visit(
        session, visit=visit("新单位"), thresholds=Thresholds(10, 12), today=TODAY
    )  # fmt: skip
    assert load.level is expected


def test_a_grid_code_stands_for_its_community(session):
    registration, [load] = register_visit(
        session,
        visit=visit("单位", community="990105009003007"),  # 青柳社区第7网格
        registered_by=None,
        thresholds=THRESHOLDS,
        today=TODAY,
    )
    assert load.community == QINGLIU
    places = session.execute(
        text("SELECT community_code FROM visit_places WHERE registration_id = :id"),
        {"id": registration.id},
    ).scalars()
    assert list(places) == [QINGLIU]


def test_a_grid_and_its_community_make_one_place(session):
    [load] = check_visit(
        session,
        visit=Visit(
            unit="单位",
            purpose="走访",
            starts_on=date(2027, 1, 11),
            ends_on=date(2027, 1, 11),
            communities=[QINGLIU, "990105009003007"],
        ),
        thresholds=THRESHOLDS,
        today=TODAY,
    )
    assert load.community == QINGLIU


# -- the API at the boundaries, the map layer and who is coming --------------------------------


@pytest.mark.parametrize(
    "already,level", [(29, "green"), (30, "yellow"), (34, "yellow"), (35, "red")]
)
def test_api_check_at_the_boundaries(client, session, already, level):
    for n in range(already):
        register(session, f"单位{n:02d}")
    answer = client.post(
        "/api/v1/visits/check", json=body("新单位"), headers=auth(session, "operator")
    )
    [load] = answer.json()["loads"]
    assert (load["units"], load["level"]) == (already + 1, level)
    assert load["warning"] == t(f"visits.warning.{level}", "zh", name="青柳社区", units=already + 1)
    assert bool(load["quieter_communities"]) is (level == "red")
    assert bool(load["quieter_weeks"]) is (level == "red")


def test_api_register_into_a_red_community_is_warned_and_registered(client, session):
    for n in range(35):
        register(session, f"单位{n:02d}")
    made = client.post("/api/v1/visits", json=body(), headers=auth(session, "handler_dcg"))
    assert made.status_code == 201
    [load] = made.json()["loads"]
    assert load["level"] == "red" and len(load["quieter_communities"]) == 3
    first = load["quieter_communities"][0]
    assert set(first) == {"code", "name", "distance_m", "units"} and first["units"] == 1
    assert [set(w) for w in load["quieter_weeks"]] == [{"week_of", "units"}] * 3


@pytest.mark.parametrize(
    "already,level", [(30, "green"), (31, "yellow"), (35, "yellow"), (36, "red")]
)
def test_the_map_layer_colours_communities_by_units_in_the_month(client, session, already, level):
    for n in range(already):
        register(session, f"单位{n:02d}")
    register(session, "别处单位", community="990105009001")  # another community, one unit
    layer = client.get(
        "/api/v1/map/visits", params={"month": "2027-01"}, headers=auth(session, "gridhead")
    )
    assert layer.status_code == 200
    answer = layer.json()
    assert answer["month"] == "2027-01"
    assert answer["thresholds"] == {"yellow_above": 30, "red_above": 35}
    by_code = {f["properties"]["code"]: f["properties"] for f in answer["features"]}
    assert len(by_code) == 136
    assert (by_code[QINGLIU]["units"], by_code[QINGLIU]["level"]) == (already, level)
    assert by_code["990105009001"]["units"] == 1
    quiet = [p for c, p in by_code.items() if c not in (QINGLIU, "990105009001")]
    assert {(p["units"], p["level"]) for p in quiet} == {(0, "green")}
    february = client.get(
        "/api/v1/map/visits", params={"month": "2027-02"}, headers=auth(session, "gridhead")
    ).json()
    assert {f["properties"]["units"] for f in february["features"]} == {0}
    assert (
        client.get("/api/v1/visits/load?month=2027-01", headers=auth(session, "operator")).json()
        == answer
    )


def test_the_map_layer_thresholds_come_from_the_settings(client, session):
    state = client.app.state
    state.settings = state.settings.model_copy(
        update={"visit_yellow_above": 1, "visit_red_above": 2}
    )
    for n in range(2):
        register(session, f"单位{n:02d}")
    layer = client.get(
        "/api/v1/map/visits", params={"month": "2027-01"}, headers=auth(session, "operator")
    ).json()
    mine = next(f for f in layer["features"] if f["properties"]["code"] == QINGLIU)
    assert mine["properties"]["level"] == "yellow"
    assert layer["thresholds"] == {"yellow_above": 1, "red_above": 2}


@pytest.mark.parametrize("month", ["2027-13", "27-01", "2027-1", "0000-01", ""])
def test_the_map_layer_refuses_a_bad_month(client, session, month):
    answer = client.get(
        "/api/v1/map/visits", params={"month": month}, headers=auth(session, "operator")
    )
    assert answer.status_code == 422 and "month" in answer.text


def test_the_map_layer_needs_a_sign_in(client):
    assert client.get("/api/v1/map/visits?month=2027-01").status_code == 401


def registered_from(session, today: date, days: int, length: int, unit: str, place=QINGLIU):
    start = today + timedelta(days=days)
    return register_visit(
        session,
        visit=visit(unit, community=place, start=start, end=start + timedelta(days=length)),
        registered_by=None,
        thresholds=THRESHOLDS,
        today=start,  # registered back then, so one under way today can be planted
    )[0]


def test_the_community_sees_who_is_coming_in_the_coming_weeks(client, session):
    today = client.app.state.settings.today()
    registered_from(session, today, -5, 3, "已来过的单位")  # over before today
    registered_from(session, today, -2, 4, "正在走访的单位")  # under way
    registered_from(session, today, 30, 1, "下月单位")
    registered_from(session, today, 8 * 7 - 1, 0, "第八周末的单位")
    registered_from(session, today, 8 * 7, 0, "八周以后的单位")
    registered_from(session, today, 3, 0, "别的社区的单位", place="990105009001")
    # A grid head sees their grid's community, a community worker their community's.
    for username in ("gridhead", "handler_jw"):
        answer = client.get("/api/v1/visits/coming", headers=auth(session, username))
        assert answer.status_code == 200, answer.text
        coming = answer.json()
        assert (coming["community"], coming["name"]) == (QINGLIU, "青柳社区")
        assert (coming["from"], coming["weeks"]) == (today.isoformat(), 8)
        assert [v["unit"] for v in coming["visits"]] == [
            "正在走访的单位", "下月单位", "第八周末的单位"
        ]  # fmt: skip
        first = coming["visits"][0]
        assert set(first) >= {"unit", "purpose", "people", "starts_on", "ends_on"}
    other = client.get(
        "/api/v1/visits/coming",
        params={"community": "990105009001", "weeks": 1},
        headers=auth(session, "gridhead"),
    ).json()
    assert [v["unit"] for v in other["visits"]] == ["别的社区的单位"]


def test_who_is_coming_without_a_community_of_ones_own(client, session):
    answer = client.get("/api/v1/visits/coming", headers=auth(session, "operator"))
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["community"]
    unknown = client.get(
        "/api/v1/visits/coming",
        params={"community": "990105009"},
        headers=auth(session, "operator"),
    )
    assert unknown.status_code == 422 and "990105009" in unknown.text


def test_the_visits_page_is_chinese_by_default_and_english_on_request(client):
    zh = client.get("/visits")
    assert zh.status_code == 200 and '<html lang="zh-CN">' in zh.text
    assert t("web.visits.title", "zh") in zh.text and "/static/app/visits.js" in zh.text
    en = client.get("/visits?lang=en")
    assert t("web.visits.title", "en") in en.text and t("web.visits.title", "zh") not in en.text
