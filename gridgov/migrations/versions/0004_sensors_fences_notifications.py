"""Sensors (partitioned readings, rules, alerts), fences and trackers, notifications.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fence_changes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("fence_id", sa.Integer(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "readings",
        sa.Column("sensor_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("sensor_id", "metric", "at", name="pk_readings"),
        postgresql_partition_by="RANGE (at)",
    )
    # Readings arrive in time order: a BRIN index on time is tiny and enough.
    op.execute("CREATE INDEX ix_readings_at ON readings USING brin (at)")
    op.create_table(
        "sensors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("owner_department", sa.String(length=32), nullable=False),
        sa.Column("metrics", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("position", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=True),
        sa.Column("community_code", sa.String(length=32), nullable=True),
        sa.Column("street_code", sa.String(length=32), nullable=True),
        sa.Column("district_code", sa.String(length=32), nullable=True),
        sa.Column("city_code", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index(
        "ix_sensors_position", "sensors", ["position"], unique=False, postgresql_using="gist"
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("kinds", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default=sa.text("6"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "fences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("active_from", sa.Time(), nullable=True),
        sa.Column("active_to", sa.Time(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("category_code", sa.String(length=16), server_default="0601", nullable=False),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False),
        sa.CheckConstraint("rule IN ('no_entry', 'no_exit', 'watch')", name="ck_fences_rule"),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["categories.code"],
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index("ix_fences_geom", "fences", ["geom"], unique=False, postgresql_using="gist")
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notifications_user", "notifications", ["user_id", "id"], unique=False)
    op.create_table(
        "sensor_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sensor_kind", sa.String(length=32), nullable=True),
        sa.Column("sensor_id", sa.Integer(), nullable=True),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("condition", sa.String(length=16), nullable=False),
        sa.Column("low", sa.Float(), nullable=True),
        sa.Column("high", sa.Float(), nullable=True),
        sa.Column("max_rate_per_minute", sa.Float(), nullable=True),
        sa.Column("sustain_count", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("sustain_minutes", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column("clear_minutes", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_gap_minutes", sa.Float(), server_default=sa.text("60"), nullable=False),
        sa.Column("category_code", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "condition IN ('above', 'below', 'outside', 'rate')", name="ck_rule_condition"
        ),
        sa.CheckConstraint(
            "sensor_kind IS NOT NULL OR sensor_id IS NOT NULL", name="ck_rule_target"
        ),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["categories.code"],
        ),
        sa.ForeignKeyConstraint(
            ["sensor_id"],
            ["sensors.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "trackers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("kind", sa.String(length=32), server_default="vehicle", nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
        ),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'dead')", name="ck_deliveries_status"
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"], unique=False
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("sensor_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("incident_id", sa.BigInteger(), nullable=True),
        sa.Column("readings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["sensor_rules.id"],
        ),
        sa.ForeignKeyConstraint(
            ["sensor_id"],
            ["sensors.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_alerts_open",
        "alerts",
        ["sensor_id", "rule_id"],
        unique=True,
        postgresql_where=sa.text("cleared_at IS NULL"),
    )
    op.create_table(
        "fence_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tracker_id", sa.Integer(), nullable=False),
        sa.Column("fence_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("grid_code", sa.String(length=32), nullable=True),
        sa.Column("breach", sa.Boolean(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["fence_id"],
            ["fences.id"],
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
        ),
        sa.ForeignKeyConstraint(
            ["tracker_id"],
            ["trackers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_fence_events_tracker", "fence_events", ["tracker_id", "at"], unique=False)
    op.create_table(
        "tracker_sides",
        sa.Column("tracker_id", sa.Integer(), nullable=False),
        sa.Column("fence_id", sa.Integer(), nullable=False),
        sa.Column("inside", sa.Boolean(), nullable=False),
        sa.Column("candidate_inside", sa.Boolean(), nullable=True),
        sa.Column("candidate_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("candidate_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fence_id"],
            ["fences.id"],
        ),
        sa.ForeignKeyConstraint(
            ["tracker_id"],
            ["trackers.id"],
        ),
        sa.PrimaryKeyConstraint("tracker_id", "fence_id"),
    )

    op.create_table(
        "rule_states",
        sa.Column("sensor_id", sa.Integer(), sa.ForeignKey("sensors.id"), nullable=False),
        sa.Column("rule_id", sa.Integer(), sa.ForeignKey("sensor_rules.id"), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("run", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("run_length", sa.Integer(), nullable=False),
        sa.Column("run_started", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fine_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("previous_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("previous_value", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("sensor_id", "rule_id"),
    )


def downgrade() -> None:
    op.drop_table("tracker_sides")
    op.drop_index("ix_fence_events_tracker", table_name="fence_events")
    op.drop_table("fence_events")
    op.drop_index(
        "uq_alerts_open", table_name="alerts", postgresql_where=sa.text("cleared_at IS NULL")
    )
    op.drop_table("alerts")
    op.drop_index("ix_deliveries_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("trackers")
    op.drop_table("sensor_rules")
    op.drop_index("ix_notifications_user", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("ix_fences_geom", table_name="fences", postgresql_using="gist")
    op.drop_table("fences")
    op.drop_table("webhooks")
    op.drop_index("ix_sensors_position", table_name="sensors", postgresql_using="gist")
    op.drop_table("sensors")
    op.drop_table("rule_states")
    op.drop_table("readings")
    op.drop_table("fence_changes")
