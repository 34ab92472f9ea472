"""Why an incident operation was refused; the API maps each to a status code.

Each error carries a message key and its values, so the caller can say it in the user's
language (``reason(lang)``); ``str(error)`` is the English text.
"""

from __future__ import annotations

from typing import Any

from gridgov.i18n import t


class IncidentError(ValueError):
    """Bad input (422): ``field`` names what is wrong, the key says why."""

    def __init__(self, field: str, key: str, **params: Any) -> None:
        self.field = field
        self.key = key
        self.params = params
        super().__init__(f"{field}: {self.reason('en')}")

    def reason(self, lang: str = "zh") -> str:
        return t(self.key, lang, **self.params)


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
