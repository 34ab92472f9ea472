"""Judge a batch's new readings by every rule they touch.

``Evaluation`` locks the batch's sensors and reads their rules and saved rule states first;
``judge`` is pure (no database), so it can run while the server is still taking the COPY of
the same rows; ``finish`` acts on what was found, has the series with readings out of order
replayed (``late``), and saves where each (sensor, rule) evaluation stands. Nothing is kept
between batches: each batch reads the states under the sensors' locks, so no worker goes on
from a stale one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridgov.boundaries.index import GridIndex
from gridgov.db.arrays import array_text
from gridgov.sensors.alerts import apply_transitions
from gridgov.sensors.late import replay_late
from gridgov.sensors.models import Alert, Sensor, SensorRule
from gridgov.sensors.rules import RuleSpec, RunState, Sample, Transition, advance, calm_between

if TYPE_CHECKING:
    from gridgov.sensors.ingest import IngestResult, Row

Series = tuple[int, str]  # sensor id, metric
Key = tuple[int, int]  # sensor id, rule id


@dataclass(frozen=True)
class Rule:
    id: int
    metric: str
    spec: RuleSpec


@dataclass
class Judged:
    """What the readings in order decided, and which (sensor, rule) need a replay."""

    outcome: dict[Key, RunState] = field(default_factory=dict)
    transitions: list[tuple[int, int, list[Transition]]] = field(default_factory=list)
    late: list[tuple[int, Rule, datetime]] = field(default_factory=list)  # earliest reading


_TIME = itemgetter(2)  # a row's time

# One round trip: unnest yields the sorted array in order, so the locks are taken in order.
_LOCK_SENSORS = text(
    "SELECT count(pg_advisory_xact_lock(7231, id)) FROM unnest(CAST(:ids AS int[])) AS id"
)
_RULES = text(
    """
    SELECT id, sensor_kind, sensor_id, metric, condition, low, high, max_rate_per_minute,
           sustain_count, sustain_minutes, clear_minutes, max_gap_minutes
    FROM sensor_rules
    WHERE sensor_kind = ANY(CAST(:kinds AS text[])) OR sensor_id = ANY(CAST(:ids AS int[]))
    """
)
# ``run`` as text: it is decoded only for a series that walks its readings (most are calm).
_STATES = text(
    "SELECT sensor_id, rule_id, is_open, run::text AS run, run_length, run_started, "
    "fine_since, previous_at, previous_value FROM rule_states "
    "WHERE sensor_id = ANY(CAST(:ids AS int[]))"
)


class Evaluation:
    """The rules and saved states of a batch's sensors, read under their locks."""

    def __init__(self, session: Session, kinds: Mapping[int, str]) -> None:
        self.kinds = dict(kinds)
        self.by_kind: dict[tuple[str, str], list[Rule]] = defaultdict(list)
        self.by_sensor: dict[Series, list[Rule]] = defaultdict(list)
        self.states: dict[Key, Any] = {}
        params = {"kinds": sorted(set(self.kinds.values())), "ids": sorted(self.kinds)}
        watched: set[int] = set()
        for row in session.execute(_RULES, params):
            rule = Rule(row.id, row.metric, _spec(row))
            if row.sensor_id is not None:
                self.by_sensor[(row.sensor_id, row.metric)].append(rule)
                watched.add(row.sensor_id)
            elif row.sensor_kind is not None:
                self.by_kind[(row.sensor_kind, row.metric)].append(rule)
        kinds_watched = {kind for kind, _ in self.by_kind}
        watched |= {s for s, kind in self.kinds.items() if kind in kinds_watched}
        if not watched:
            return
        # Two batches of one sensor at once would both go on from the same saved state:
        # take the sensors in a fixed order, one transaction at a time.
        ids = sorted(watched)
        session.execute(_LOCK_SENSORS, {"ids": ids})
        self.states = {
            (st.sensor_id, st.rule_id): st for st in session.execute(_STATES, {"ids": ids}).all()
        }

    def judge(self, rows: Iterable[Row]) -> Judged:
        """Go on from the saved states with readings in order; list the others (pure)."""
        fresh: dict[Series, list[Row]] = defaultdict(list)
        for row in rows:
            fresh[(row[0], row[1])].append(row)
        judged = Judged()
        for (sensor_id, metric), series in fresh.items():
            rules = self.by_sensor.get((sensor_id, metric), []) + self.by_kind.get(
                (self.kinds[sensor_id], metric), []
            )
            if not rules:
                continue
            # Samples are made only for a series that needs the per-reading walk; a calm one
            # (nothing open, no run, no value out of bounds) only moves its last reading on.
            earliest, last = min(series, key=_TIME)[2], max(series, key=_TIME)
            values = [row[3] for row in series]
            low, high = min(values), max(values)
            samples: list[Sample] | None = None
            for rule in rules:
                key = (sensor_id, rule.id)
                saved = self.states.get(key)
                if saved is None or saved.previous_at is None or earliest <= saved.previous_at:
                    judged.late.append((sensor_id, rule, earliest))
                elif (
                    not saved.is_open
                    and not saved.run_length
                    and calm_between(rule.spec, low, high)
                ):
                    judged.outcome[key] = RunState(previous=Sample(last[2], last[3]))
                else:
                    samples = samples or [Sample(row[2], row[3]) for row in series]
                    transitions, judged.outcome[key] = advance(rule.spec, samples, _state(saved))
                    if transitions:
                        judged.transitions.append((sensor_id, rule.id, transitions))
        return judged

    def finish(
        self,
        session: Session,
        judged: Judged,
        *,
        result: IngestResult,
        now: datetime,
        index: GridIndex | None = None,
    ) -> None:
        """Open and clear alerts, replay the readings out of order, save the states."""
        for sensor_id, rule_id, transitions in judged.transitions:
            _apply(session, sensor_id, rule_id, transitions, result=result, now=now, index=index)
        if judged.late:
            judged.outcome.update(replay_late(session, judged.late, result=result, now=now))
        changed = bool(result.alerts_opened or result.alerts_cleared or result.alerts_withdrawn)
        _save_states(session, judged.outcome, truth_needed=changed)


