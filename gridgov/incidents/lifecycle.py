"""The incident life cycle as a table: (status, action) -> new status. No database.

    reported -> dispatched -> accepted -> resolved -> closed
                   |  ^          |           |
                   |  +-- rejected           +-- reopen -> dispatched
                   +-- escalate (deadline lapsed, or a whistle with nobody named)

Whistles and check-ins do not move the status; they are in the table so that every action
on an incident is checked the same way.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    REPORTED = "reported"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Move(StrEnum):
    """Actions that touch an incident's life cycle."""

    DISPATCH = "dispatch"
    ACCEPT = "accept"
    REJECT = "reject"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    ESCALATE = "escalate"
    WHISTLE = "whistle"
    CHECK_IN = "check_in"


S, M = Status, Move
TRANSITIONS: dict[tuple[Status, Move], Status] = {
    (S.REPORTED, M.DISPATCH): S.DISPATCHED,
    (S.REJECTED, M.DISPATCH): S.DISPATCHED,
    (S.DISPATCHED, M.DISPATCH): S.DISPATCHED,  # an operator reassigns
    (S.DISPATCHED, M.ACCEPT): S.ACCEPTED,
    (S.DISPATCHED, M.REJECT): S.REJECTED,
    (S.ACCEPTED, M.RESOLVE): S.RESOLVED,
    (S.RESOLVED, M.CLOSE): S.CLOSED,
    (S.RESOLVED, M.REOPEN): S.DISPATCHED,
    (S.REPORTED, M.ESCALATE): S.DISPATCHED,
    (S.DISPATCHED, M.ESCALATE): S.DISPATCHED,
    (S.ACCEPTED, M.ESCALATE): S.DISPATCHED,
    (S.REJECTED, M.ESCALATE): S.DISPATCHED,
    (S.DISPATCHED, M.WHISTLE): S.DISPATCHED,
    (S.ACCEPTED, M.WHISTLE): S.ACCEPTED,
    (S.DISPATCHED, M.CHECK_IN): S.DISPATCHED,
    (S.ACCEPTED, M.CHECK_IN): S.ACCEPTED,
    (S.RESOLVED, M.CHECK_IN): S.RESOLVED,
}
OPEN_STATUSES = frozenset({S.REPORTED, S.DISPATCHED, S.ACCEPTED, S.REJECTED})
# Statuses in which a deadline runs: lapsing it escalates the incident.
DEADLINE_STATUSES = frozenset({S.DISPATCHED, S.ACCEPTED, S.REJECTED})


class TransitionNotAllowed(ValueError):
    """The action is not allowed from the incident's current status."""

    def __init__(self, status: Status, move: Move) -> None:
        super().__init__(f"cannot {move.value} an incident that is {status.value}")
        self.status = status
        self.move = move


def transition(status: Status | str, move: Move | str) -> Status:
    """The status after ``move``, or TransitionNotAllowed.

    >>> transition("dispatched", "accept")
    <Status.ACCEPTED: 'accepted'>
    """
    status, move = Status(status), Move(move)
    try:
        return TRANSITIONS[(status, move)]
    except KeyError:
        raise TransitionNotAllowed(status, move) from None


def moves_from(status: Status | str) -> list[Move]:
    """Every move allowed from ``status`` (what a page offers as buttons)."""
    status = Status(status)
    return [move for (s, move) in TRANSITIONS if s is status]
