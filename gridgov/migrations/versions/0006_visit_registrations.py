"""Visits registered before they happen (调研报备), and the communities each goes to.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visit_registrations",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("unit", sa.String(100), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column(
            "people",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("registered_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column(
            "registered_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.CheckConstraint("ends_on >= starts_on", name="ck_visit_registrations_dates"),
    )
    op.create_index("ix_visit_registrations_dates", "visit_registrations", ["starts_on", "ends_on"])
    op.create_table(
        "visit_places",
        sa.Column(
            "registration_id",
            sa.BigInteger(),
            sa.ForeignKey("visit_registrations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("community_code", sa.String(32), primary_key=True),
    )
    op.create_index("ix_visit_places_community", "visit_places", ["community_code"])


def downgrade() -> None:
    op.drop_table("visit_places")
    op.drop_table("visit_registrations")
