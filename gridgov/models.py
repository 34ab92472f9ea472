"""Every table, imported in one place so that Alembic sees the whole schema."""

from gridgov.boundaries.models import Area, Generation, Grid
from gridgov.db import Base
from gridgov.departments.models import Department

__all__ = ["Area", "Base", "Department", "Generation", "Grid"]
