"""Readings in: validate the whole batch, COPY it, skip duplicates, evaluate the rules.

A batch is accepted or refused whole: every bad row is listed and nothing is written.
Rows go through COPY into a temporary table, then one INSERT ... ON CONFLICT DO NOTHING
moves the new ones into the partitioned ``readings`` table, so a re-sent batch writes
nothing twice. Only the new readings are evaluated: for each (sensor, rule) they touch,
the rule goes on from where it stands (readings in order, the usual case: nothing is read
back), or replays the readings around them in time order (readings out of order), so a late
reading is judged where it belongs. Alerts are opened and cleared, never deleted.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from gridgov.sensors.alerts import apply_transitions
from gridgov.sensors.models import Alert, RuleState, Sensor, SensorRule
from gridgov.sensors.rules import RuleSpec, RunState, Sample, advance
from gridgov.tables import TimeCache, parse_number

MAX_FUTURE = timedelta(minutes=5)
Row = tuple[int, str, datetime, float]  # sensor id, metric, time, value


@dataclass(frozen=True)
class RowProblem:
    row: int  # 0-based position in the batch
    field: str
    reason: str


class BatchRefused(ValueError):
    """Some rows are bad: none of the batch was written. ``problems`` lists every one."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(f"{len(problems)} bad rows")
        self.problems = problems


@dataclass
class IngestResult:
    received: int = 0
    written: int = 0
    alerts_opened: list[int] = field(default_factory=list)
    alerts_cleared: list[int] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.received - self.written


def validate(session: Session, rows: Iterable[Mapping[str, Any]], *, now: datetime) -> list[Row]:
    """Rows as (sensor id, metric, time, value), or BatchRefused with every problem."""
    rows = list(rows)
    codes = {str(r.get("sensor", "")) for r in rows}
    sensors = {
        code: (sensor_id, set(metrics))
        for code, sensor_id, metrics in session.execute(
            select(Sensor.code, Sensor.id, Sensor.metrics).where(Sensor.code.in_(codes))
        )
    }
    problems: list[RowProblem] = []
    out: list[Row] = []
    times = TimeCache()
    latest = now + MAX_FUTURE
    for n, row in enumerate(rows):
        # The happy path first, with as little work as a row allows; any doubt goes to
        # _check_row, which names every problem of the row.
        code = row.get("sensor")
        sensor = sensors.get(code) if isinstance(code, str) else None
        metric = row.get("metric")
        at = times(row.get("time"))
        value = parse_number(row.get("value"))
        if (
            sensor is not None
            and isinstance(metric, str)
            and metric in sensor[1]
            and at is not None
            and at <= latest
            and value is not None
        ):
            out.append((sensor[0], str(metric), at, value))
        else:
            problems += _check_row(n, row, sensors, at, latest, value)
    if problems:
        raise BatchRefused(problems)
    return out


def _check_row(
    n: int,
    row: Mapping[str, Any],
    sensors: Mapping[str, tuple[int, set[str]]],
    at: datetime | None,
    latest: datetime,
    value: float | None,
) -> list[RowProblem]:
    found = []
    code = row.get("sensor")
    sensor = sensors.get(code) if isinstance(code, str) else None
    if sensor is None:
        found.append(RowProblem(n, "sensor", f"unknown sensor {code!r} (a code is a string)"))
    metric = row.get("metric")
    if sensor is not None and (not isinstance(metric, str) or metric not in sensor[1]):
        found.append(RowProblem(n, "metric", f"{code} does not report {metric!r}"))
    if at is None:
        found.append(RowProblem(n, "time", f"{row.get('time')!r} is not an ISO 8601 time"))
    elif at > latest:
        found.append(RowProblem(n, "time", f"{at.isoformat()} is in the future"))
    if value is None:
        found.append(RowProblem(n, "value", f"{row.get('value')!r} is not a number"))
    return found