def _apply(
    session: Session,
    sensor_id: int,
    rule_id: int,
    transitions: list[Transition],
    *,
    result: IngestResult,
    now: datetime,
    index: GridIndex | None,
) -> None:
    sensor = session.get(Sensor, sensor_id)
    rule = session.get(SensorRule, rule_id)
    assert sensor is not None and rule is not None
    apply_transitions(session, sensor, rule, transitions, result=result, now=now, index=index)


def _spec(row: Any) -> RuleSpec:
    return RuleSpec(
        condition=row.condition,
        low=row.low,
        high=row.high,
        max_rate_per_minute=row.max_rate_per_minute,
        sustain_count=row.sustain_count,
        sustain_minutes=row.sustain_minutes,
        clear_minutes=row.clear_minutes,
        max_gap_minutes=row.max_gap_minutes,
    )


def _state(saved: Any) -> RunState:
    previous = (
        Sample(saved.previous_at, saved.previous_value)
        if saved.previous_at is not None and saved.previous_value is not None
        else None
    )
    saved_run = json.loads(saved.run) if saved.run else ()
    run = tuple(Sample(datetime.fromisoformat(r["at"]), r["value"]) for r in saved_run)
    return RunState(
        saved.is_open, run, saved.run_length, saved.run_started, saved.fine_since, previous
    )


_SAVE_STATES = text(
    """
    INSERT INTO rule_states (sensor_id, rule_id, is_open, run, run_length, run_started,
                             fine_since, previous_at, previous_value)
    SELECT * FROM unnest(CAST(:sensor_ids AS int[]), CAST(:rule_ids AS int[]),
                         CAST(:is_open AS boolean[]), CAST(:runs AS jsonb[]),
                         CAST(:lengths AS int[]), CAST(:started AS timestamptz[]),
                         CAST(:fine AS timestamptz[]), CAST(:prev_at AS timestamptz[]),
                         CAST(:prev_value AS float8[]))
    ON CONFLICT (sensor_id, rule_id) DO UPDATE SET
        is_open = excluded.is_open, run = excluded.run, run_length = excluded.run_length,
        run_started = excluded.run_started, fine_since = excluded.fine_since,
        previous_at = excluded.previous_at, previous_value = excluded.previous_value
    """
)


def _save_states(session: Session, outcome: dict[Key, RunState], *, truth_needed: bool) -> None:
    """Store where each evaluation stands; its open/closed flag follows the alerts table."""
    if not outcome:
        return
    open_now: set[Key] | None = None
    if truth_needed:
        rows = session.execute(
            select(Alert.sensor_id, Alert.rule_id).where(
                Alert.cleared_at.is_(None), Alert.sensor_id.in_({s for s, _ in outcome})
            )
        )
        open_now = {(sensor_id, rule_id) for sensor_id, rule_id in rows}
    items = sorted(outcome.items())
    columns = {
        "sensor_ids": array_text(sensor_id for (sensor_id, _), _ in items),
        "rule_ids": array_text(rule_id for (_, rule_id), _ in items),
        "is_open": array_text(
            st.is_open if open_now is None else key in open_now for key, st in items
        ),
        "runs": array_text(
            json.dumps([{"at": x.at.isoformat(), "value": x.value} for x in st.run])
            for _, st in items
        ),
        "lengths": array_text(st.run_length for _, st in items),
        "started": array_text(st.run_started for _, st in items),
        "fine": array_text(st.fine_since for _, st in items),
        "prev_at": array_text(st.previous.at if st.previous else None for _, st in items),
        "prev_value": array_text(st.previous.value if st.previous else None for _, st in items),
    }
    session.execute(_SAVE_STATES, columns)
