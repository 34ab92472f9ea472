"""Alerts that late readings show were not there are withdrawn (kept, with a reason), and
alerts are listed by sensor, rule and time.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("withdrawn_at", sa.DateTime(timezone=True)))
    op.add_column("alerts", sa.Column("withdrawn_reason", sa.String(32)))
    op.create_index("ix_alerts_sensor_rule_opened", "alerts", ["sensor_id", "rule_id", "opened_at"])
    op.create_index("ix_alerts_opened", "alerts", ["opened_at"])


def downgrade() -> None:
    op.drop_index("ix_alerts_opened", "alerts")
    op.drop_index("ix_alerts_sensor_rule_opened", "alerts")
    op.drop_column("alerts", "withdrawn_reason")
    op.drop_column("alerts", "withdrawn_at")
