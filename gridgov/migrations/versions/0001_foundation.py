"""Foundation: PostGIS, boundary generations, areas, grids, departments.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "boundary_generations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("activated_at", sa.DateTime(timezone=True)),
        sa.Column("is_active", sa.Boolean, server_default=sa.text("false"), nullable=False),
    )
    op.create_index(
        "uq_boundary_generations_one_active",
        "boundary_generations",
        ["is_active"],
        unique=True,
        postgresql_where=sa.text("is_active"),
    )
    op.create_table(
        "areas",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "generation_id",
            sa.Integer,
            sa.ForeignKey("boundary_generations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("areas.id", ondelete="CASCADE")),
        sa.Column(
            "geom",
            Geometry("MULTIPOLYGON", srid=4326, spatial_index=False),
            nullable=False,
        ),
        sa.UniqueConstraint("generation_id", "code", name="uq_areas_generation_code"),
        sa.CheckConstraint(
            "level IN ('city', 'district', 'street', 'community')", name="ck_areas_level"
        ),
    )
    op.create_index("ix_areas_geom", "areas", ["geom"], postgresql_using="gist")
    op.create_index("ix_areas_parent_id", "areas", ["parent_id"])
    op.create_table(
        "grids",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "generation_id",
            sa.Integer,
            sa.ForeignKey("boundary_generations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "community_id",
            sa.Integer,
            sa.ForeignKey("areas.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("grid_head_name", sa.String(100)),
        sa.Column("grid_head_phone", sa.String(32)),
        sa.Column("households", sa.Integer),
        sa.Column("population", sa.Integer),
        sa.Column(
            "geom",
            Geometry("MULTIPOLYGON", srid=4326, spatial_index=False),
            nullable=False,
        ),
        sa.UniqueConstraint("generation_id", "code", name="uq_grids_generation_code"),
    )
    op.create_index("ix_grids_geom", "grids", ["geom"], postgresql_using="gist")
    op.create_index("ix_grids_community_id", "grids", ["community_id"])
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("area_code", sa.String(32), nullable=False),
        sa.CheckConstraint(
            "level IN ('city', 'district', 'street', 'community')", name="ck_departments_level"
        ),
    )


def downgrade() -> None:
    op.drop_table("departments")
    op.drop_table("grids")
    op.drop_table("areas")
    op.drop_table("boundary_generations")
