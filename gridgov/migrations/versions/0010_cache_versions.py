"""Versions of what each API process keeps in memory, and the duplicate search's index.

Every statement that writes boundaries (generations, areas, grids) or the catalogue
(categories, departments, responsibility rules) gives its kind a new version number in
``cache_versions``; processes poll the two numbers once a second, together with the active
generation, and rebuild what they keep when a number moved. The numbers come from a
sequence, so a rolled-back change never hands its number to a later committed one.

The duplicate search (same category, open, within 50 m) gets a partial GiST index over open
incidents by category and position, so it stays constant-time as closed incidents pile up.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WATCHED = {
    "boundaries": ("boundary_generations", "areas", "grids"),
    "catalogue": ("categories", "departments", "responsibility_rules"),
}


def upgrade() -> None:
    op.execute("CREATE SEQUENCE cache_version_numbers")
    op.execute(
        "CREATE TABLE cache_versions ("
        " name varchar(32) PRIMARY KEY,"
        " version bigint NOT NULL DEFAULT nextval('cache_version_numbers'))"
    )
    op.execute("INSERT INTO cache_versions (name) VALUES ('boundaries'), ('catalogue')")
    op.execute(
        """
        CREATE FUNCTION gridgov_bump_cache_version() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE cache_versions SET version = nextval('cache_version_numbers')
            WHERE name = TG_ARGV[0];
            RETURN NULL;
        END
        $$
        """
    )
    for kind, tables in WATCHED.items():
        for table in tables:
            op.execute(
                f"CREATE TRIGGER {table}_bump_cache_version"
                f" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}"
                f" FOR EACH STATEMENT EXECUTE FUNCTION gridgov_bump_cache_version('{kind}')"
            )
    op.execute(
        "CREATE INDEX ix_incidents_open_category_position ON incidents"
        " USING gist (category_code, geography(position))"
        " WHERE status IN ('reported', 'dispatched', 'accepted', 'rejected')"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_incidents_open_category_position")
    for tables in WATCHED.values():
        for table in tables:
            op.execute(f"DROP TRIGGER {table}_bump_cache_version ON {table}")
    op.execute("DROP FUNCTION gridgov_bump_cache_version()")
    op.execute("DROP TABLE cache_versions")
    op.execute("DROP SEQUENCE cache_version_numbers")
