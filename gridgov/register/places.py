"""Which grid each register row lies in: the grid index on the way in, PostGIS when a new
boundary generation is switched on (every row again, in one statement per table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridgov.boundaries.index import NO_GRID, GridIndex
from gridgov.boundaries.levels import Level

PLACED_TABLES = ("houses", "enterprises", "things")


@dataclass(frozen=True)
class Codes:
    """A grid and the areas above it, as the register rows keep them."""

    grid_code: str | None = None
    community_code: str | None = None
    street_code: str | None = None
    district_code: str | None = None
    city_code: str | None = None

    def columns(self) -> dict[str, str | None]:
        """The values by column name."""
        return {
            "grid_code": self.grid_code,
            "community_code": self.community_code,
            "street_code": self.street_code,
            "district_code": self.district_code,
            "city_code": self.city_code,
        }

    def area_codes(self) -> frozenset[str]:
        """Every area code of the chain (city down to community)."""
        codes = (self.community_code, self.street_code, self.district_code, self.city_code)
        return frozenset(c for c in codes if c)


def locate_all(index: GridIndex | None, points: Sequence[tuple[float, float]]) -> list[Codes]:
    """The grid and areas of each (lon, lat) by the in-memory index (the same answer as
    ``locate``); a point outside every grid, or no active generation, gets no codes."""
    if index is None or not points:
        return [Codes() for _ in points]
    found = index.locate_many([p[0] for p in points], [p[1] for p in points])
    answers = []
    for grid_id, code in zip(found, index.code_of(found), strict=True):
        place = index.place_of(str(code)) if grid_id != NO_GRID else None
        if place is None:
            answers.append(Codes())
            continue
        chain = place.chain()
        answers.append(
            Codes(
                grid_code=place.code,
                community_code=chain.get(Level.COMMUNITY),
                street_code=chain.get(Level.STREET),
                district_code=chain.get(Level.DISTRICT),
                city_code=chain.get(Level.CITY),
            )
        )
    return answers


_REGRID = """
WITH located AS (
    SELECT t.id, g.code AS grid, c.code AS community, s.code AS street,
           d.code AS district, ci.code AS city
    FROM {table} t
    LEFT JOIN LATERAL (
        SELECT code, community_id FROM grids
        WHERE generation_id = :generation AND ST_Covers(geom, t.position)
        ORDER BY code LIMIT 1
    ) g ON true
    LEFT JOIN areas c ON c.id = g.community_id
    LEFT JOIN areas s ON s.id = c.parent_id
    LEFT JOIN areas d ON d.id = s.parent_id
    LEFT JOIN areas ci ON ci.id = d.parent_id
    WHERE t.position IS NOT NULL
)
UPDATE {table} t
SET grid_code = located.grid, community_code = located.community,
    street_code = located.street, district_code = located.district, city_code = located.city
FROM located
WHERE located.id = t.id
  AND (t.grid_code, t.community_code, t.street_code, t.district_code, t.city_code)
      IS DISTINCT FROM
      (located.grid, located.community, located.street, located.district, located.city)
"""


def follow_generation(session: Session, *, generation_id: int) -> dict[str, int]:
    """Put every house, enterprise and thing in the grid of ``generation_id`` that covers it
    (the smallest code on a shared edge, as the index decides); rows left outside every
    grid lose their codes. Returns how many rows of each table moved."""
    moved = {}
    for table in PLACED_TABLES:
        result = session.execute(text(_REGRID.format(table=table)), {"generation": generation_id})
        moved[table] = int(getattr(result, "rowcount", 0) or 0)
    return moved
