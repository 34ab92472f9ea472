"""Stockpiles and sensors follow a boundary generation change (placed again on activation)."""

from __future__ import annotations

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select

from gridgov.boundaries.generations import activate_generation, create_generation
from gridgov.sensors.models import Sensor
from gridgov.supplies.models import Stockpile
from tests import shapes
from tests.test_lookup import import_tiny_city

CHAIN = (shapes.COMMUNITY, shapes.STREET, shapes.DISTRICT, shapes.CITY)


def codes(row) -> tuple:
    return (row.grid_code, row.community_code, row.street_code, row.district_code, row.city_code)


def add_sensor(session, code: str, lon: float, lat: float) -> Sensor:
    sensor = Sensor(
        code=code,
        kind="water_level",
        owner_department="990100-SW",
        metrics={"level": "m"},
        position=from_shape(Point(lon, lat), srid=4326),
    )
    session.add(sensor)
    session.flush()
    return sensor


def test_things_are_placed_again_when_a_generation_activates(session, demo_generation):
    before = {
        (kind.__tablename__, row.code): codes(row)
        for kind in (Stockpile, Sensor)
        for row in session.scalars(select(kind))
    }
    assert len(before) > 10 and all(c[0] for c in before.values())
    x, y, step = shapes.X0, shapes.Y0, shapes.STEP
    inside = add_sensor(session, "T-IN", x + step / 2, y + step / 2)  # G1
    on_edge = add_sensor(session, "T-EDGE", x + step, y + step / 2)  # G1 | G2: smallest code
    near = add_sensor(session, "T-NEAR", x + 2 * step + 0.001, y + 1.5 * step)  # ~103 m east of G4
    far = add_sensor(session, "T-FAR", x + 3 * step, y + step)  # ~1 km out

    tiny = create_generation(session, name="tiny")
    import_tiny_city(session, generation_id=tiny.id)
    activate_generation(session, generation_id=tiny.id, edge_tolerance_m=200)
    session.expire_all()
    assert codes(inside) == ("G1", *CHAIN)
    assert codes(on_edge) == ("G1", *CHAIN)
    assert codes(near) == ("G4", *CHAIN)
    assert codes(far) == (None, None, None, None, None)
    # The demo city's things lie far from the tiny city: outside every grid now.
    assert all(codes(row) == (None,) * 5 for row in session.scalars(select(Stockpile)))

    # Back to the demo city: every stockpile and sensor gets the place its import gave it.
    activate_generation(session, generation_id=demo_generation.id, edge_tolerance_m=200)
    session.expire_all()
    after = {
        (kind.__tablename__, row.code): codes(row)
        for kind in (Stockpile, Sensor)
        for row in session.scalars(select(kind))
        if not row.code.startswith("T-")
    }
    assert after == before
