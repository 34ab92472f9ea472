"""The register (一张表): houses, households, people and tags, enterprises, things; import
batches, their changes, conflicts with visits, and the access log of personal records.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EMPTY = sa.text("'{}'::jsonb")


def _placed() -> list[sa.Column]:
    return [
        sa.Column("position", Geometry("POINT", srid=4326, spatial_index=False), nullable=True),
        sa.Column("grid_code", sa.String(32), nullable=True),
        sa.Column("community_code", sa.String(32), nullable=True),
        sa.Column("street_code", sa.String(32), nullable=True),
        sa.Column("district_code", sa.String(32), nullable=True),
        sa.Column("city_code", sa.String(32), nullable=True),
    ]


def _provenance() -> sa.Column:
    return sa.Column("provenance", JSONB(), server_default=EMPTY, nullable=False)


def _spatial(table: str) -> None:
    op.create_index(f"ix_{table}_grid", table, ["grid_code"])
    op.create_index(f"ix_{table}_position", table, ["position"], postgresql_using="gist")


def upgrade() -> None:
    op.create_table(
        "register_batches",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(300), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counts", JSONB(), server_default=EMPTY, nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
    )
    op.create_table(
        "houses",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("building", sa.String(32), server_default="", nullable=False),
        sa.Column("unit", sa.String(32), server_default="", nullable=False),
        sa.Column("room", sa.String(32), server_default="", nullable=False),
        sa.Column(
            "footprint", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=True
        ),
        sa.Column("use", sa.String(16), server_default="residential", nullable=False),
        sa.Column("tenure", sa.String(16), server_default="owned", nullable=False),
        *_placed(),
        _provenance(),
        sa.CheckConstraint(
            "use IN ('residential', 'shop', 'mixed', 'office', 'other')", name="ck_houses_use"
        ),
        sa.CheckConstraint("tenure IN ('owned', 'rented', 'vacant')", name="ck_houses_tenure"),
    )
    _spatial("houses")
    op.create_table(
        "households",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "house_id",
            sa.BigInteger(),
            sa.ForeignKey("houses.id", ondelete="SET NULL"),
            nullable=True,
        ),
        _provenance(),
    )
    op.create_index("ix_households_house", "households", ["house_id"])
    op.create_table(
        "people",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=True),
        sa.Column("id_hash", sa.LargeBinary(32), nullable=True, unique=True),
        sa.Column("id_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("sex", sa.String(8), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("phone_sealed", sa.LargeBinary(), nullable=True),
        sa.Column(
            "household_id",
            sa.BigInteger(),
            sa.ForeignKey("households.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("relation", sa.String(16), nullable=True),
        sa.Column("address", sa.String(300), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        _provenance(),
        sa.CheckConstraint("sex IN ('male', 'female')", name="ck_people_sex"),
        sa.CheckConstraint(
            "relation IN ('head', 'spouse', 'child', 'parent', 'grandchild', 'other')",
            name="ck_people_relation",
        ),
    )
    op.create_index("ix_people_household", "people", ["household_id"])
    op.create_index("ix_people_name_birth", "people", ["name", "birth_date"])
    op.create_table(
        "person_tags",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "person_id",
            sa.BigInteger(),
            sa.ForeignKey("people.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("tag", sa.String(32), nullable=False),
        sa.Column("details", JSONB(), server_default=EMPTY, nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column(
            "batch_id",
            sa.BigInteger(),
            sa.ForeignKey("register_batches.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("recorded_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.UniqueConstraint("person_id", "tag", name="uq_person_tags"),
    )
    op.create_index("ix_person_tags_tag", "person_tags", ["tag"])
    op.create_table(
        "enterprises",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("credit_code", sa.String(18), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(300), server_default="", nullable=False),
        sa.Column("industry", sa.String(32), nullable=True),
        sa.Column("risk_class", sa.String(16), nullable=True),
        sa.Column("contact", sa.String(100), nullable=True),
        sa.Column("phone_sealed", sa.LargeBinary(), nullable=True),
        *_placed(),
        _provenance(),
        sa.CheckConstraint(
            "risk_class IN ('low', 'normal', 'elevated', 'high')", name="ck_enterprises_risk"
        ),
    )
    _spatial("enterprises")
    op.create_table(
        "things",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), server_default="", nullable=False),
        *_placed(),
        _provenance(),
    )
    _spatial("things")
    op.create_table(
        "register_changes",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "batch_id",
            sa.BigInteger(),
            sa.ForeignKey("register_batches.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("old", JSONB(), nullable=True),
        sa.Column("new", JSONB(), nullable=True),
        sa.Column("old_provenance", JSONB(), nullable=True),
    )
    op.create_index("ix_register_changes_batch", "register_changes", ["batch_id"])
    op.create_table(
        "register_conflicts",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "batch_id",
            sa.BigInteger(),
            sa.ForeignKey("register_batches.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("entity", sa.String(16), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("current", JSONB(), nullable=True),
        sa.Column("proposed", JSONB(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("status", sa.String(8), server_default="open", nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.CheckConstraint("status IN ('open', 'kept', 'taken')", name="ck_register_conflicts"),
    )
    op.create_index(
        "ix_register_conflicts_open",
        "register_conflicts",
        ["entity", "entity_id"],
        postgresql_where=sa.text("settled_at IS NULL"),
    )
    op.create_table(
        "register_access_log",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("shown", JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
    )
    op.create_index("ix_register_access_person", "register_access_log", ["person_id"])
    op.create_index("ix_register_access_user", "register_access_log", ["user_id", "at"])


def downgrade() -> None:
    for table in (
        "register_access_log",
        "register_conflicts",
        "register_changes",
        "things",
        "enterprises",
        "person_tags",
        "people",
        "households",
        "houses",
        "register_batches",
    ):
        op.drop_table(table)
