"""The point lookup: in-memory index against PostGIS, edges, vertices, generations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from geoalchemy2.shape import to_shape
from sqlalchemy import select, text

from gridgov.boundaries.classify import classify_points
from gridgov.boundaries.generations import (
    GenerationError,
    activate_generation,
    active_generation,
    create_generation,
)
from gridgov.boundaries.index import NO_GRID, GridIndex, Place
from gridgov.boundaries.lookup import grid_at, locate, nearest_grid, nearest_grid_codes
from gridgov.boundaries.models import Grid
from gridgov.cache import GridIndexCache
from gridgov.geo.crs import from_wgs84
from tests import shapes
from tests.test_import import import_tiny_city


def postgis_codes(session, generation_id, lons, lats):
    """The reference answer: ST_Covers in PostGIS, smallest code on ties, for every point."""
    rows = session.execute(
        text(
            """
            SELECT p.n, (SELECT g.code FROM grids g
                         WHERE g.generation_id = :gen
                           AND ST_Covers(g.geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326))
                         ORDER BY g.code LIMIT 1)
            FROM unnest(CAST(:lons AS float8[]), CAST(:lats AS float8[]))
                 WITH ORDINALITY AS p(lon, lat, n)
            ORDER BY p.n
            """
        ),
        {"gen": generation_id, "lons": list(lons), "lats": list(lats)},
    ).all()
    return [code for _, code in rows]


def test_index_agrees_with_postgis_on_ten_thousand_points(session, demo_generation):
    index = GridIndex.build(session, generation=demo_generation)
    minx, miny, maxx, maxy = shapes_bounds(index)
    rng = np.random.default_rng(2026)
    lons = rng.uniform(minx - 0.02, maxx + 0.02, 10_000)
    lats = rng.uniform(miny - 0.02, maxy + 0.02, 10_000)
    from_index = list(index.code_of(index.locate_many(lons, lats)))
    from_postgis = postgis_codes(session, demo_generation.id, lons, lats)
    differences = [
        i for i, (a, b) in enumerate(zip(from_index, from_postgis, strict=True)) if a != b
    ]
    assert differences == []
    located = sum(code is not None for code in from_index)
    assert 5_000 < located < 10_000  # both inside and outside points were tried


def shapes_bounds(index):
    bounds = np.array([g.bounds for g in index.geoms])
    return bounds[:, 0].min(), bounds[:, 1].min(), bounds[:, 2].max(), bounds[:, 3].max()


def test_vertex_shared_by_several_grids_goes_to_the_smallest_code(session, demo_generation):
    index = GridIndex.build(session, generation=demo_generation)
    # Find a vertex that belongs to three or more grids of the demo city.
    owners: dict[tuple[float, float], set[str]] = {}
    for code, geom in zip(index.codes[:400], index.geoms[:400], strict=True):
        for x, y in to_shape_coords(geom):
            owners.setdefault((x, y), set()).add(str(code))
    (x, y), codes = next((k, v) for k, v in owners.items() if len(v) >= 3)
    expected = min(codes)
    assert index.code_of(index.locate_many([x], [y]))[0] == expected
    assert grid_at(session, lon=x, lat=y, generation_id=demo_generation.id).code == expected


def to_shape_coords(geom):
    for polygon in getattr(geom, "geoms", [geom]):
        yield from polygon.exterior.coords


@pytest.fixture
def tiny_generation(session):
    generation = create_generation(session, name="tiny")
    import_tiny_city(session, generation_id=generation.id)
    return generation


def test_point_on_a_shared_edge_resolves_to_one_grid_both_ways(session, tiny_generation):
    index = GridIndex.build(session, generation=tiny_generation)
    edge = (shapes.X0 + shapes.STEP, shapes.Y0 + shapes.STEP / 2)  # between G1 and G2
    corner = (shapes.X0 + shapes.STEP, shapes.Y0 + shapes.STEP)  # shared by all four
    outer_edge = (shapes.X0, shapes.Y0 + shapes.STEP / 2)  # the city's own boundary
    for point, expected in ((edge, "G1"), (corner, "G1"), (outer_edge, "G1")):
        assert index.code_of(index.locate_many([point[0]], [point[1]]))[0] == expected
        assert (
            grid_at(session, lon=point[0], lat=point[1], generation_id=tiny_generation.id).code
            == expected
        )
    top_edge = (shapes.X0 + 1.5 * shapes.STEP, shapes.Y0 + shapes.STEP)  # between G2 and G4
    assert index.code_of(index.locate_many([top_edge[0]], [top_edge[1]]))[0] == "G2"


def test_locate_returns_the_whole_chain(session, demo_generation):
    index = GridIndex.build(session, generation=demo_generation)
    place = locate(session, lon=109.1, lat=21.55, generation_id=demo_generation.id, index=index)
    assert [a.level for a in place.areas] == ["city", "district", "street", "community"]
    assert place.areas[0].name == "示范市"
    assert place.grid.code.startswith(place.areas[-1].code)
    assert to_shape(place.grid.geom).covers(shapely_point(109.1, 21.55))


def shapely_point(lon, lat):
    from shapely.geometry import Point

    return Point(lon, lat)


def test_nearest_grid_gives_the_distance_in_metres(session, tiny_generation):
    # 0.01° of latitude south of the tiny city's lower edge: about 1,107 m.
    nearest = nearest_grid(
        session, lon=shapes.X0 + 0.005, lat=shapes.Y0 - 0.01, generation_id=tiny_generation.id
    )
    assert nearest.grid.code == "G1"
    assert nearest.distance_m == pytest.approx(1_107, abs=5)


def test_nearest_grids_in_one_statement_agree_with_one_at_a_time(session, demo_generation):
    rng = np.random.default_rng(11)
    # Around the demo city and out to sea, most of them outside every grid.
    points = list(zip(rng.uniform(108.7, 109.5, 40), rng.uniform(21.2, 21.9, 40), strict=True))
    together = nearest_grid_codes(session, points, generation_id=demo_generation.id)
    for (lon, lat), found in zip(points, together, strict=True):
        alone = nearest_grid(session, lon=lon, lat=lat, generation_id=demo_generation.id)
        assert found is not None and alone is not None
        assert found[0] == alone.grid.code and found[1] == pytest.approx(alone.distance_m)
    assert nearest_grid_codes(session, [], generation_id=demo_generation.id) == []


def test_activating_a_generation_switches_the_lookup(session, demo_generation, tiny_generation):
    cache = GridIndexCache(check_interval=0)
    inside_tiny = (shapes.X0 + 0.005, shapes.Y0 + 0.005)
    assert cache.get(session).generation_id == demo_generation.id
    assert cache.get(session).locate(*inside_tiny) is None

    activate_generation(session, generation_id=tiny_generation.id)
    assert active_generation(session).id == tiny_generation.id
    index = cache.get(session)
    assert index.generation_id == tiny_generation.id
    grid = session.get(Grid, index.locate(*inside_tiny))
    assert grid.code == "G1"
    assert index.locate(109.1, 21.55) is None
    # The older generation stays queryable.
    old = locate(session, lon=109.1, lat=21.55, generation_id=demo_generation.id)
    assert old is not None and old.generation.id == demo_generation.id
    assert not old.generation.is_active


def test_a_generation_without_grids_cannot_be_activated(session):
    empty = create_generation(session, name="empty")
    with pytest.raises(GenerationError, match="no grids"):
        activate_generation(session, generation_id=empty.id)


def test_bulk_classification_matches_single_lookups_and_converts_crs(session, demo_generation):
    index = GridIndex.build(session, generation=demo_generation)
    rng = np.random.default_rng(5)
    lons, lats = rng.uniform(109.0, 109.2, 2_000), rng.uniform(21.45, 21.65, 2_000)
    result = classify_points(session, index=index, lons=lons, lats=lats)
    for i in range(0, 2_000, 97):
        grid = grid_at(session, lon=lons[i], lat=lats[i], generation_id=demo_generation.id)
        got = result["grid_code"][i]
        assert (None if pd.isna(got) else got) == (grid.code if grid else None)
        if grid:
            assert grid.code.startswith(result["community_code"][i])
            assert result["community_code"][i].startswith(result["street_code"][i])
    gcj = np.array([from_wgs84(x, y, "gcj02") for x, y in zip(lons[:50], lats[:50], strict=True)])
    from_gcj = classify_points(session, index=index, lons=gcj[:, 0], lats=gcj[:, 1], crs="gcj02")
    assert list(from_gcj["grid_code"].fillna("")) == list(result["grid_code"][:50].fillna(""))


def test_index_covers_every_grid_of_the_generation(session, demo_generation):
    index = GridIndex.build(session, generation=demo_generation)
    total = session.scalar(
        select(text("count(*)")).select_from(Grid).where(Grid.generation_id == demo_generation.id)
    )
    assert len(index) == total
    centres = [g.representative_point() for g in index.geoms]
    found = index.locate_many([p.x for p in centres], [p.y for p in centres])
    assert NO_GRID not in found
    assert list(found) == list(index.ids)


def test_places_in_memory_agree_with_postgis(session, demo_generation):
    """What a locate answer says about a grid (head, households, area chain with names,
    generation) is the same from memory as read from PostGIS, for every grid."""
    index = GridIndex.build(session, generation=demo_generation)
    for geom, place in zip(index.geoms, index.places, strict=True):
        point = geom.representative_point()
        found = locate(session, lon=point.x, lat=point.y, generation_id=demo_generation.id)
        assert found is not None
        assert index.place_at(point.x, point.y) == Place.of(
            found.grid, found.areas, found.generation
        )
        assert index.place_of(place.code) == place
    assert [a.level for a in index.places[0].areas] == ["city", "district", "street", "community"]
    assert index.place_of("no such grid") is None
