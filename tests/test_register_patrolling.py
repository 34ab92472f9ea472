"""Patrols that record themselves, with a database: a grid head's patrol phone posts its
positions through the positions API, the houses it passed are stored; a month's coverage per
grid (houses passed or visited at the door, red households not seen), checked by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.errors import FieldError, OutOfScope
from gridgov.register.coverage import coverage
from gridgov.register.models import (
    House,
    Household,
    HouseholdVisit,
    PatrolPass,
    PatrolPosition,
)
from gridgov.register.patrolling import forget_old_patrols
from gridgov.register.reading import reader_of
from tests.conftest import auth
from tests.register_files import HEAD_GRID, REGISTER_SECRET
from tests.test_register_reading import user
from tests.test_register_tiering import TZ, tiered  # noqa: F401  (the fixture)

LOCAL = ZoneInfo(TZ)
START = datetime(2026, 12, 3, 9, 0, tzinfo=LOCAL)
DECEMBER = date(2026, 12, 1)


@pytest.fixture
def api(app_client):
    return app_client(register_key=REGISTER_SECRET)


def walk(code: str, lon_from: float, steps: int, first: int = 0) -> list[dict[str, object]]:
    """A walk east along 21.55°N, 0.0003° (31 m) every 30 s: about 1 m/s."""
    return [
        {
            "tracker": code,
            "time": (START + timedelta(seconds=30 * n)).isoformat(),
            "lon": round(lon_from + 0.0003 * n, 7),
            "lat": 21.55,
        }
        for n in range(first, first + steps)
    ]


def passed_houses(session: Session) -> dict[str, tuple[str | None, date]]:
    rows = session.execute(
        select(House.code, PatrolPass.grid_code, PatrolPass.passed_on)
        .join(House, House.id == PatrolPass.entity_id)
        .where(PatrolPass.entity == "house")
    )
    return {code: (grid, day) for code, grid, day in rows}


def patrol(api, session: Session, code: str = "phone-7") -> None:
    """The grid head's phone walks from 109.0965 to 109.0986 in two batches."""
    headers = auth(session, "gridhead")
    made = api.post("/api/v1/trackers", json={"code": code, "kind": "patrol"}, headers=headers)
    assert made.status_code == 201, made.text
    for rows in (walk(code, 109.0965, 4), walk(code, 109.0965, 4, first=4)):
        answer = api.post("/api/v1/positions", json=rows, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == 4


def test_a_grid_heads_patrol_phone_records_the_houses_it_passed(api, session, tiered):  # noqa: F811
    patrol(api, session)
    # H2 (109.097) and H3 (109.098) lie on the way; H1 (109.096) stays 52 m behind the
    # start and H4 (109.099) 41 m ahead of the end; H7 is 167 m north.
    assert passed_houses(session) == {
        "H2": (HEAD_GRID, date(2026, 12, 3)),
        "H3": (HEAD_GRID, date(2026, 12, 3)),
    }
    assert session.scalar(select(func.count()).select_from(PatrolPosition)) == 8
    # The same walk sent again adds nothing: a place counts once a day.
    again = api.post(
        "/api/v1/positions", json=walk("phone-7", 109.0965, 8), headers=auth(session, "gridhead")
    )
    assert again.status_code == 200
    assert session.scalar(select(func.count()).select_from(PatrolPass)) == 2


def test_the_second_batch_joins_the_first(api, session, tiered):  # noqa: F811
    # Fixes at 109.0965 and 109.0974 only, one per batch: H2 (109.097) is passed on the
    # stretch between them, which only joining the batches draws.
    headers = auth(session, "gridhead")
    api.post("/api/v1/trackers", json={"code": "phone-j", "kind": "patrol"}, headers=headers)
    for rows in (walk("phone-j", 109.0965, 1), walk("phone-j", 109.0965, 1, first=3)):
        assert api.post("/api/v1/positions", json=rows, headers=headers).status_code == 200
    assert set(passed_houses(session)) == {"H2"}


def test_other_trackers_leave_no_trace(api, session, tiered):  # noqa: F811
    operator = auth(session, "operator")
    api.post("/api/v1/trackers", json={"code": "van-1", "kind": "vehicle"}, headers=operator)
    answer = api.post("/api/v1/positions", json=walk("van-1", 109.0965, 8), headers=operator)
    assert answer.status_code == 200 and answer.json()["accepted"] == 8
    assert session.scalar(select(func.count()).select_from(PatrolPosition)) == 0
    assert passed_houses(session) == {}


def test_a_grid_head_registers_only_a_patrol_phone_and_posts_only_its_positions(
    api,
    session,
    tiered,  # noqa: F811
):
    headers = auth(session, "gridhead")
    vehicle = api.post(
        "/api/v1/trackers", json={"code": "car-7", "kind": "vehicle"}, headers=headers
    )
    assert vehicle.status_code == 403
    api.post("/api/v1/trackers", json={"code": "van-2"}, headers=auth(session, "operator"))
    answer = api.post("/api/v1/positions", json=walk("van-2", 109.0965, 2), headers=headers)
    assert answer.status_code == 200
    assert answer.json()["accepted"] == 0
    assert {p["field"] for p in answer.json()["refused"]} == {"tracker"}


def test_old_traces_are_forgotten(api, session, tiered):  # noqa: F811
    patrol(api, session)
    now = START.astimezone(UTC) + timedelta(days=31, hours=1)
    assert forget_old_patrols(session, now=now, trace_days=31, pass_days=400) == (8, 0)
    assert forget_old_patrols(session, now=now, trace_days=31, pass_days=30) == (0, 2)


def visit(session: Session, code: str, at: datetime, client_id: str) -> None:
    household = session.scalar(select(Household).where(Household.code == code))
    assert household is not None
    session.add(
        HouseholdVisit(
            household_id=household.id, grid_code=HEAD_GRID,
            user_id=user(session, "gridhead").id, client_id=client_id, visited_at=at,
        )
    )  # fmt: skip
    session.flush()


@pytest.fixture
def month(api, session, tiered):  # noqa: F811
    """December in the grid head's grid, by hand: H2 and H3 passed on patrol; F5 (H5)
    visited on 10 December; F6 (H6) at 00:10 on 1 December, local time (still 30 November
    in UTC); F1 (red, H1) on 30 November at 23:30, local time: not December."""
    patrol(api, session)
    visit(session, "F5", datetime(2026, 12, 10, 10, 0, tzinfo=LOCAL), "v-5")
    visit(session, "F6", datetime(2026, 12, 1, 0, 10, tzinfo=LOCAL), "v-6")
    visit(session, "F1", datetime(2026, 11, 30, 23, 30, tzinfo=LOCAL), "v-1")
    return tiered


def test_coverage_of_a_month_by_hand(session, month):
    [grid] = coverage(session, reader=None, month=DECEMBER, timezone=TZ, grid_code=HEAD_GRID)
    # Houses H1..H7; visited H2, H3 (patrol), H5, H6 (door): 4 of 7. Red: F1 (H1, seen in
    # November only) and F2 (H2, passed): F1 not seen.
    assert (grid.houses, grid.visited, grid.red, grid.red_not_seen) == (7, 4, 2, 1)
    assert round(grid.share, 4) == 0.5714
    assert [(r.code, r.address) for r in grid.not_seen] == [("F1", "青柳路1号")]
    [november] = coverage(
        session, reader=None, month=date(2026, 11, 1), timezone=TZ, grid_code=HEAD_GRID
    )
    assert (november.visited, november.red_not_seen) == (1, 1)  # F1's door: H1; F2 unseen
    by_area = coverage(session, reader=None, month=DECEMBER, timezone=TZ, area_code="990100")
    assert [(c.grid, c.houses, c.visited, c.red) for c in by_area] == [
        (str(month["other"]), 7, 0, 0),
        (HEAD_GRID, 7, 4, 2),
    ]


def test_coverage_hides_small_red_counts_from_who_may_not_see_the_people(session, month):
    operator = reader_of(session, user(session, "operator"))
    [grid] = coverage(session, reader=operator, month=DECEMBER, timezone=TZ, grid_code=HEAD_GRID)
    assert (grid.houses, grid.visited, grid.red, grid.red_not_seen, grid.not_seen) == (
        7, 4, None, None, []
    )  # fmt: skip
    head = reader_of(session, user(session, "gridhead"))
    with pytest.raises(OutOfScope):
        coverage(session, reader=head, month=DECEMBER, timezone=TZ, grid_code=str(month["other"]))
    with pytest.raises(OutOfScope):
        coverage(session, reader=head, month=DECEMBER, timezone=TZ, area_code="990105009003")
    with pytest.raises(FieldError):
        coverage(session, reader=None, month=DECEMBER, timezone=TZ)


def test_coverage_and_lists_over_http(api, session, month):
    head = auth(session, "gridhead")
    mine = api.get(f"/api/v1/register/coverage?grid={HEAD_GRID}&month=2026-12", headers=head)
    assert mine.status_code == 200, mine.text
    assert mine.json() == [
        {
            "grid": HEAD_GRID, "houses": 7, "visited": 4, "share": 0.5714, "red": 2,
            "red_not_seen": 1, "not_seen": [{"id": mine.json()[0]["not_seen"][0]["id"],
                                             "code": "F1", "address": "青柳路1号"}],
        }
    ]  # fmt: skip
    other = api.get(f"/api/v1/register/coverage?grid={month['other']}&month=2026-12", headers=head)
    assert other.status_code == 403
    assert other.headers["content-type"].startswith("application/problem+json")
    both = api.get(
        f"/api/v1/register/coverage?grid={HEAD_GRID}&area=990100&month=2026-12", headers=head
    )
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "grid"
    bad = api.get(f"/api/v1/register/coverage?grid={HEAD_GRID}&month=2026-13", headers=head)
    assert bad.status_code == 422
    cg = api.get(
        f"/api/v1/register/coverage?grid={HEAD_GRID}&month=2026-12",
        headers=auth(session, "handler_cg"),
    )
    assert cg.status_code == 403

    listed = api.get(f"/api/v1/register/tiers?grid={HEAD_GRID}", headers=head)
    assert listed.status_code == 200, listed.text
    assert [(e["household_code"], e["tier"]) for e in listed.json()] == [
        ("F2", "red"), ("F1", "red"), ("F3", "yellow"), ("F5", "yellow")
    ]  # fmt: skip
    assert listed.json()[1]["last_visit_at"].startswith("2026-11-30T15:30:00")
    english = api.get(
        f"/api/v1/register/tiers?grid={HEAD_GRID}", headers=head | {"Accept-Language": "en"}
    )
    assert english.json()[0]["reason"] == "Severe disability without a carer"
    for username in ("operator", "handler_cg"):
        refused = api.get(
            f"/api/v1/register/tiers?grid={HEAD_GRID}", headers=auth(session, username)
        )
        assert refused.status_code == 403, username


def test_the_map_layer_of_tiers(api, session, month):
    operator = api.get("/api/v1/map/tiers?level=grid", headers=auth(session, "operator"))
    assert operator.status_code == 200, operator.text
    features = {f["id"]: f["properties"] for f in operator.json()["features"]}
    assert features[HEAD_GRID]["counts"] == {"red": None, "yellow": None, "green": None}
    assert features[HEAD_GRID]["colour"] == "#d73027"  # hidden red is someone: red
    assert features[str(month["other"])]["counts"] == {"red": 0, "yellow": None, "green": 5}
    assert features[str(month["other"])]["tier"] == "yellow"
    assert operator.json()["tiers"]["red"]["colour"] == "#d73027"
    assert operator.json()["features"][0]["geometry"]["type"] == "MultiPolygon"

    communities = api.get("/api/v1/map/tiers?level=community", headers=auth(session, "operator"))
    assert "990105009003" in {f["id"] for f in communities.json()["features"]}

    head = api.get("/api/v1/map/tiers", headers=auth(session, "gridhead"))
    assert [(f["id"], f["properties"]["counts"]) for f in head.json()["features"]] == [
        (HEAD_GRID, {"red": 2, "yellow": 2, "green": 3})
    ]
    none = api.get("/api/v1/map/tiers?level=community", headers=auth(session, "gridhead"))
    assert none.json()["features"] == []
    assert api.get("/api/v1/map/tiers", headers=auth(session, "handler_cg")).status_code == 403
    assert (
        api.get("/api/v1/map/tiers?level=street", headers=auth(session, "operator")).status_code
        == 422
    )
    assert api.get("/api/v1/map/tiers").status_code == 401


def test_a_day_of_positions_in_one_batch_is_kept_whole(session, tiered):  # noqa: F811
    # 15,000 positions (a phone every 5 s for 21 hours) are more values than one INSERT
    # may hold: they are written in parts.
    from gridgov.fences.crossing import Fix as TrackerFix
    from gridgov.fences.models import Tracker
    from gridgov.register.patrolling import record_patrols

    tracker = Tracker(code="phone-day", kind="patrol", owner_id=user(session, "gridhead").id)
    session.add(tracker)
    session.flush()
    fixes = [
        TrackerFix(tracker.id, START + timedelta(seconds=5 * n), 109.0968 + (n % 10) * 1e-5, 21.55)
        for n in range(15_000)
    ]
    assert record_patrols(session, fixes=fixes, timezone=TZ) == 1  # H2, 12-21 m off, once
    assert session.scalar(select(func.count()).select_from(PatrolPosition)) == 15_000
