"""The administrative hierarchy: city > district > street > community > grid."""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    """A level of the hierarchy, top to bottom."""

    CITY = "city"
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    GRID = "grid"

    @property
    def parent(self) -> Level | None:
        """The level directly above, or None for the city.

        >>> Level.GRID.parent
        <Level.COMMUNITY: 'community'>
        """
        index = ORDER.index(self)
        return ORDER[index - 1] if index else None

    def below(self) -> tuple[Level, ...]:
        """Every level under this one, top to bottom.

        >>> [level.value for level in Level.STREET.below()]
        ['community', 'grid']
        """
        return ORDER[ORDER.index(self) + 1 :]

    @property
    def child(self) -> Level | None:
        """The level directly below, or None for grids."""
        index = ORDER.index(self)
        return ORDER[index + 1] if index + 1 < len(ORDER) else None


ORDER: tuple[Level, ...] = tuple(Level)
AREA_LEVELS: tuple[Level, ...] = ORDER[:-1]  # everything but grids lives in `areas`
