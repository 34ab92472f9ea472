"""A city with fewer levels: city -> district -> grids, as a real download gives it (AMap/DataV
district files in GCJ-02), imported through the CLI, then located, reported, escalated and
rated without any copied street or community polygons."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.index import GridIndex
from gridgov.boundaries.models import Area, Generation, Grid
from gridgov.cli import app
from gridgov.config import get_settings
from gridgov.db import session_scope
from gridgov.departments.models import Department
from gridgov.evaluation.service import rate_department
from gridgov.geo.crs import to_wgs84
from gridgov.incidents.escalation import escalate_overdue
from gridgov.incidents.reporting import report_incident
from gridgov.maps.layers import area_outlines, grid_shading
from gridgov.responsibilities.routing import assignment_from
from gridgov.supplies.coverage import coverage
from gridgov.users.roles import Actor, Role
from tests.database import cleaned_up_after

runner = CliRunner()
CITY, WEST, EAST = "119000", "119001", "119002"
# Every vertex of a grid edge is a vertex of its district too, so the GCJ-02 shift moves
# shared edges identically (no slivers from the conversion).
XS = (118.30, 118.35, 118.40, 118.45, 118.50)
Y0, Y1 = 31.90, 32.00


def ring(x0: float, x1: float) -> list[list[float]]:
    xs = [x for x in XS if x0 <= x <= x1]
    return [*([x, Y0] for x in xs), *([x, Y1] for x in reversed(xs)), [x0, Y0]]


def datav(features: list[tuple[int, str, int, float, float, str]]) -> dict:
    """A DataV/AMap district download: adcode and parent {adcode} as numbers, extra keys."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "adcode": adcode,
                    "name": name,
                    "center": [(x0 + x1) / 2, (Y0 + Y1) / 2],
                    "level": level,
                    "parent": {"adcode": parent},
                    "childrenNum": 0,
                    "acroutes": [100000, parent],
                },
                "geometry": {"type": "MultiPolygon", "coordinates": [[ring(x0, x1)]]},
            }
            for adcode, name, parent, x0, x1, level in features
        ],
    }


def grids() -> dict:
    rows = []
    for n, (x0, x1) in enumerate(itertools.pairwise(XS)):
        parent = WEST if x1 <= 118.40 else EAST
        rows.append(
            {
                "type": "Feature",
                "properties": {"code": f"G19{n}", "name": f"第{n}网格", "parent_code": parent},
                "geometry": {"type": "Polygon", "coordinates": [ring(x0, x1)]},
            }
        )
    return {"type": "FeatureCollection", "features": rows}


@pytest.fixture
def three_levels(monkeypatch, database_url, engine, demo_generation_id, tmp_path):
    """The three-level city imported through the CLI into its own generation, active."""
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", database_url)
    monkeypatch.setenv("GRIDGOV_LANG", "en")
    get_settings.cache_clear()
    files = {
        "city": datav([(int(CITY), "三级市", 100000, 118.30, 118.50, "city")]),
        "district": datav(
            [
                (int(WEST), "西区", int(CITY), 118.30, 118.40, "district"),
                (int(EAST), "东区", int(CITY), 118.40, 118.50, "district"),
            ]
        ),
        "grid": grids(),
    }
    made = runner.invoke(app, ["generations", "new", "three levels"])
    generation_id = int(made.output.strip())
    try:
        for level, content in files.items():
            path = tmp_path / f"{level}.json"
            path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
            args = ["import", "boundaries", str(path), "--level", level, "--crs", "gcj02"]
            args += ["--generation", str(generation_id)]
            dry = runner.invoke(app, args)
            assert dry.exit_code == 0, dry.output
            assert "0 errors" in dry.output and "dry run" in dry.output
            done = runner.invoke(app, [*args, "--commit"])
            assert done.exit_code == 0, done.output
        activated = runner.invoke(app, ["generations", "activate", str(generation_id)])
        assert activated.exit_code == 0, activated.output
        yield generation_id
    finally:
        runner.invoke(app, ["generations", "activate", str(demo_generation_id)])
        with session_scope(sessionmaker_for(engine)) as session:
            session.execute(delete(Generation).where(Generation.id == generation_id))
        get_settings.cache_clear()


def sessionmaker_for(engine):
    from gridgov.db import make_session_factory

    return make_session_factory(engine)


def test_grids_sit_under_districts_with_no_copied_levels(three_levels, engine):
    with session_scope(sessionmaker_for(engine)) as session:
        levels = session.execute(
            select(Area.level, func.count())
            .where(Area.generation_id == three_levels)
            .group_by(Area.level)
        ).all()
        assert dict(levels) == {"city": 1, "district": 2}
        parents = session.execute(
            select(Grid.code, Area.code)
            .join(Area, Area.id == Grid.parent_id)
            .where(Grid.generation_id == three_levels)
            .order_by(Grid.code)
        ).all()
        assert [tuple(p) for p in parents] == [
            ("G190", WEST),
            ("G191", WEST),
            ("G192", EAST),
            ("G193", EAST),
        ]


