"""Finding and reserving supplies on hand-made stockpiles (and the demo city's)."""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
import shapely
from shapely.geometry import LineString
from sqlalchemy import func, select, text

from gridgov.boundaries.frames import read_level
from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.levels import Level
from gridgov.boundaries.lookup import locate, nearest_grid
from gridgov.db import session_scope
from gridgov.errors import FieldError
from gridgov.supplies import reservations
from gridgov.supplies.coverage import coverage
from gridgov.supplies.models import ReservationLine, StockLot, Stockpile
from gridgov.supplies.planning import Candidate, parse_demand, plan_supplies, running_totals
from gridgov.supplies.roads import RoadNetwork, load_network, replace_roads
from gridgov.supplies.search import _KNN, find_supplies
from gridgov.supplies.stock import StockFileError, import_stock
from gridgov.users.models import User
from tests.supplies import ORIGIN, add_items, east, hand_made, stock_row

TODAY = date(2026, 11, 22)


def search(session, demand, **kw):
    return find_supplies(session, lon=ORIGIN[0], lat=ORIGIN[1], demand=demand, today=TODAY, **kw)


def test_order_totals_and_where_the_request_is_covered(session):
    hand_made(session)
    result = search(session, {"test_tent": 100})
    rows = [
        (r.stockpile.code, r.available["test_tent"], r.running_total["test_tent"])
        for r in result.ranked
    ]
    # Reserved (A) and expired (B) stock are not available; D's 10 tents still count.
    assert rows == [("T-A", 30, 30), ("T-B", 40, 70), ("T-C", 500, 570), ("T-D", 10, 580)]
    assert result.covered_at == {"test_tent": 2}
    distances = [r.distance_m for r in result.ranked]
    assert distances == sorted(distances)
    assert distances[0] == pytest.approx(1000, rel=0.01) and distances[2] == pytest.approx(
        3000, rel=0.01
    )
    assert result.distance_kind == "straight"
    assert result.plan.covered


def test_several_items_are_planned_from_few_and_near_stockpiles(session):
    hand_made(session)
    result = search(session, {"test_tent": 100, "test_water": 500})
    codes = {
        result.plan_stockpiles[p.candidate.stockpile_id].code: p.take for p in result.plan.picks
    }
    # D covers all the water and some tents; C covers the remaining tents in one go.
    assert codes == {"T-C": {"test_tent": 90}, "T-D": {"test_water": 500, "test_tent": 10}}
    assert result.plan.covered and result.plan.shortfall == {}


def test_what_cannot_be_covered_within_reach_is_said(session):
    hand_made(session)
    result = search(session, {"test_tent": 100, "test_water": 5000}, max_km=4)
    assert result.plan.shortfall == {"test_water": 5000}
    assert not result.plan.covered
    assert {r.stockpile.code for r in result.ranked} == {"T-A", "T-B", "T-C"}
    wide = search(session, {"test_water": 5000}, max_km=10)
    assert wide.plan.shortfall == {"test_water": 4000}
    assert wide.covered_at == {"test_water": None}


def test_unknown_items_are_refused(session):
    with pytest.raises(FieldError) as refused:
        search(session, {"unicorn": 1})
    assert refused.value.field == "item"


def test_demo_city_search_finds_real_stock(session, demo_generation):
    result = search(session, {"tent": 200, "water": 2000, "generator": 20})
    assert result.plan.covered
    assert result.ranked and all(r.distance_m < 50_000 for r in result.ranked)


def test_road_and_straight_line_rank_differently(session):
    # P is 1 km north but the only road to it loops 2 km east: 5 km by road.
    # Q is 1.5 km south on a straight road.
    add_items(session, "test_tent")
    north, south = east(0, 1), east(0, -1.5)
    import_stock(
        session,
        rows=[
            stock_row("T-P", north, "test_tent", 10),
            stock_row("T-Q", south, "test_tent", 10),
        ],
    )
    loop = [ORIGIN, east(2), east(2, 1), north]
    replace_roads(session, lines=[LineString(loop), LineString([ORIGIN, south])])
    network = load_network(session)
    straight = search(session, {"test_tent": 5}, network=network, by_road=False, limit=2)
    road = search(session, {"test_tent": 5}, network=network, by_road=True, limit=2)
    assert [r.stockpile.code for r in straight.ranked] == ["T-P", "T-Q"]
    assert [r.stockpile.code for r in road.ranked] == ["T-Q", "T-P"]
    assert road.distance_kind == "road"
    assert road.ranked[1].distance_m == pytest.approx(5000, rel=0.02)
    assert road.ranked[1].straight_m == pytest.approx(1000, rel=0.02)
    assert road.covered_at == {"test_tent": 0}


