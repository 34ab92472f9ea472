"""Why an incident operation was refused; the API maps each to a status code.

Field errors carry a message key (see gridgov.errors) so the caller can say them in the
user's language.
"""

from __future__ import annotations

from gridgov.errors import FieldError


class IncidentError(FieldError):
    """Bad input about an incident (422)."""


class OutsideGrids(IncidentError):
    """The position is in no grid and the GPS accuracy circle reaches none (422)."""

    def __init__(self, distance_m: float | None, nearest_grid: str | None) -> None:
        super().__init__("position", "incident.outside_grids", distance_m=distance_m)
        self.distance_m = distance_m
        self.nearest_grid = nearest_grid


class IncidentNotFound(LookupError):
    """No such incident (404)."""

    def __init__(self, incident_id: int) -> None:
        super().__init__(f"incident {incident_id} does not exist")
        self.incident_id = incident_id


class Forbidden(PermissionError):
    """The action is outside the caller's role or scope (403)."""

    def __init__(self, action: str) -> None:
        super().__init__(f"not allowed to {action} this incident")
        self.action = action
