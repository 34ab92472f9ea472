"""Which grid each register row lies in: the grid index on the way in. When a new boundary
generation is switched on, ``gridgov.boundaries.follow`` places every row again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gridgov.boundaries.index import NO_GRID, GridIndex
from gridgov.boundaries.levels import Level


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