def ingest(
    session: Session, *, rows: Iterable[Mapping[str, Any]], now: datetime | None = None
) -> IngestResult:
    """Validate, write (skipping duplicates) and evaluate one batch, in the caller's transaction."""
    now = now or datetime.now(UTC)
    valid = validate(session, rows, now=now)
    result = IngestResult(received=len(valid))
    if not valid:
        return result
    # Partition bounds are UTC: a reading at 23:00-05:00 on the 28th belongs to the next month.
    months = {(u.year, u.month) for u in (at.astimezone(UTC) for _, _, at, _ in valid)}
    ensure_partitions(session, months)
    new = _copy_new(session, valid)
    result.written = len(new)
    evaluate(session, new, result=result, now=now)
    return result


def ensure_partitions(session: Session, months: set[tuple[int, int]]) -> None:
    """Create the monthly partitions these months need (and are not there yet)."""
    if not months:
        return
    existing = set(
        session.scalars(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'readings'::regclass"
            )
        )
    )
    missing = [(y, m) for y, m in sorted(months) if f"readings_{y:04d}_{m:02d}" not in existing]
    if not missing:
        return
    # One creator at a time: concurrent batches must not race on the same partition.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('gridgov_readings_partitions'))"))
    for year, month in missing:
        nxt = (year + month // 12, month % 12 + 1)
        session.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS readings_{year:04d}_{month:02d} PARTITION OF readings "
                f"FOR VALUES FROM ('{year:04d}-{month:02d}-01 00:00+00') "
                f"TO ('{nxt[0]:04d}-{nxt[1]:02d}-01 00:00+00')"
            )
        )


def _copy_new(session: Session, rows: list[Row]) -> list[Row]:
    """Write the rows that are new and return them.

    The usual case, a batch of new readings, is one COPY straight into ``readings`` (inside a
    savepoint). If any row is there already, the COPY fails as a whole, the savepoint is
    rolled back, and the batch goes through a temporary table and INSERT ... ON CONFLICT DO
    NOTHING, which reads back the rows that were new.
    """
    raw = session.connection().connection.driver_connection
    assert raw is not None
    stamps: dict[datetime, str] = {}
    lines = []
    for sensor_id, metric, at, value in rows:
        stamp = stamps.get(at) or stamps.setdefault(at, at.isoformat())
        lines.append(f"{sensor_id}\t{metric}\t{stamp}\t{value!r}\n")
    block = "".join(lines)
    if len({(s, m, a) for s, m, a, _ in rows}) == len(rows):
        try:
            with raw.transaction():  # a savepoint inside the caller's transaction
                _copy(raw, "readings", block)
        except psycopg.errors.UniqueViolation:
            pass  # rolled back to the savepoint: take the careful way below
        else:
            return rows
    session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS readings_batch "
            "(sensor_id int, metric text, at timestamptz, value float8) ON COMMIT DELETE ROWS"
        )
    )
    session.execute(text("TRUNCATE readings_batch"))
    _copy(raw, "readings_batch", block)
    inserted = session.execute(
        text(
            "INSERT INTO readings (sensor_id, metric, at, value) "
            "SELECT DISTINCT ON (sensor_id, metric, at) sensor_id, metric, at, value "
            "FROM readings_batch ON CONFLICT DO NOTHING RETURNING sensor_id, metric, at, value"
        )
    ).all()
    return [(r.sensor_id, r.metric, r.at, r.value) for r in inserted]


def _copy(raw: psycopg.Connection[Any], table: str, block: str) -> None:
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table} (sensor_id, metric, at, value) FROM STDIN") as copy,
    ):
        copy.write(block)


Work = tuple[int, SensorRule, RuleSpec, datetime]  # sensor id, rule, spec, window start

_LOCK_SENSORS = text(
    "SELECT count(pg_advisory_xact_lock(7231, id)) FROM unnest(CAST(:ids AS int[])) AS id"
)


