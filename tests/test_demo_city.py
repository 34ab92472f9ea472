"""The demo city: big enough, exactly tiled, and reproducible from its generator."""

from __future__ import annotations

import filecmp
import subprocess
import sys

from sqlalchemy import func, select

from gridgov.boundaries.io import read_boundary_file
from gridgov.boundaries.levels import Level
from gridgov.boundaries.models import Area, Grid
from gridgov.boundaries.quality import check_boundaries
from gridgov.demo import LEVEL_FILES, demo_folder
from gridgov.departments.models import Department
from tests.conftest import GEODATA


def test_demo_city_has_the_promised_size(session, demo_generation):
    def count(level):
        return session.scalar(
            select(func.count())
            .select_from(Area)
            .where(Area.generation_id == demo_generation.id, Area.level == level)
        )

    assert count("city") == 1
    assert count("district") >= 4
    assert count("street") >= 20
    assert count("community") >= 100
    grids = session.scalar(
        select(func.count()).select_from(Grid).where(Grid.generation_id == demo_generation.id)
    )
    assert grids >= 2_000


def test_every_level_tiles_its_parent_without_gaps_or_overlaps():
    parents = None
    for level, filename in LEVEL_FILES.items():
        frame = read_boundary_file(demo_folder(GEODATA) / filename, level=level)
        report = check_boundaries(frame, level=level, parents=parents, sliver_m2=1.0)
        assert report.findings == [], report.render("en")
        parents = frame


def test_demo_city_sits_inside_china_near_109e_21n():
    city = read_boundary_file(demo_folder(GEODATA) / "city.geojson", level=Level.CITY)
    minx, miny, maxx, maxy = city.total_bounds
    assert 108.8 < minx < maxx < 109.4 and 21.3 < miny < maxy < 21.8


def test_departments_exist_at_every_level(session, demo_generation):
    levels = dict(
        session.execute(select(Department.level, func.count()).group_by(Department.level)).all()
    )
    assert set(levels) == {"city", "district", "street", "community"}
    communities = session.scalar(
        select(func.count())
        .select_from(Area)
        .where(Area.generation_id == demo_generation.id, Area.level == "community")
    )
    assert levels["community"] == communities


def test_generator_reproduces_the_committed_files(tmp_path):
    script = demo_folder(GEODATA) / "generate.py"
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True, capture_output=True)
    names = [
        *LEVEL_FILES.values(),
        "departments.csv",
        "responsibilities.csv",
        "stockpiles.csv",
        "roads.geojson",
        "sensors.csv",
    ]
    match, mismatch, errors = filecmp.cmpfiles(demo_folder(GEODATA), tmp_path, names, shallow=False)
    assert mismatch == [] and errors == []
    assert sorted(match) == sorted(names)
