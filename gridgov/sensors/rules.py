"""Sensor rules as pure functions: which readings breach, and when alerts open and clear.

A rule breaches when a value is above ``high``, below ``low``, outside [low, high], or
changes faster than ``max_rate_per_minute``. An alert opens once a run of breaches is at
least ``sustain_count`` readings long and spans ``sustain_minutes``; a silence longer than
``max_gap_minutes`` breaks the run. It clears once the readings have been fine for
``clear_minutes`` (hysteresis), so a sensor flapping at the threshold does not flood anyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple


@dataclass(frozen=True)
class RuleSpec:
    condition: str  # above / below / outside / rate
    low: float | None = None
    high: float | None = None
    max_rate_per_minute: float | None = None
    sustain_count: int = 1
    sustain_minutes: float = 0.0
    clear_minutes: float = 0.0
    max_gap_minutes: float = 60.0

    @property
    def lookback(self) -> timedelta:
        """How far back a window must reach to judge readings correctly."""
        minutes = max(self.sustain_minutes, self.clear_minutes, self.max_gap_minutes)
        return timedelta(minutes=minutes)


class Sample(NamedTuple):
    """One reading: a named tuple, because a batch makes tens of thousands of them."""

    at: datetime
    value: float


@dataclass(frozen=True)
class Transition:
    """An alert opens or clears at ``at``; ``samples`` are the readings that decided it."""

    kind: str  # open / clear
    at: datetime
    samples: tuple[Sample, ...]


def breached(rule: RuleSpec, sample: Sample, previous: Sample | None) -> bool:
    """Whether one reading breaches the rule (rate needs the reading before it).

    >>> breached(RuleSpec("below", low=4.0), Sample(datetime(2026, 1, 1), 3.2), None)
    True
    """
    v = sample.value
    match rule.condition:
        case "above":
            return rule.high is not None and v > rule.high
        case "below":
            return rule.low is not None and v < rule.low
        case "outside":
            return (rule.low is not None and v < rule.low) or (
                rule.high is not None and v > rule.high
            )
        case "rate":
            if previous is None or rule.max_rate_per_minute is None:
                return False
            minutes = (sample.at - previous.at).total_seconds() / 60
            return minutes > 0 and abs(v - previous.value) / minutes > rule.max_rate_per_minute
    raise ValueError(f"unknown condition {rule.condition!r}")


@dataclass(frozen=True)
class RunState:
    """Where a replay stands after its last reading: enough to go on with the next ones."""

    is_open: bool = False
    run: tuple[Sample, ...] = ()  # the current run of breaches (the evidence for an alert)
    run_length: int = 0
    run_started: datetime | None = None
    fine_since: datetime | None = None
    previous: Sample | None = None

    @property
    def last_at(self) -> datetime | None:
        return self.previous.at if self.previous else None


EVIDENCE = 20  # readings kept as the evidence of an alert


def advance(
    rule: RuleSpec, samples: Sequence[Sample], state: RunState
) -> tuple[list[Transition], RunState]:
    """Go on from ``state`` with readings later than its last one, in time order."""
    if calm(rule, samples, state):
        # Nothing open, no run under way, no reading out of bounds: only time moves on.
        return [], RunState(previous=max(samples, key=lambda s: s.at))
    gap = timedelta(minutes=rule.max_gap_minutes)
    sustain = timedelta(minutes=rule.sustain_minutes)
    settle = timedelta(minutes=rule.clear_minutes)
    is_open, run, length = state.is_open, list(state.run), state.run_length
    started = state.run_started
    fine_since, previous = state.fine_since, state.previous
    out: list[Transition] = []
    for sample in sorted(samples, key=lambda s: s.at):
        if previous is not None and sample.at - previous.at > gap:
            run, length, started = [], 0, None  # silent too long: the run is broken
        if breached(rule, sample, previous):
            fine_since = None
            run = [*run[-(EVIDENCE - 1) :], sample]
            length += 1
            started = started or sample.at
            long_enough = length >= rule.sustain_count and sample.at - started >= sustain
            if not is_open and long_enough:
                is_open = True
                out.append(Transition("open", sample.at, tuple(run)))
        else:
            run, length, started = [], 0, None
            if is_open:
                fine_since = fine_since or sample.at
                if sample.at - fine_since >= settle:
                    is_open = False
                    fine_since = None
                    out.append(Transition("clear", sample.at, (sample,)))
        previous = sample
    return out, RunState(is_open, tuple(run), length, started, fine_since, previous)


def calm(rule: RuleSpec, samples: Sequence[Sample], state: RunState) -> bool:
    """Whether these readings certainly change nothing (checked on their extremes only).

    >>> rule = RuleSpec("above", high=10)
    >>> calm(rule, [Sample(datetime(2026, 1, 1), 4.0)], RunState())
    True
    """
    if state.is_open or state.run_length or not samples:
        return False
    values = [s.value for s in samples]
    return calm_between(rule, min(values), max(values))


def calm_between(rule: RuleSpec, low: float, high: float) -> bool:
    """Whether readings between ``low`` and ``high`` certainly breach nothing (for a series
    with nothing open and no run under way).

    >>> calm_between(RuleSpec("outside", low=6.5, high=8.5), 7.0, 8.0)
    True
    """
    if rule.condition == "rate":
        return False
    if rule.condition == "above":
        return rule.high is not None and high <= rule.high
    if rule.condition == "below":
        return rule.low is not None and low >= rule.low
    return (rule.low is None or low >= rule.low) and (rule.high is None or high <= rule.high)


def replay(rule: RuleSpec, samples: Sequence[Sample], *, open_at_start: bool) -> list[Transition]:
    """Walk readings in time order from a known state and say where alerts open and clear.

    >>> t = [datetime(2026, 1, 1, 0, m) for m in range(6)]
    >>> rule = RuleSpec("above", high=10, sustain_count=2)
    >>> series = [Sample(at, v) for at, v in zip(t, [5, 11, 12, 13, 4, 5])]
    >>> [(x.kind, x.at.minute) for x in replay(rule, series, open_at_start=False)]
    [('open', 2), ('clear', 4)]
    """
    transitions, _ = advance(rule, samples, RunState(is_open=open_at_start))
    return transitions
