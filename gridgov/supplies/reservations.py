"""Reserve stock all-or-nothing, then release or fulfil it; stock never goes negative.

Every lot a reservation touches is locked (FOR UPDATE, in id order so that two reservations
never deadlock) before anything is checked, so concurrent reservations queue up on the rows
and each sees what the previous one left. A CHECK constraint (0 <= reserved <= quantity) is
the last line of defence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.errors import FieldError, OutOfScope
from gridgov.incidents.events import target_of
from gridgov.incidents.models import Incident
from gridgov.supplies.models import Reservation, ReservationLine, StockLot, Stockpile, SupplyEvent
from gridgov.users.models import User
from gridgov.users.roles import Action, Target, allowed

TRANSITIONS = {("reserved", "release"): "released", ("reserved", "fulfil"): "fulfilled"}


@dataclass(frozen=True)
class Want:
    """One requested line: this much of an item from this stockpile."""

    stockpile_code: str
    item_code: str
    quantity: int


@dataclass(frozen=True)
class Shortage:
    stockpile_code: str
    item_code: str
    requested: int
    available: int


class InsufficientStock(Exception):
    """Some line asks for more than is available (409); nothing was reserved."""

    def __init__(self, shortages: list[Shortage]) -> None:
        super().__init__(
            ", ".join(f"{s.stockpile_code}/{s.item_code}: {s.available}" for s in shortages)
        )
        self.shortages = shortages


class ReservationNotFound(LookupError):
    def __init__(self, reservation_id: int) -> None:
        super().__init__(f"reservation {reservation_id} does not exist")
        self.reservation_id = reservation_id


class ReservationConflict(Exception):
    """The reservation is not in a status that allows the action (409)."""

    def __init__(self, status: str, action: str) -> None:
        super().__init__(f"cannot {action} a reservation that is {status}")
        self.status = status
        self.action = action


class StockForbidden(PermissionError):
    """The stockpile lies outside the caller's scope (403)."""

    def __init__(self, stockpile_code: str) -> None:
        super().__init__(f"not allowed to use stockpile {stockpile_code}")
        self.stockpile_code = stockpile_code


def _target(stockpile: Stockpile) -> Target:
    codes = (
        stockpile.city_code,
        stockpile.district_code,
        stockpile.street_code,
        stockpile.community_code,
    )
    return Target(area_codes=frozenset(c for c in codes if c), grid_code=stockpile.grid_code)


def _check_stockpiles(session: Session, reservation_id: int, actor: User) -> None:
    """A reservation is the caller's to read, release or fulfil when every stockpile it takes
    from lies in the caller's RESERVE scope (StockForbidden, 403, names the first that does
    not)."""
    stockpiles = session.scalars(
        select(Stockpile)
        .where(
            Stockpile.id.in_(
                select(ReservationLine.stockpile_id).where(
                    ReservationLine.reservation_id == reservation_id
                )
            )
        )
        .order_by(Stockpile.code)
    )
    for stockpile in stockpiles:
        if not allowed(actor.actor(), Action.RESERVE, _target(stockpile)):
            raise StockForbidden(stockpile.code)


def get_reservation(session: Session, *, reservation_id: int, actor: User) -> Reservation:
    """One reservation, if every stockpile it takes from lies in the caller's scope."""
    reservation = session.get(Reservation, reservation_id)
    if reservation is None:
        raise ReservationNotFound(reservation_id)
    _check_stockpiles(session, reservation_id, actor)
    return reservation


def _check_incident(session: Session, actor: User, incident_id: int | None) -> None:
    """A reservation may name an incident the caller may read (and only one that exists)."""
    if incident_id is None:
        return
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise FieldError("incident_id", "incident.not_found", id=incident_id)
    if not allowed(actor.actor(), Action.READ, target_of(session, incident)):
        raise OutOfScope("scope.incident", id=incident_id)


