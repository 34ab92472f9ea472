"""Things that stay put while the boundaries move: placed again when a generation activates.

Stockpiles, sensors and the register's houses, enterprises and things keep the grid and the
area chain they lie in, so that scopes, routing, coverage and the register's read table
never locate them again on a hot path. When a new boundary generation becomes active those
codes would point into the old one; ``follow_boundaries`` places every such row again, in
set-based SQL inside the activation's transaction: the grid covering the position (the
smallest code on a shared edge, as everywhere), else the nearest grid within the edge
tolerance, else none (a sensor upstream of the city, a stockpile the new boundaries left
outside). Incidents are records of where something was reported and keep their codes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

# Metres outside every grid within which a thing still joins the nearest grid (settings:
# GRIDGOV_EDGE_TOLERANCE_M).
DEFAULT_EDGE_TOLERANCE_M = 200.0

# Tables of placed things: each has position, grid_code and the four area codes (the
# register's houses, enterprises and things too: gridgov/register/models.py, Placed).
PLACED_TABLES = ("stockpiles", "sensors", "houses", "enterprises", "things")

_CHAIN = """
WITH RECURSIVE chain AS (
    SELECT g.code AS grid, a.code, a.level, a.parent_id
    FROM grids g JOIN areas a ON a.id = g.parent_id
    WHERE g.generation_id = :generation
  UNION ALL
    SELECT c.grid, p.code, p.level, p.parent_id
    FROM chain c JOIN areas p ON p.id = c.parent_id
), levels AS (
    SELECT grid,
           max(code) FILTER (WHERE level = 'community') AS community,
           max(code) FILTER (WHERE level = 'street') AS street,
           max(code) FILTER (WHERE level = 'district') AS district,
           max(code) FILTER (WHERE level = 'city') AS city
    FROM chain GROUP BY grid
), nearest AS (
    SELECT t.id, n.code AS grid, n.distance_m
    FROM {table} t
    CROSS JOIN LATERAL (
        SELECT g.code, ST_Distance(g.geom::geography, t.position::geography) AS distance_m
        FROM grids g
        WHERE g.generation_id = :generation
        ORDER BY g.geom <-> t.position, g.code
        LIMIT 1
    ) n
), placed AS (
    SELECT n.id, CASE WHEN n.distance_m <= :tolerance THEN n.grid END AS grid
    FROM nearest n
)
UPDATE {table} t
SET grid_code = p.grid,
    community_code = l.community,
    street_code = l.street,
    district_code = l.district,
    city_code = l.city
FROM placed p LEFT JOIN levels l ON l.grid = p.grid
WHERE t.id = p.id
RETURNING p.grid IS NULL AS outside
"""


@dataclass(frozen=True)
class Followed:
    """What placing one table again did."""

    table: str
    rows: int
    outside: int  # beyond the tolerance of every grid


def follow_boundaries(
    session: Session, *, generation_id: int, tolerance_m: float
) -> list[Followed]:
    """Place every stockpile, sensor, house, enterprise and thing in ``generation_id`` (one
    statement a table)."""
    out = []
    for table in PLACED_TABLES:
        rows = session.execute(
            text(_CHAIN.format(table=table)),
            {"generation": generation_id, "tolerance": tolerance_m},
        ).all()
        out.append(Followed(table, len(rows), sum(1 for r in rows if r.outside)))
    return out
