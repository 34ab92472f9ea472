"""Patrols that record themselves, and visit-due reminders sent once.

``patrol_positions``: the positions a grid head's patrol tracker (a phone registered as a
tracker of kind ``patrol``) sent, kept ``patrol_trace_days`` (docs/PRIVACY.md) to join the
next batch's track to the last one; ``patrol_passes``: each house or enterprise a patrol
passed within the distance, once per grid head, place and day, kept for the monthly
coverage figures. ``households.visit_reminded_on``: the due date the grid heads were last
reminded of, so that a re-run of the daily job reminds nobody twice.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("households", sa.Column("visit_reminded_on", sa.Date))
    op.create_table(
        "patrol_positions",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "tracker_id",
            sa.Integer,
            sa.ForeignKey("trackers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.UniqueConstraint("tracker_id", "at", name="uq_patrol_positions_time"),
    )
    op.create_index("ix_patrol_positions_at", "patrol_positions", ["at"])
    op.create_table(
        "patrol_passes",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("tracker_id", sa.Integer, sa.ForeignKey("trackers.id", ondelete="SET NULL")),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("entity_id", sa.BigInteger, nullable=False),
        sa.Column("grid_code", sa.String(32)),
        sa.Column("passed_on", sa.Date, nullable=False),
        sa.Column("passed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("distance_m", sa.Float, nullable=False),
        sa.CheckConstraint("entity IN ('house', 'enterprise')", name="ck_patrol_passes_entity"),
        sa.UniqueConstraint(
            "user_id", "entity", "entity_id", "passed_on", name="uq_patrol_passes_daily"
        ),
    )
    op.create_index("ix_patrol_passes_grid", "patrol_passes", ["grid_code", "passed_on"])


def downgrade() -> None:
    op.drop_index("ix_patrol_passes_grid", table_name="patrol_passes")
    op.drop_table("patrol_passes")
    op.drop_index("ix_patrol_positions_at", table_name="patrol_positions")
    op.drop_table("patrol_positions")
    op.drop_column("households", "visit_reminded_on")
