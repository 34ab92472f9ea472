"""Every table, imported in one place so that Alembic sees the whole schema."""

from gridgov.boundaries.models import Area, Generation, Grid
from gridgov.db import Base
from gridgov.departments.models import Department
from gridgov.fences.models import Fence, FenceChange, FenceEvent, Tracker, TrackerSide
from gridgov.incidents.models import (
    Incident,
    IncidentEvent,
    IncidentPhoto,
    StreetRating,
    Whistle,
)
from gridgov.notifications.models import Notification, Webhook, WebhookDelivery
from gridgov.register.models import (
    Enterprise,
    House,
    Household,
    Person,
    PersonTag,
    RegisterAccess,
    RegisterBatch,
    RegisterChange,
    RegisterConflict,
    Thing,
)
from gridgov.responsibilities.models import Category, ResponsibilityRule
from gridgov.sensors.models import Alert, Reading, Sensor, SensorRule
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
from gridgov.visits.models import VisitPlace, VisitRegistration

__all__ = [
    "Alert",
    "Area",
    "Base",
    "Category",
    "Department",
    "Enterprise",
    "Fence",
    "FenceChange",
    "FenceEvent",
    "Generation",
    "Grid",
    "House",
    "Household",
    "Incident",
    "IncidentEvent",
    "IncidentPhoto",
    "Item",
    "Notification",
    "Person",
    "PersonTag",
    "Reading",
    "RegisterAccess",
    "RegisterBatch",
    "RegisterChange",
    "RegisterConflict",
    "Reservation",
    "ReservationLine",
    "ResponsibilityRule",
    "Road",
    "Sensor",
    "SensorRule",
    "StockLot",
    "Stockpile",
    "StreetRating",
    "SupplyEvent",
    "Thing",
    "Tracker",
    "TrackerSide",
    "User",
    "VisitPlace",
    "VisitRegistration",
    "Webhook",
    "WebhookDelivery",
    "Whistle",
]
