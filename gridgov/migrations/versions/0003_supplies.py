"""Supplies: items, stockpiles, stock lots, reservations and their audit log, roads.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geography, Geometry
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A GiST index over (item_code, position) needs btree_gist for the text column.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "items",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("unit_zh", sa.String(length=16), nullable=False),
        sa.Column("unit_en", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "roads",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("geom", Geometry("LINESTRING", srid=4326, spatial_index=False), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_roads_geom", "roads", ["geom"], unique=False, postgresql_using="gist")
    op.create_table(
        "stockpiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("owner_department", sa.String(length=32), nullable=False),
        sa.Column("contact_name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("contact_phone", sa.String(length=32), server_default="", nullable=False),
        sa.Column("opening_hours", sa.String(length=100), server_default="", nullable=False),
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
        "ix_stockpiles_position", "stockpiles", ["position"], unique=False, postgresql_using="gist"
    )
    op.create_table(
        "stock_lots",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("stockpile_id", sa.Integer(), nullable=False),
        sa.Column("item_code", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("position", Geography("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.CheckConstraint("quantity >= 0", name="ck_stock_lots_quantity"),
        sa.CheckConstraint("reserved >= 0 AND reserved <= quantity", name="ck_stock_lots_reserved"),
        sa.ForeignKeyConstraint(
            ["item_code"],
            ["items.code"],
        ),
        sa.ForeignKeyConstraint(
            ["stockpile_id"],
            ["stockpiles.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "stockpile_id",
            "item_code",
            "expires_on",
            name="uq_stock_lots",
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(
        "ix_stock_lots_item_position",
        "stock_lots",
        ["item_code", "position"],
        unique=False,
        postgresql_using="gist",
    )
    op.create_index("ix_stock_lots_stockpile", "stock_lots", ["stockpile_id"], unique=False)
    op.create_table(
        "reservations",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=True),
        sa.Column("purpose", sa.Text(), server_default="", nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('reserved', 'released', 'fulfilled')", name="ck_reservations_status"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "reservation_lines",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("reservation_id", sa.BigInteger(), nullable=False),
        sa.Column("lot_id", sa.BigInteger(), nullable=False),
        sa.Column("stockpile_id", sa.Integer(), nullable=False),
        sa.Column("item_code", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_reservation_lines_quantity"),
        sa.ForeignKeyConstraint(
            ["lot_id"],
            ["stock_lots.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["stockpile_id"],
            ["stockpiles.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "supply_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("reservation_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
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
            ["reservation_id"],
            ["reservations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(
        "CREATE TRIGGER supply_events_append_only BEFORE UPDATE OR DELETE ON supply_events "
        "FOR EACH ROW EXECUTE FUNCTION gridgov_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER supply_events_append_only ON supply_events")
    op.drop_table("supply_events")
    op.drop_table("reservation_lines")
    op.drop_table("reservations")
    op.drop_index("ix_stock_lots_stockpile", table_name="stock_lots")
    op.drop_index("ix_stock_lots_item_position", table_name="stock_lots", postgresql_using="gist")
    op.drop_table("stock_lots")
    op.drop_index("ix_stockpiles_position", table_name="stockpiles", postgresql_using="gist")
    op.drop_table("stockpiles")
    op.drop_index("ix_roads_geom", table_name="roads", postgresql_using="gist")
    op.drop_table("roads")
    op.drop_table("items")