def evaluate(session: Session, new: list[Row], *, result: IngestResult, now: datetime) -> None:
    """Judge the new readings by every rule they touch.

    In order (all later than where the (sensor, rule) evaluation stands): go on from the
    saved state with just the new readings. Out of order: replay a window of stored readings
    around them from a state rebuilt from the alerts.
    """
    fresh: dict[tuple[int, str], list[Sample]] = defaultdict(list)
    for sensor_id, metric, at, value in new:
        fresh[(sensor_id, metric)].append(Sample(at, value))
    work = _work(session, fresh)
    if not work:
        return
    # Two batches of one sensor at once would both go on from the same saved state: take
    # the sensors in a fixed order, one transaction at a time.
    # One round trip: unnest yields the sorted array in order, so the locks are taken in order.
    session.execute(_LOCK_SENSORS, {"ids": sorted({sensor_id for sensor_id, _ in fresh})})
    states = {
        (st.sensor_id, st.rule_id): st
        for st in session.execute(
            select(RuleState.__table__).where(
                RuleState.sensor_id.in_({sensor_id for sensor_id, _, _, _ in work})
            )
        )
    }
    in_order: list[Work] = []
    late: list[Work] = []
    for item in work:
        sensor_id, rule, _, _ = item
        saved = states.get((sensor_id, rule.id))
        earliest = min(x.at for x in fresh[(sensor_id, rule.metric)])
        ok = saved is not None and saved.previous_at is not None and earliest > saved.previous_at
        (in_order if ok else late).append(item)
    outcome: dict[tuple[int, int], RunState] = {}
    for sensor_id, rule, spec, _ in in_order:
        start = _state(states[(sensor_id, rule.id)])
        transitions, outcome[(sensor_id, rule.id)] = advance(
            spec, fresh[(sensor_id, rule.metric)], start
        )
        if transitions:
            sensor = session.get(Sensor, sensor_id)
            assert sensor is not None
            apply_transitions(session, sensor, rule, transitions, result=result, now=now)
    if late:
        windows = _windows(session, late)
        alerts = _alerts_since(session, late)
        for sensor_id, rule, spec, _ in late:
            samples = windows.get((sensor_id, rule.metric, rule.id), [])
            if not samples:
                continue
            first = samples[0].at
            open_at_start = any(
                a.opened_at < first and (a.cleared_at is None or a.cleared_at >= first)
                for a in alerts.get((sensor_id, rule.id), [])
            )
            transitions, outcome[(sensor_id, rule.id)] = advance(
                spec, samples, RunState(is_open=open_at_start)
            )
            if transitions:
                sensor = session.get(Sensor, sensor_id)
                assert sensor is not None
                apply_transitions(session, sensor, rule, transitions, result=result, now=now)
    changed = set(result.alerts_opened) | set(result.alerts_cleared)
    _save_states(session, outcome, truth_needed=bool(changed))


def _work(session: Session, fresh: Mapping[tuple[int, str], list[Sample]]) -> list[Work]:
    """Every (sensor, rule) that the new readings touch."""
    rows = session.execute(
        select(Sensor.id, Sensor.kind).where(Sensor.id.in_({s for s, _ in fresh}))
    )
    kinds: dict[int, str] = {sensor_id: kind for sensor_id, kind in rows}
    rules = session.scalars(
        select(SensorRule).where(
            or_(SensorRule.sensor_kind.in_(set(kinds.values())), SensorRule.sensor_id.in_(kinds))
        )
    ).all()
    # Look rules up by what they watch, not by walking every rule for every series.
    by_kind: dict[tuple[str, str], list[tuple[SensorRule, RuleSpec]]] = defaultdict(list)
    by_sensor: dict[tuple[int, str], list[tuple[SensorRule, RuleSpec]]] = defaultdict(list)
    for rule in rules:
        entry = (rule, spec_of(rule))
        if rule.sensor_id is not None:
            by_sensor[(rule.sensor_id, rule.metric)].append(entry)
        elif rule.sensor_kind is not None:
            by_kind[(rule.sensor_kind, rule.metric)].append(entry)
    work: list[Work] = []
    for (sensor_id, metric), samples in fresh.items():
        earliest = min(x.at for x in samples)
        for rule, spec in by_sensor[(sensor_id, metric)] + by_kind[(kinds[sensor_id], metric)]:
            work.append((sensor_id, rule, spec, earliest - spec.lookback))
    return work


def _state(saved: Any) -> RunState:
    previous = (
        Sample(saved.previous_at, saved.previous_value)
        if saved.previous_at is not None and saved.previous_value is not None
        else None
    )
    run = tuple(Sample(datetime.fromisoformat(r["at"]), r["value"]) for r in saved.run)
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


