"""Cities with fewer levels: a grid sits under the area directly above it, whatever its level.

A city without communities puts its grids straight under its streets or districts (and one
without streets its communities or grids under its districts) instead of copying polygons
into empty levels. ``grids.community_id`` becomes ``grids.parent_id``; an incident's codes at
levels its city does not have are empty.

``incidents.observed_at``: when a live report was seen on the phone (a report queued offline
keeps its true time); deadlines still run from ``reported_at``, the receipt.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHAIN = ("community_code", "street_code", "district_code")


def upgrade() -> None:
    op.alter_column("grids", "community_id", new_column_name="parent_id")
    op.execute("ALTER INDEX ix_grids_community_id RENAME TO ix_grids_parent_id")
    for column in CHAIN:
        op.alter_column("incidents", column, existing_type=sa.String(32), nullable=True)
    op.add_column("incidents", sa.Column("observed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("incidents", "observed_at")
    # Incidents of a city with fewer levels cannot go back; refuse rather than invent codes.
    for column in CHAIN:
        op.alter_column("incidents", column, existing_type=sa.String(32), nullable=False)
    op.execute("ALTER INDEX ix_grids_parent_id RENAME TO ix_grids_community_id")
    op.alter_column("grids", "parent_id", new_column_name="community_id")