def test_a_level_cannot_go_in_above_one_already_there(three_levels, tmp_path):
    path = tmp_path / "streets.json"
    streets = datav([(119_001_001, "街道", int(WEST), 118.30, 118.40, "street")])
    path.write_text(json.dumps(streets, ensure_ascii=False), encoding="utf-8")
    args = ["import", "boundaries", str(path), "--level", "street", "--crs", "gcj02"]
    result = runner.invoke(app, [*args, "--generation", str(three_levels)])
    assert result.exit_code == 1
    assert "grid boundaries below this level" in result.output


def test_locate_names_the_levels_the_city_has(three_levels, tmp_path):
    source = tmp_path / "points.csv"
    source.write_text("编号,经度,纬度\n001,118.325,31.95\n002,118.475,31.95\n", encoding="utf-8")
    result = runner.invoke(app, ["locate", str(source), "--crs", "gcj02"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:3]]
    assert [(r["编号"], r["grid_code"], r["district_code"]) for r in rows] == [
        ("001", "G190", WEST),
        ("002", "G193", EAST),
    ]
    assert all(r["street_code"] == "" and r["community_code"] == "" for r in rows)


def test_report_escalate_and_rate_skip_the_missing_levels(three_levels, engine):
    factory = sessionmaker_for(engine)
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    with cleaned_up_after(engine):
        try:
            with session_scope(factory) as session:
                for code, level, area in (
                    ("T3-D-ZJ", "district", WEST),
                    ("T3-C-ZJ", "city", CITY),
                ):
                    session.add(
                        Department(code=code, name=code, level=level, area_code=area, role="ZJ")
                    )
            with session_scope(factory) as session:
                generation = active_generation(session)
                index = GridIndex.build(session, generation=generation)
                place = index.place_at(*to_wgs84(118.325, 31.95, "gcj02"))
                assert place is not None
                assert [a.level for a in place.areas] == ["city", "district"]
                report = report_incident(
                    session,
                    reporter_id=None,
                    lon=118.325,
                    lat=31.95,
                    crs="gcj02",
                    category_code="0101",
                    index=index,
                    now=now,
                )
                incident = report.incident
                assert (incident.district_code, incident.street_code) == (WEST, None)
                assert incident.community_code is None
                # Rules at community and street level apply to no place of this city.
                assert (incident.level, incident.department_code) == ("district", "T3-D-ZJ")
                incident_id = incident.id
            with session_scope(factory) as session:
                run = escalate_overdue(session, now=now + timedelta(days=30))
                assert incident_id in run.escalated
            with session_scope(factory) as session:
                from gridgov.incidents.models import Incident

                escalated = session.get(Incident, incident_id)
                assert (escalated.level, escalated.department_code) == ("city", "T3-C-ZJ")
                # With no streets, the district gives the street ratings.
                rating = rate_department(
                    session,
                    street_code=WEST,
                    department_code="T3-D-ZJ",
                    period_start=date(2026, 11, 1),
                    period_end=date(2026, 11, 30),
                    score=4,
                )
                assert rating.street_code == WEST
                # Supplies coverage goes by the areas grids sit in; the map's street layer
                # is empty and its grids are all there.
                near = coverage(
                    session,
                    generation_id=three_levels,
                    area_code=CITY,
                    items=["test_none"],
                    radius_km=1,
                    today=date(2026, 12, 1),
                )
                assert [c.code for c in near.communities] == [WEST, EAST]
                streets = area_outlines(session, generation_id=three_levels, level="street")
                assert streets["features"] == []
                admin = Actor(role=Role.ADMIN, user_id=0)
                shading = grid_shading(session, actor=admin, generation_id=three_levels, bbox=None)
                assert [f["properties"]["code"] for f in shading["features"]] == [
                    "G190",
                    "G191",
                    "G192",
                    "G193",
                ]
        finally:
            with session_scope(factory) as session:
                session.execute(delete(Department).where(Department.code.like("T3-%")))


def test_routing_skips_levels_the_place_does_not_have():
    from gridgov.boundaries.levels import Level
    from gridgov.responsibilities.routing import Rule

    rules = [
        Rule("01", Level.COMMUNITY, None, "SQ", 4),
        Rule("01", Level.STREET, None, "ZF", 24),
        Rule("01", Level.CITY, None, "CG", 96),
    ]
    chain = {Level.CITY: "C", Level.DISTRICT: "D"}
    first = assignment_from(rules, category_code="01", chain=chain)
    assert (first.level, first.department, first.area_code) == (Level.CITY, "CG", "C")
    full = {**chain, Level.STREET: "S", Level.COMMUNITY: "Q"}
    assert assignment_from(rules, category_code="01", chain=full).level is Level.COMMUNITY
