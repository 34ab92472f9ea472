"""Doorstep visits (入户走访) and household tiers (绿黄红).

``household_visits``: one visit of a grid head to a household: when it happened on the phone
(``visited_at``) and when the server got it (``received_at``), where the phone was, which
facts were confirmed and which corrected. ``client_id`` makes a visit queued offline count
exactly once, however often the phone sends it.

``households.tier`` / ``tier_rule`` / ``tier_at``: the tier the rules file gives the household
now and the rule that gave it (recomputed after imports and visits); ``last_visit_at`` is the
latest visit, kept on the row so that the grid head's red and yellow list needs no join.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "household_visits",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "household_id",
            sa.BigInteger,
            sa.ForeignKey("households.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("grid_code", sa.String(32)),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("position", Geometry("POINT", srid=4326, spatial_index=False)),
        sa.Column("accuracy_m", sa.Float),
        sa.Column(
            "confirmed", postgresql.JSONB, server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column(
            "corrected", postgresql.JSONB, server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column("note", sa.Text, server_default="", nullable=False),
        sa.UniqueConstraint("user_id", "client_id", name="uq_household_visits_client"),
    )
    op.create_index(
        "ix_household_visits_household", "household_visits", ["household_id", "visited_at"]
    )
    op.create_index("ix_household_visits_grid", "household_visits", ["grid_code", "visited_at"])
    op.add_column("households", sa.Column("tier", sa.String(8)))
    op.add_column("households", sa.Column("tier_rule", sa.String(64)))
    op.add_column("households", sa.Column("tier_at", sa.DateTime(timezone=True)))
    op.add_column("households", sa.Column("last_visit_at", sa.DateTime(timezone=True)))
    op.create_check_constraint(
        "ck_households_tier", "households", "tier IN ('green', 'yellow', 'red')"
    )
    op.create_index("ix_households_tier", "households", ["tier"])


def downgrade() -> None:
    op.drop_index("ix_households_tier", table_name="households")
    op.drop_constraint("ck_households_tier", "households", type_="check")
    for column in ("last_visit_at", "tier_at", "tier_rule", "tier"):
        op.drop_column("households", column)
    op.drop_table("household_visits")