def _save_states(
    session: Session, outcome: dict[tuple[int, int], RunState], *, truth_needed: bool
) -> None:
    """Store where each evaluation stands; its open/closed flag follows the alerts table."""
    if not outcome:
        return
    open_now: set[tuple[int, int]] | None = None
    if truth_needed:
        rows = session.execute(
            select(Alert.sensor_id, Alert.rule_id).where(
                Alert.cleared_at.is_(None), Alert.sensor_id.in_({s for s, _ in outcome})
            )
        )
        open_now = {(sensor_id, rule_id) for sensor_id, rule_id in rows}
    items = sorted(outcome.items())
    columns: dict[str, list[Any]] = {
        "sensor_ids": [sensor_id for (sensor_id, _), _ in items],
        "rule_ids": [rule_id for (_, rule_id), _ in items],
        "is_open": [st.is_open if open_now is None else key in open_now for key, st in items],
        "runs": [
            json.dumps([{"at": x.at.isoformat(), "value": x.value} for x in st.run])
            for _, st in items
        ],
        "lengths": [st.run_length for _, st in items],
        "started": [st.run_started for _, st in items],
        "fine": [st.fine_since for _, st in items],
        "prev_at": [st.previous.at if st.previous else None for _, st in items],
        "prev_value": [st.previous.value if st.previous else None for _, st in items],
    }
    session.execute(_SAVE_STATES, columns)


def spec_of(rule: SensorRule) -> RuleSpec:
    return RuleSpec(
        condition=rule.condition,
        low=rule.low,
        high=rule.high,
        max_rate_per_minute=rule.max_rate_per_minute,
        sustain_count=rule.sustain_count,
        sustain_minutes=rule.sustain_minutes,
        clear_minutes=rule.clear_minutes,
        max_gap_minutes=rule.max_gap_minutes,
    )


_WINDOWS = text(
    """
    SELECT v.sensor_id, v.metric, v.rule_id, r.at, r.value
    FROM unnest(CAST(:sensors AS int[]), CAST(:metrics AS text[]), CAST(:rules AS int[]),
                CAST(:starts AS timestamptz[]), CAST(:befores AS int[]))
         AS v(sensor_id, metric, rule_id, start, before)
    CROSS JOIN LATERAL (
        SELECT at, value FROM readings
        WHERE sensor_id = v.sensor_id AND metric = v.metric
          AND at >= LEAST(v.start, coalesce((
              SELECT at FROM readings
              WHERE sensor_id = v.sensor_id AND metric = v.metric AND at < v.start
              ORDER BY at DESC OFFSET v.before LIMIT 1), v.start))
    ) r
    ORDER BY v.sensor_id, v.metric, v.rule_id, r.at
    """
)


def _windows(session: Session, work: list[Work]) -> dict[tuple[int, str, int], list[Sample]]:
    """For every (sensor, rule): readings from its start on, plus enough earlier ones to judge
    a run or a rate; one round trip for the whole batch."""
    params = {
        "sensors": [sensor_id for sensor_id, _, _, _ in work],
        "metrics": [r.metric for _, r, _, _ in work],
        "rules": [r.id for _, r, _, _ in work],
        "starts": [start for _, _, _, start in work],
        "befores": [max(spec.sustain_count, 1) for _, _, spec, _ in work],
    }
    windows: dict[tuple[int, str, int], list[Sample]] = defaultdict(list)
    for row in session.execute(_WINDOWS, params):
        windows[(row.sensor_id, row.metric, row.rule_id)].append(Sample(row.at, row.value))
    return windows


def _alerts_since(session: Session, work: list[Work]) -> dict[tuple[int, int], list[Alert]]:
    """Alerts that could be open inside the windows (open now, or cleared after they start)."""
    earliest = min(start for _, _, _, start in work) - timedelta(days=1)
    found: dict[tuple[int, int], list[Alert]] = defaultdict(list)
    for alert in session.scalars(
        select(Alert).where(
            Alert.sensor_id.in_({sensor_id for sensor_id, _, _, _ in work}),
            or_(Alert.cleared_at.is_(None), Alert.cleared_at >= earliest),
        )
    ):
        found[(alert.sensor_id, alert.rule_id)].append(alert)
    return found
