"""Late readings, as pure functions: where a replay can start, which alert episodes the data
in time order shows, and how the stored alerts are brought in line with them.

Rule evaluation is causal: whether an alert is open after a reading depends only on that
reading and the ones before it. So when readings arrive late, everything before the
earliest of them stands, and the alerts stored for that time are right. The replay starts
at the last reading before it whose state can be told from the reading alone (and whether
an alert was open just after it), walks every reading from there in time order, and the
episodes it finds replace the stored alerts from that reading on (``plan``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gridgov.sensors.rules import RuleSpec, RunState, Sample, Transition, breached


@dataclass(frozen=True)
class Episode:
    """An alert as the data shows it: opened, cleared (None: still open), and the readings
    that opened it (empty for one that was open before the replay began)."""

    opened_at: datetime
    cleared_at: datetime | None
    evidence: tuple[Sample, ...] = ()
    cleared_by: tuple[Sample, ...] = ()


@dataclass(frozen=True)
class Stored:
    """An alert as it is stored (withdrawn ones are not history and never appear here)."""

    id: int
    opened_at: datetime
    cleared_at: datetime | None


def restart(
    rule: RuleSpec,
    samples: Sequence[Sample],
    *,
    before: datetime,
    open_after: Callable[[datetime], bool],
) -> tuple[int, RunState] | None:
    """The last reading earlier than ``before`` whose state is known, and that state.

    ``samples`` are in time order; ``open_after(at)`` says whether an alert was open just
    after the reading at ``at``. The state after a reading is known when it did not breach
    and nothing was open (nothing carries on), when it breached while an alert was open (the
    alert goes on; a run's length no longer matters), or when it breached after a silence
    that breaks runs (a run of one). None when no such reading is among ``samples``.

    >>> rule = RuleSpec("above", high=10, sustain_count=3)
    >>> t = [datetime(2026, 1, 1, 0, m) for m in range(5)]
    >>> series = [Sample(at, v) for at, v in zip(t, [5, 4, 11, 12, 13])]
    >>> index, state = restart(rule, series, before=t[4], open_after=lambda at: False)
    >>> index, state.run_length, state.is_open
    (1, 0, False)
    """
    gap = timedelta(minutes=rule.max_gap_minutes)
    last = max((n for n, s in enumerate(samples) if s.at < before), default=-1)
    for n in range(last, 0, -1):
        sample, previous = samples[n], samples[n - 1]
        is_open = open_after(sample.at)
        hit = breached(rule, sample, previous)
        if not hit and not is_open:
            return n, RunState(previous=sample)
        if hit and is_open:
            return n, RunState(is_open=True, previous=sample)
        if hit and sample.at - previous.at > gap:
            return n, RunState(False, (sample,), 1, sample.at, None, sample)
    return None


def episodes(transitions: Sequence[Transition], *, open_since: datetime | None) -> list[Episode]:
    """The alert episodes a replay found; ``open_since``: an alert was open when it began.

    >>> t = [datetime(2026, 1, 1, h) for h in range(4)]
    >>> moves = [Transition("clear", t[1], ()), Transition("open", t[2], ())]
    >>> [(e.opened_at.hour, e.cleared_at) for e in episodes(moves, open_since=t[0])]
    [(0, datetime.datetime(2026, 1, 1, 1, 0)), (2, None)]
    """
    found: list[Episode] = []
    current: Episode | None = Episode(open_since, None) if open_since is not None else None
    for move in transitions:
        if move.kind == "open":
            current = Episode(move.at, None, move.samples)
        elif current is not None:
            found.append(Episode(current.opened_at, move.at, current.evidence, move.samples))
            current = None
    if current is not None:
        found.append(current)
    return found


@dataclass
class Plan:
    """What to do to the stored alerts so that they are the episodes.

    ``keep``: a stored alert becomes this episode (its times may move); ``withdraw``: a
    stored alert the data no longer shows, with why (``unsupported``: no episode at its
    time; ``merged``: its time belongs to an episode another alert stands for); ``add``:
    episodes no stored alert stands for.
    """

    keep: list[tuple[Stored, Episode]] = field(default_factory=list)
    withdraw: list[tuple[Stored, str]] = field(default_factory=list)
    add: list[Episode] = field(default_factory=list)


def plan(stored: Sequence[Stored], wanted: Sequence[Episode]) -> Plan:
    """Match stored alerts to episodes by overlap in time (one alert per episode, the one
    opened at the same time first, else the earliest), so an incident raised for an alert
    stays with the episode it was raised for.

    >>> h = [datetime(2026, 5, d) for d in range(20, 32)]
    >>> stretched = Stored(7, h[6], None)  # 26 May, still open
    >>> shown = [Episode(h[3], h[8]), Episode(h[10], None)]  # 23-28 May, and 30 May on
    >>> p = plan([stretched], shown)
    >>> [(s.id, e.opened_at.day) for s, e in p.keep], [e.opened_at.day for e in p.add]
    ([(7, 23)], [30])
    """
    result = Plan()
    free = sorted(stored, key=lambda s: s.opened_at)
    overlapped: set[int] = set()
    for episode in wanted:
        touching = [s for s in free if _overlap(s, episode)]
        overlapped |= {s.id for s in stored if _overlap(s, episode)}
        if not touching:
            result.add.append(episode)
            continue
        same = [s for s in touching if s.opened_at == episode.opened_at]
        chosen = (same or touching)[0]
        free.remove(chosen)
        result.keep.append((chosen, episode))
    for s in free:
        result.withdraw.append((s, "merged" if s.id in overlapped else "unsupported"))
    return result


def _overlap(alert: Stored, episode: Episode) -> bool:
    """Whether [opened, cleared) of the two meet (an open one lasts for ever)."""
    return (episode.cleared_at is None or alert.opened_at < episode.cleared_at) and (
        alert.cleared_at is None or episode.opened_at < alert.cleared_at
    )
