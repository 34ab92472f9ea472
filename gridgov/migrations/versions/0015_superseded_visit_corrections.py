"""A visit's corrections that came too late: the register held a value observed after the
visit (a later visit, or a department list drawn after it), so the correction was kept on
the visit but not written.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "household_visits",
        sa.Column(
            "superseded", postgresql.JSONB, server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_column("household_visits", "superseded")