def test_without_a_network_road_requests_fall_back_and_say_so(session):
    hand_made(session)
    result = search(session, {"test_tent": 10}, network=None, by_road=True)
    assert result.distance_kind == "straight" and result.road_requested


def test_network_distances_follow_the_roads():
    network = RoadNetwork.from_lines(
        [LineString([(0, 0), (0.01, 0)]), LineString([(0.01, 0), (0.01, 0.01)])]
    )
    [far] = network.distances((0, 0), [(0.01, 0.01)])
    assert far == pytest.approx(1113 + 1106, rel=0.01)
    assert network.distances((0, 0), [(5, 5)])[0] > 700_000  # snapped walk counts too


def test_stock_import_validates_every_row(session):
    add_items(session, "test_tent")
    rows = [
        stock_row("T-X", east(1), "unicorn", 5),
        stock_row("T-Y", east(1), "test_tent", -3),
        {**stock_row("T-Z", east(1), "test_tent", 5), "owner_department": "nobody"},
        {**stock_row("T-W", east(1), "test_tent", 5), "expires_on": "31/12/2030"},
        stock_row("T-V", (109.1, 20.0), "test_tent", 5),
        {**stock_row("T-X", east(2), "test_tent", 5)},
    ]
    with pytest.raises(StockFileError) as refused:
        import_stock(session, rows=rows)
    found = {(p.line, p.field) for p in refused.value.problems}
    assert {(2, "item"), (3, "quantity"), (4, "owner_department"), (5, "expires_on"), (6, "lon"),
            (7, "lon")} <= found  # fmt: skip
    assert (
        session.scalar(
            select(func.count()).select_from(Stockpile).where(Stockpile.code.like("T-%"))
        )
        == 0
    )


def test_stock_cannot_be_set_below_what_is_reserved(session):
    hand_made(session)
    with pytest.raises(StockFileError, match="reserved"):
        import_stock(session, rows=[stock_row("T-A", east(1), "test_tent", 10)])


def reserve(session, user, *lines):
    return reservations.reserve(
        session, actor=user, wants=[reservations.Want(*line) for line in lines], today=TODAY
    )


def emergency(session):
    return session.scalar(select(User).where(User.username == "emergency"))


def free(session, code, item):
    return session.scalar(
        select(func.sum(StockLot.quantity - StockLot.reserved))
        .join(Stockpile, Stockpile.id == StockLot.stockpile_id)
        .where(Stockpile.code == code, StockLot.item_code == item)
    )


def test_reservation_is_all_or_nothing_and_409_says_what_is_available(session):
    hand_made(session)
    with pytest.raises(reservations.InsufficientStock) as short:
        reserve(session, emergency(session), ("T-C", "test_tent", 100), ("T-A", "test_tent", 31))
    assert [(s.stockpile_code, s.available) for s in short.value.shortages] == [("T-A", 30)]
    assert free(session, "T-C", "test_tent") == 500  # nothing reserved
    made = reserve(session, emergency(session), ("T-C", "test_tent", 100), ("T-A", "test_tent", 30))
    assert made.status == "reserved"
    assert free(session, "T-C", "test_tent") == 400 and free(session, "T-A", "test_tent") == 0


