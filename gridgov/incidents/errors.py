"""Why an incident operation was refused; the API maps each to a status code."""

from __future__ import annotations


class IncidentError(ValueError):
    """Bad input (422): ``field`` names what is wrong, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class OutsideGrids(IncidentError):
    """The position is in no grid and the GPS accuracy circle reaches none (422)."""

    def __init__(self, distance_m: float | None, nearest_grid: str | None) -> None:
        super().__init__("position", f"outside every grid; the nearest is {distance_m} m away")
        self.distance_m = distance_m
        self.nearest_grid = nearest_grid


class IncidentNotFound(LookupError):
    """No such incident (404)."""


class Forbidden(PermissionError):
    """The action is outside the caller's role or scope (403)."""

    def __init__(self, action: str) -> None:
        super().__init__(f"not allowed to {action} this incident")
        self.action = action
