"""Load the synthetic demo city 示范市 from geodata/ through the ordinary import path."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.boundaries.generations import activate_generation, create_generation
from gridgov.boundaries.importer import import_boundaries
from gridgov.boundaries.io import read_boundary_file
from gridgov.boundaries.levels import Level
from gridgov.boundaries.models import Generation
from gridgov.departments.service import read_departments_csv, upsert_departments

DEMO_GENERATION = "示范市 demo city (synthetic)"
LEVEL_FILES = {
    Level.CITY: "city.geojson",
    Level.DISTRICT: "districts.geojson",
    Level.STREET: "streets.geojson",
    Level.COMMUNITY: "communities.geojson",
    Level.GRID: "grids.geojson",
}


def demo_folder(geodata_dir: Path) -> Path:
    """Where the demo city's files live."""
    return geodata_dir / "demo_city"


def load_demo_city(session: Session, *, geodata_dir: Path, activate: bool = True) -> Generation:
    """Import every level of the demo city into a new generation (once) and activate it."""
    existing = session.scalar(select(Generation).where(Generation.name == DEMO_GENERATION))
    if existing is not None:
        return existing
    folder = demo_folder(geodata_dir)
    generation = create_generation(session, name=DEMO_GENERATION)
    for level, filename in LEVEL_FILES.items():
        frame = read_boundary_file(folder / filename, level=level)
        import_boundaries(session, frame=frame, level=level, generation_id=generation.id)
    upsert_departments(session, rows=read_departments_csv(folder / "departments.csv"))
    if activate:
        activate_generation(session, generation_id=generation.id)
    return generation