def test_expired_stock_is_never_reserved_and_soonest_expiry_goes_first(session):
    hand_made(session)
    with pytest.raises(reservations.InsufficientStock):
        reserve(session, emergency(session), ("T-B", "test_tent", 41))
    add_items(session, "test_water2")
    import_stock(
        session,
        rows=[
            stock_row("T-E", east(1), "test_water2", 10, "2031-01-01"),
            stock_row("T-E", east(1), "test_water2", 10, "2029-01-01"),
        ],
    )
    made = reserve(session, emergency(session), ("T-E", "test_water2", 12))
    lots = session.scalars(
        select(StockLot)
        .join(Stockpile)
        .where(Stockpile.code == "T-E")
        .order_by(StockLot.expires_on)
    ).all()
    assert [(str(lot.expires_on), lot.reserved) for lot in lots] == [
        ("2029-01-01", 10),
        ("2031-01-01", 2),
    ]
    # The reservation holds exactly those two lots, soonest expiry first.
    held = session.execute(
        select(ReservationLine.lot_id, ReservationLine.quantity)
        .where(ReservationLine.reservation_id == made.id)
        .order_by(ReservationLine.id)
    ).all()
    assert held == [(lots[0].id, 10), (lots[1].id, 2)]


def test_release_and_fulfil(session):
    hand_made(session)
    user = emergency(session)
    first = reserve(session, user, ("T-C", "test_tent", 100))
    reservations.release(session, reservation_id=first.id, actor=user)
    assert free(session, "T-C", "test_tent") == 500
    with pytest.raises(reservations.ReservationConflict):
        reservations.release(session, reservation_id=first.id, actor=user)
    second = reserve(session, user, ("T-C", "test_tent", 120))
    reservations.fulfil(session, reservation_id=second.id, actor=user)
    lot = session.scalar(select(StockLot).join(Stockpile).where(Stockpile.code == "T-C"))
    assert (lot.quantity, lot.reserved) == (380, 0)
    with pytest.raises(reservations.ReservationConflict):
        reservations.fulfil(session, reservation_id=second.id, actor=user)


def test_many_reservations_at_once_never_oversell(committed):
    workers, each = 12, 9  # the pool holds 15 connections: every worker needs one at once
    with session_scope(committed) as session:
        add_items(session, "test_tent")
        import_stock(session, rows=[stock_row("T-R", east(1), "test_tent", 100)])
    barrier = threading.Barrier(workers, timeout=60)

    def attempt(_: int) -> bool:
        with session_scope(committed) as session:
            user = emergency(session)
            barrier.wait()
            try:
                reserve(session, user, ("T-R", "test_tent", each))
                return True
            except reservations.InsufficientStock:
                return False

    with ThreadPoolExecutor(workers) as pool:
        outcomes = list(pool.map(attempt, range(workers)))
    with session_scope(committed) as session:
        lot = session.scalar(select(StockLot).join(Stockpile).where(Stockpile.code == "T-R"))
        assert lot.reserved == sum(outcomes) * each
        assert lot.reserved <= lot.quantity
        assert sum(outcomes) == 100 // each  # every request that fit got through


