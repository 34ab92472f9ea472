"""Every table, imported in one place so that Alembic sees the whole schema."""

from gridgov.boundaries.models import Area, Generation, Grid
from gridgov.db import Base
from gridgov.departments.models import Department
from gridgov.incidents.models import (
    Incident,
    IncidentEvent,
    IncidentPhoto,
    StreetRating,
    Whistle,
)
from gridgov.responsibilities.models import Category, ResponsibilityRule
from gridgov.supplies.models import (
    Item,
    Reservation,
    ReservationLine,
    Road,
    StockLot,
    Stockpile,
    SupplyEvent,
)
from gridgov.users.models import User

__all__ = [
    "Area",
    "Base",
    "Category",
    "Department",
    "Generation",
    "Grid",
    "Incident",
    "IncidentEvent",
    "IncidentPhoto",
    "Item",
    "Reservation",
    "ReservationLine",
    "ResponsibilityRule",
    "Road",
    "StockLot",
    "Stockpile",
    "StreetRating",
    "SupplyEvent",
    "User",
    "Whistle",
]
