"""Patrol matching: places passed within a distance, once, at the right time; gaps, jumps,
jitter and poor fixes; coverage per grid. No database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from gridgov.geo.measure import geodesic_distance_m
from gridgov.register.patrols import (
    Fix,
    PatrolRules,
    Place,
    coverage_by_grid,
    local_projection,
    not_passed,
    places_passed,
)
from tests.conftest import GEODATA

CENTRE = (109.10, 21.55)
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TO_DEGREES = Transformer.from_crs(local_projection(*CENTRE).target_crs, "EPSG:4326", always_xy=True)


def at(x: float, y: float) -> tuple[float, float]:
    """Metres east and north of the centre, as lon/lat."""
    lon, lat = TO_DEGREES.transform(x, y)
    return float(lon), float(lat)


def fix(seconds: float, x: float, y: float, accuracy: float | None = None) -> Fix:
    return Fix(T0 + timedelta(seconds=seconds), *at(x, y), accuracy)


def place(ref, x: float, y: float, grid: str | None = None) -> Place:
    return Place(ref, *at(x, y), grid)


def walk_east(metres: float, speed: float = 1.5, every: float = 10.0) -> list[Fix]:
    """A walk along y = 0 from x = 0, one position every ``every`` seconds."""
    seconds = np.arange(0, metres / speed + every, every)
    return [fix(s, min(s * speed, metres), 0.0) for s in seconds]


def refs(passed) -> list:
    return [p.ref for p in passed]


def test_places_within_the_distance_are_passed_at_the_time_of_closest_approach():
    places = [place("near", 200, 10), place("edge", 300, 29), place("far", 400, 31)]
    passed = places_passed(walk_east(600), places)
    assert refs(passed) == ["near", "edge"]
    near, edge = passed
    # First within 30 m where the walk is sqrt(30² - 10²) m short of the place.
    assert (near.at - T0).total_seconds() == pytest.approx((200 - np.sqrt(800)) / 1.5, abs=0.1)
    assert abs(near.distance_m - 10) < 0.01 and abs(edge.distance_m - 29) < 0.01


def test_the_distance_is_metres_on_the_ground():
    shop = place("shop", 100, 25)
    passed = places_passed([fix(0, 100, 0)], [shop])  # one position only
    assert refs(passed) == ["shop"]
    lon, lat = at(100, 0)
    assert passed[0].distance_m == pytest.approx(
        geodesic_distance_m(lon, lat, shop.lon, shop.lat), rel=1e-4
    )
    assert places_passed([fix(0, 100, 0)], [shop], rules=PatrolRules(within_m=20)) == []


def test_a_place_passed_twice_counts_once_at_the_first_time():
    out = walk_east(300)
    back = [fix(400 + s, 300 - 1.5 * s, 5) for s in range(0, 210, 10)]  # 3 m closer
    passed = places_passed(back + out, [place("door", 150, 8)])  # the order makes no difference
    assert len(passed) == 1
    assert (passed[0].at - T0).total_seconds() == pytest.approx((150 - np.sqrt(836)) / 1.5, abs=0.1)
    assert passed[0].distance_m == pytest.approx(3, abs=0.01)  # the closest it came


def test_a_long_silence_is_not_walked_across():
    track = [fix(0, 0, 0), fix(10, 10, 0), fix(1210, 410, 0), fix(1220, 420, 0)]  # 20 min gap
    middle = place("middle", 200, 0)
    assert places_passed(track, [middle]) == []
    assert refs(places_passed(track, [middle], rules=PatrolRules(max_gap_s=1800))) == ["middle"]
    # Both ends still count.
    assert refs(places_passed(track, [place("a", 5, 5), place("b", 415, 5)])) == ["a", "b"]


def test_a_jump_no_one_could_make_is_not_walked_across():
    track = [fix(0, 0, 0), fix(10, 10, 0), fix(20, 2010, 0), fix(30, 2020, 0)]  # 200 m/s
    assert places_passed(track, [place("middle", 1000, 0)]) == []
    assert refs(places_passed(track, [place("after", 2015, 3)])) == ["after"]


def test_a_spike_of_jitter_passes_nothing_and_a_real_turn_is_kept():
    track = walk_east(300)
    spike = fix(105, 160, 400)  # 400 m off to the side for one position, then straight back
    passed = places_passed([*track, spike], [place("beside the spike", 160, 390)])
    assert passed == []
    # A real detour at walking pace is a walk, not a spike.
    detour = [fix(0, 0, 0), fix(60, 0, 90), fix(120, 0, 180), fix(180, 0, 90), fix(240, 0, 0)]
    assert refs(places_passed(detour, [place("up the lane", 5, 170)])) == ["up the lane"]


def test_poor_fixes_are_dropped_and_repeated_times_keep_the_first():
    track = [fix(0, 0, 0), fix(10, 15, 0), fix(20, 30, 0, accuracy=200.0), fix(30, 45, 0)]
    track.append(Fix(track[1].at, *at(15, 300)))  # same time as the second, elsewhere
    assert places_passed(track, [place("far off", 30, 250)]) == []
    assert places_passed(track, [place("beside", 15, 290)]) == []
    assert refs(places_passed(track, [place("on the way", 30, 10)])) == ["on the way"]


def test_nothing_in_nothing_out():
    assert places_passed([], [place("x", 0, 0)]) == []
    assert places_passed(walk_east(100), []) == []
    only_bad = [fix(0, 0, 0, accuracy=500.0)]
    assert places_passed(only_bad, [place("x", 0, 0)]) == []


def test_coverage_per_grid_over_a_month_of_patrols_and_the_places_not_seen():
    places = [place(f"h{i}", i * 50, 10, "g1" if i < 6 else "g2") for i in range(10)]
    monday = places_passed(walk_east(140), places)  # h0..h2, and h3 at 150 m is 10 m past the end
    friday = places_passed([fix(0, 250, 0), fix(60, 310, 0)], places)  # h5..h6
    seen = [p.ref for p in monday + friday]
    assert sorted(seen) == ["h0", "h1", "h2", "h3", "h5", "h6"]
    coverage = coverage_by_grid(places, seen)
    assert (coverage["g1"].places, coverage["g1"].passed) == (6, 5)
    assert (coverage["g2"].places, coverage["g2"].passed, coverage["g2"].share) == (4, 1, 0.25)
    red = [p for p in places if p.ref in {"h4", "h5", "h9"}]
    assert [p.ref for p in not_passed(red, seen)] == ["h4", "h9"]


def test_a_walk_down_a_demo_road_passes_exactly_the_houses_within_30_m():
    houses = pd.read_csv(GEODATA / "demo_city" / "register" / "houses.csv", dtype=str)
    roads = json.loads((GEODATA / "demo_city" / "roads.geojson").read_text())["features"]
    lines = np.array([shapely.geometry.shape(r["geometry"]) for r in roads])
    points = shapely.points(houses.lon.astype(float), houses.lat.astype(float))
    hits = shapely.STRtree(points).query(lines, predicate="dwithin", distance=0.0003)[0]
    road = lines[np.bincount(hits).argmax()]  # the street with the most houses along it
    lon0, lat0 = road.centroid.x, road.centroid.y
    to_metres = local_projection(lon0, lat0)
    line = shapely.transform(road, lambda c: np.column_stack(to_metres.transform(c[:, 0], c[:, 1])))
    # One position every 8 m at 1.6 m/s, a metre or two of jitter.
    rng = np.random.default_rng(7)
    steps = np.arange(0, line.length, 8.0)
    xy = shapely.get_coordinates(shapely.line_interpolate_point(line, steps))
    xy += rng.normal(0, 1.0, xy.shape)
    back = Transformer.from_crs(to_metres.target_crs, "EPSG:4326", always_xy=True)
    lons, lats = back.transform(xy[:, 0], xy[:, 1])
    track = [
        Fix(T0 + timedelta(seconds=5 * i), lon, lat)
        for i, (lon, lat) in enumerate(zip(lons, lats, strict=True))
    ]
    places = [
        Place(code, float(lon), float(lat))
        for code, lon, lat in zip(houses.house_code, houses.lon, houses.lat, strict=True)
    ]
    passed = {p.ref for p in places_passed(track, places)}
    walked = shapely.linestrings(xy)
    house_xy = np.column_stack(
        to_metres.transform(houses.lon.astype(float), houses.lat.astype(float))
    )
    distance = shapely.distance(walked, shapely.points(house_xy))
    assert passed == set(houses.house_code[distance <= 30.0])
    assert len(passed) >= 5  # the street has houses along it
