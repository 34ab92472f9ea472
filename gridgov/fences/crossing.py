"""Fence crossings with a dwell time (no database).

A tracker's side of a fence changes only once it has stayed on the new side for
``dwell_seconds`` or ``dwell_positions`` positions, whichever comes first; GPS jitter at the
edge produces no events. The first position ever seen sets the side without an event.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta


@dataclass(frozen=True)
class Side:
    """Where a tracker stands with respect to one fence."""

    inside: bool
    candidate_inside: bool | None = None
    candidate_since: datetime | None = None
    candidate_count: int = 0
    last_at: datetime | None = None


@dataclass(frozen=True)
class Dwell:
    seconds: float = 30.0
    positions: int = 3


def step(side: Side | None, inside: bool, at: datetime, dwell: Dwell) -> tuple[Side, str | None]:
    """The side after one position, and "enter"/"exit" when a crossing is confirmed.

    >>> t0 = datetime(2026, 1, 1)
    >>> s, e = step(None, False, t0, Dwell(positions=2))
    >>> s, e = step(s, True, t0 + timedelta(seconds=1), Dwell(positions=2)); e is None
    True
    >>> step(s, True, t0 + timedelta(seconds=2), Dwell(positions=2))[1]
    'enter'
    """
    if side is None:
        return Side(inside=inside, last_at=at), None
    if side.last_at is not None and at <= side.last_at:
        return side, None  # an old or repeated position cannot move the tracker back in time
    if inside == side.inside:
        return Side(inside=inside, last_at=at), None
    if side.candidate_inside is inside and side.candidate_since is not None:
        pending = replace(side, candidate_count=side.candidate_count + 1, last_at=at)
    else:
        pending = Side(side.inside, inside, at, 1, at)
    assert pending.candidate_since is not None
    stayed = at - pending.candidate_since >= timedelta(seconds=dwell.seconds)
    if stayed or pending.candidate_count >= dwell.positions:
        return Side(inside=inside, last_at=at), "enter" if inside else "exit"
    return pending, None


def breaches(rule: str, event: str) -> bool:
    """Whether a crossing breaks the fence's rule.

    >>> breaches("no_entry", "enter"), breaches("no_exit", "enter"), breaches("watch", "exit")
    (True, False, False)
    """
    return (rule == "no_entry" and event == "enter") or (rule == "no_exit" and event == "exit")


def active_at(local: time, start: time | None, end: time | None) -> bool:
    """Whether a fence active over [start, end) applies at this local time (may wrap midnight).

    >>> active_at(time(23), time(22), time(6)), active_at(time(12), time(22), time(6))
    (True, False)
    """
    if start is None or end is None:
        return True
    if start <= end:
        return start <= local < end
    return local >= start or local < end