def test_coverage_of_an_area(session, demo_generation):
    hand_made(session)
    place = locate(session, lon=ORIGIN[0], lat=ORIGIN[1], generation_id=demo_generation.id)
    community = place.areas[-1].code
    district = place.areas[1].code
    result = coverage(
        session,
        generation_id=demo_generation.id,
        area_code=district,
        items=["test_tent", "test_water"],
        radius_km=2.5,
        today=TODAY,
    )
    assert result.in_area["test_tent"]["available"] >= 30
    mine = next(c for c in result.communities if c.code == community)
    assert mine.within_radius["test_tent"] >= 30  # A at 1 km (B's good lot may be in reach)
    assert "test_water" in mine.missing  # D is 5 km away
    assert any(c.missing == ["test_tent", "test_water"] for c in result.communities)
    geo = result.geojson()
    assert geo["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_planning_rules_alone():
    with pytest.raises(FieldError) as bad:
        parse_demand(["tent:0"])
    assert bad.value.field == "quantity"
    with pytest.raises(FieldError):
        parse_demand(["tent:five"])
    with pytest.raises(FieldError):
        parse_demand(["tent"])
    with pytest.raises(FieldError):
        parse_demand(["tent:1", "tent:2"])
    rows, at = running_totals([Candidate(1, 5.0, {"a": 1})], "a", 2)
    assert at is None and rows[0][1] == 1
    plan = plan_supplies([Candidate(1, 1.0, {"a": 1}), Candidate(2, 2.0, {"a": 1})], {"a": 2})
    assert [p.candidate.stockpile_id for p in plan.picks] == [1, 2] and plan.covered


def test_the_nearest_search_walks_the_index_not_the_table(session, demo_generation):
    plan = "\n".join(
        row[0]
        for row in session.execute(
            text("EXPLAIN " + str(_KNN.text)),
            {"point": "SRID=4326;POINT(109.1 21.55)", "item": "tent", "today": TODAY, "k": 32},
        )
    )
    # On a city's worth of stock the planner walks the GiST index in distance order (Index
    # Scan ... Order By, see benchmarks/README.md); on the small demo table it may read the
    # item's entries from the same index (Bitmap Index Scan). Never the whole table.
    assert "on ix_stock_lots_item_position" in plan or "using ix_stock_lots_item_position" in plan
    assert "Seq Scan on stock_lots" not in plan


def just_outside_the_city(session, metres_east: float) -> tuple[float, float]:
    """A point ``metres_east`` east of the city's easternmost vertex (outside every grid)."""
    generation = active_generation(session)
    city = read_level(session, level=Level.CITY, generation_id=generation.id).geometry.iloc[0]
    x, y = max(shapely.get_coordinates(city).tolist())
    return x + metres_east / (111_320 * math.cos(math.radians(y))), y


def test_a_stockpile_on_a_pier_is_attached_to_the_nearest_grid(session):
    add_items(session, "test_tent")
    pier = just_outside_the_city(session, 19)
    result = import_stock(
        session, rows=[stock_row("T-P", pier, "test_tent", 5)], edge_tolerance_m=200
    )
    [(code, grid, metres)] = result.attached
    assert code == "T-P" and 18 < metres < 20
    stockpile = session.scalar(select(Stockpile).where(Stockpile.code == "T-P"))
    assert stockpile.grid_code == grid
    generation_id = active_generation(session).id
    assert (
        nearest_grid(session, lon=pier[0], lat=pier[1], generation_id=generation_id).grid.code
        == grid
    )


def test_a_stockpile_beyond_the_tolerance_is_refused_with_its_distance(session):
    add_items(session, "test_tent")
    far = just_outside_the_city(session, 1000)
    with pytest.raises(StockFileError) as refused:
        import_stock(session, rows=[stock_row("T-F", far, "test_tent", 5)], edge_tolerance_m=200)
    [problem] = refused.value.problems
    assert problem.field == "lon" and "outside the city (1000 m" in str(problem)


def test_stockpiles_before_any_boundaries_say_how_to_load_them(session):
    add_items(session, "test_tent")
    session.execute(text("UPDATE boundary_generations SET is_active = false"))
    with pytest.raises(StockFileError) as refused:
        import_stock(session, rows=[stock_row("T-N", east(1), "test_tent", 5)])
    [problem] = refused.value.problems
    assert problem.field == "file" and "gridgov demo load" in str(problem)


def test_by_road_the_nearest_are_found_beyond_the_straight_line_nearest(session):
    # P is 1 km north but 5 km by road; Q 1.5 km south and R 2 km west, both on straight
    # roads. The two nearest by road are Q and R, though P is the nearest in a straight
    # line: the road ranking must look past the straight-line top two.
    add_items(session, "test_tent")
    north, south, west = east(0, 1), east(0, -1.5), east(-2)
    import_stock(session, rows=[stock_row("T-P", north, "test_tent", 10),
                                stock_row("T-Q", south, "test_tent", 10),
                                stock_row("T-R", west, "test_tent", 10)])  # fmt: skip
    loop = [ORIGIN, east(2), east(2, 1), north]
    replace_roads(session, lines=[LineString(loop), LineString([ORIGIN, south]),
                                  LineString([ORIGIN, west])])  # fmt: skip
    network = load_network(session)
    straight = search(session, {"test_tent": 15}, network=network, by_road=False, limit=3)
    assert [r.stockpile.code for r in straight.ranked] == ["T-P", "T-Q", "T-R"]
    road = search(session, {"test_tent": 15}, network=network, by_road=True, limit=2)
    assert [r.stockpile.code for r in road.ranked] == ["T-Q", "T-R"]
    assert [round(r.distance_m, -2) for r in road.ranked] == [1500, 2000]
    assert road.covered_at == {"test_tent": 1}
    every = search(session, {"test_tent": 15}, network=network, by_road=True, limit=3)
    assert [r.stockpile.code for r in every.ranked] == ["T-Q", "T-R", "T-P"]
