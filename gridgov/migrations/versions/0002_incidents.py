"""Incidents: users, categories, responsibility list, incidents and their audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION gridgov_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$
"""


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("parent_code", sa.String(length=16), nullable=True),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("urgent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["categories.code"],
        ),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("area_code", sa.String(length=32), nullable=True),
        sa.Column("department_code", sa.String(length=32), nullable=True),
        sa.Column("grid_code", sa.String(length=32), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "role IN ('admin', 'operator', 'handler', 'grid_head', 'emergency')",
            name="ck_users_role",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=True),
        sa.Column("category_code", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("position", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("reported_crs", sa.String(length=16), server_default="wgs84", nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("snapped", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("generation_id", sa.Integer(), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=False),
        sa.Column("community_code", sa.String(length=32), nullable=False),
        sa.Column("street_code", sa.String(length=32), nullable=False),
        sa.Column("district_code", sa.String(length=32), nullable=False),
        sa.Column("city_code", sa.String(length=32), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=True),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), server_default="report", nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=True),
        sa.Column("possible_duplicate_of", sa.BigInteger(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("reopen_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("overdue_at_top", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.CheckConstraint(
            "status IN ('reported', 'dispatched', 'accepted', 'rejected', 'resolved', 'closed')",
            name="ck_incidents_status",
        ),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_incidents_rating"),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["categories.code"],
        ),
        sa.ForeignKeyConstraint(
            ["generation_id"],
            ["boundary_generations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["possible_duplicate_of"],
            ["incidents.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("reporter_id", "idempotency_key", name="uq_incidents_idempotency"),
    )
    op.create_index(
        "ix_incidents_department", "incidents", ["department_code", "status"], unique=False
    )
    op.create_index(
        "ix_incidents_position", "incidents", ["position"], unique=False, postgresql_using="gist"
    )
    op.create_index("ix_incidents_reported_at", "incidents", ["reported_at"], unique=False)
    op.create_index(
        "ix_incidents_status_deadline", "incidents", ["status", "deadline_at"], unique=False
    )
    op.create_table(
        "responsibility_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_code", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("area_code", sa.String(length=32), nullable=True),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("sla_hours", sa.Float(), nullable=False),
        sa.CheckConstraint(
            "level IN ('community', 'street', 'district', 'city')",
            name="ck_responsibility_rules_level",
        ),
        sa.CheckConstraint("sla_hours > 0", name="ck_responsibility_rules_sla"),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["categories.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "street_ratings",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("street_code", sa.String(length=32), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column("rated_by", sa.Integer(), nullable=True),
        sa.Column(
            "rated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name="ck_street_ratings_score"),
        sa.ForeignKeyConstraint(
            ["rated_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "street_code", "department_code", "period_start", "period_end", name="uq_street_ratings"
        ),
    )
    op.create_table(
        "incident_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=True),
        sa.Column("department_code", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_incident_events_incident", "incident_events", ["incident_id", "id"], unique=False
    )
    op.create_table(
        "whistles",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=False),
        sa.Column("summoned_by", sa.Integer(), nullable=True),
        sa.Column("summoned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_in_by", sa.Integer(), nullable=True),
        sa.Column("overdue_noted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.ForeignKeyConstraint(
            ["checked_in_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
        ),
        sa.ForeignKeyConstraint(
            ["summoned_by"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_whistles_department", "whistles", ["department_code", "checked_in_at"], unique=False
    )
    op.create_table(
        "incident_photos",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["incident_events.id"],
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "sha256", name="uq_incident_photos"),
    )
    op.add_column("departments", sa.Column("role", sa.String(length=16), nullable=True))
    # The audit log is append-only: nothing acknowledged is ever changed or lost.
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(
        "CREATE TRIGGER incident_events_append_only BEFORE UPDATE OR DELETE ON incident_events "
        "FOR EACH ROW EXECUTE FUNCTION gridgov_append_only()"
    )


def downgrade() -> None:
    op.drop_column("departments", "role")
    op.drop_table("incident_photos")
    op.drop_index("ix_whistles_department", table_name="whistles")
    op.drop_table("whistles")
    op.execute("DROP TRIGGER incident_events_append_only ON incident_events")
    op.execute("DROP FUNCTION gridgov_append_only()")
    op.drop_index("ix_incident_events_incident", table_name="incident_events")
    op.drop_table("incident_events")
    op.drop_table("street_ratings")
    op.drop_table("responsibility_rules")
    op.drop_index("ix_incidents_status_deadline", table_name="incidents")
    op.drop_index("ix_incidents_reported_at", table_name="incidents")
    op.drop_index("ix_incidents_position", table_name="incidents", postgresql_using="gist")
    op.drop_index("ix_incidents_department", table_name="incidents")
    op.drop_table("incidents")
    op.drop_table("users")
    op.drop_table("categories")
