"""Audit rows say which request (or background run) wrote them: ``request_id``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDIT_TABLES = ("incident_events", "supply_events")


def upgrade() -> None:
    # Nullable, no default: rows written before this revision (and by scripts outside any
    # request) have no id, and adding the column rewrites nothing.
    for table in AUDIT_TABLES:
        op.add_column(table, sa.Column("request_id", sa.String(64), nullable=True))


def downgrade() -> None:
    for table in AUDIT_TABLES:
        op.drop_column(table, "request_id")
