"""Fence crossings with a dwell time (no database).

A tracker's side of a fence changes only once it has stayed on the new side for
``dwell_seconds`` or ``dwell_positions`` positions, whichever comes first; GPS jitter at the
edge produces no events. The first position ever seen sets the side without an event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import NamedTuple


class Fix(NamedTuple):
    """One good position (WGS84): a named tuple, because a batch makes thousands of them."""

    tracker_id: int
    at: datetime
    lon: float
    lat: float


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


def walk(
    side: Side | None, positions: Iterable[tuple[bool, datetime]], dwell: Dwell
) -> tuple[Side | None, list[tuple[int, str]]]:
    """``step`` over (inside, time) positions in time order: the side after the last one, and
    the confirmed crossings as (position number, "enter"/"exit").

    The same as stepping position by position, but a position that leaves the tracker where
    it stood, with nothing pending (the usual case), only moves the time on.

    >>> t0 = datetime(2026, 1, 1)
    >>> moves = [(False, t0), (True, t0 + timedelta(seconds=1)), (True, t0 + timedelta(seconds=2))]
    >>> side, crossings = walk(None, moves, Dwell(positions=2))
    >>> side.inside, crossings
    (True, [(2, 'enter')])
    """
    crossings: list[tuple[int, str]] = []
    # While positions stay on the side, ``step`` would make Side(inside, last_at=at) each
    # time (a pending crossing dropped): keep only the time, and make that side when needed.
    last = side.last_at if side is not None else None
    for n, (inside, at) in enumerate(positions):
        if side is not None and last is not None:
            if at <= last:
                continue  # an old or repeated position: nothing moves
            if inside == side.inside:
                last = at
                continue
        if side is not None and last != side.last_at:
            side = Side(side.inside, last_at=last)
        side, event = step(side, inside, at, dwell)
        last = side.last_at
        if event:
            crossings.append((n, event))
    if side is not None and last != side.last_at:
        side = Side(side.inside, last_at=last)
    return side, crossings


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