def reserve(
    session: Session,
    *,
    actor: User,
    wants: Sequence[Want],
    purpose: str = "",
    incident_id: int | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> Reservation:
    """Reserve every line or none: 409 (InsufficientStock) names what is available."""
    now = now or datetime.now(UTC)
    today = today or now.date()
    if not wants:
        raise FieldError("lines", "supplies.lines_required")
    for n, want in enumerate(wants):
        if want.quantity <= 0:
            raise FieldError(
                f"lines[{n}].quantity", "supplies.quantity_positive", item=want.item_code
            )
    codes = {w.stockpile_code for w in wants}
    stockpiles = {
        s.code: s for s in session.scalars(select(Stockpile).where(Stockpile.code.in_(codes)))
    }
    for n, want in enumerate(wants):
        stockpile = stockpiles.get(want.stockpile_code)
        if stockpile is None:
            raise FieldError(
                f"lines[{n}].stockpile", "supplies.unknown_stockpile", code=want.stockpile_code
            )
        if not allowed(actor.actor(), Action.RESERVE, _target(stockpile)):
            raise StockForbidden(want.stockpile_code)
    _check_incident(session, actor, incident_id)
    requested: dict[tuple[int, str], int] = defaultdict(int)
    for want in wants:
        requested[(stockpiles[want.stockpile_code].id, want.item_code)] += want.quantity
    lots = _lock_lots(session, requested, today)
    shortages = []
    for (stockpile_id, item), quantity in requested.items():
        free = sum(lot.quantity - lot.reserved for lot in lots[(stockpile_id, item)])
        if free < quantity:
            code = next(s.code for s in stockpiles.values() if s.id == stockpile_id)
            shortages.append(Shortage(code, item, quantity, free))
    if shortages:
        raise InsufficientStock(shortages)
    reservation = Reservation(
        status="reserved",
        incident_id=incident_id,
        purpose=purpose,
        created_by=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(reservation)
    session.flush()
    for (stockpile_id, item), quantity in requested.items():
        for lot, take in _first_expiring_first(lots[(stockpile_id, item)], quantity):
            lot.reserved += take
            session.add(
                ReservationLine(
                    reservation_id=reservation.id,
                    lot_id=lot.id,
                    stockpile_id=stockpile_id,
                    item_code=item,
                    quantity=take,
                )
            )
    _event(
        session,
        reservation,
        "reserve",
        None,
        actor,
        now,
        {"lines": [w.__dict__ for w in wants], "incident_id": incident_id},
    )
    session.flush()
    return reservation


def _lock_lots(
    session: Session, requested: dict[tuple[int, str], int], today: date
) -> dict[tuple[int, str], list[StockLot]]:
    """Lock the usable lots of every requested (stockpile, item), in id order."""
    stockpile_ids = sorted({s for s, _ in requested})
    items = sorted({i for _, i in requested})
    rows = session.scalars(
        select(StockLot)
        .where(StockLot.stockpile_id.in_(stockpile_ids), StockLot.item_code.in_(items))
        .order_by(StockLot.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    lots: dict[tuple[int, str], list[StockLot]] = defaultdict(list)
    for lot in rows:
        usable = lot.expires_on is None or lot.expires_on >= today
        if usable and (lot.stockpile_id, lot.item_code) in requested:
            lots[(lot.stockpile_id, lot.item_code)].append(lot)
    return lots


def _first_expiring_first(lots: list[StockLot], quantity: int) -> list[tuple[StockLot, int]]:
    """Take from the lots that expire soonest (lots that never expire last)."""
    order = sorted(
        lots, key=lambda lot: (lot.expires_on is None, lot.expires_on or date.max, lot.id)
    )
    taken = []
    for lot in order:
        if quantity == 0:
            break
        take = min(lot.quantity - lot.reserved, quantity)
        if take > 0:
            taken.append((lot, take))
            quantity -= take
    return taken


def release(
    session: Session, *, reservation_id: int, actor: User, now: datetime | None = None
) -> Reservation:
    """Give the reserved quantities back to the stock."""
    return _finish(session, reservation_id, actor, "release", now)


def fulfil(
    session: Session, *, reservation_id: int, actor: User, now: datetime | None = None
) -> Reservation:
    """The reserved quantities left the stockpiles: take them off the stock."""
    return _finish(session, reservation_id, actor, "fulfil", now)


def _finish(
    session: Session, reservation_id: int, actor: User, action: str, now: datetime | None
) -> Reservation:
    now = now or datetime.now(UTC)
    reservation = session.get(
        Reservation, reservation_id, with_for_update=True, populate_existing=True
    )
    if reservation is None:
        raise ReservationNotFound(reservation_id)
    _check_stockpiles(session, reservation_id, actor)
    lines = session.scalars(
        select(ReservationLine).where(ReservationLine.reservation_id == reservation_id)
    ).all()
    new_status = TRANSITIONS.get((reservation.status, action))
    if new_status is None:
        raise ReservationConflict(reservation.status, action)
    lots = {
        lot.id: lot
        for lot in session.scalars(
            select(StockLot)
            .where(StockLot.id.in_([line.lot_id for line in lines]))
            .order_by(StockLot.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    for line in lines:
        lot = lots[line.lot_id]
        lot.reserved -= line.quantity
        if action == "fulfil":
            lot.quantity -= line.quantity
    before = reservation.status
    reservation.status = new_status
    reservation.updated_at = now
    _event(session, reservation, action, before, actor, now, {})
    session.flush()
    return reservation


def _event(
    session: Session,
    reservation: Reservation,
    action: str,
    before: str | None,
    actor: User,
    now: datetime,
    details: dict[str, object],
) -> None:
    session.add(
        SupplyEvent(
            reservation_id=reservation.id,
            action=action,
            from_status=before,
            to_status=reservation.status,
            actor_id=actor.id,
            at=now,
            details=details,
        )
    )


def lines_of(session: Session, *, reservation_id: int) -> list[tuple[ReservationLine, Stockpile]]:
    """What a reservation holds, with its stockpiles."""
    rows = session.execute(
        select(ReservationLine, Stockpile)
        .join(Stockpile, Stockpile.id == ReservationLine.stockpile_id)
        .where(ReservationLine.reservation_id == reservation_id)
        .order_by(ReservationLine.id)
    )
    return [(line, stockpile) for line, stockpile in rows]
