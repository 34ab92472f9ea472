"""Readings in: validate the whole batch, COPY it, skip duplicates, evaluate the rules.

A batch is accepted or refused whole: every bad row is listed and nothing is written.
Rows go through COPY into a temporary table, then one INSERT ... ON CONFLICT DO NOTHING
moves the new ones into the partitioned ``readings`` table, so a re-sent batch writes
nothing twice. Only the new readings are evaluated: for each (sensor, rule) they touch,
the rule replays the readings around them (back far enough to judge a sustained breach or
a clearing) in time order, so readings that arrive out of order are judged where they
belong. Alerts are opened and cleared, never deleted.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from gridgov.sensors.alerts import apply_transitions
from gridgov.sensors.models import Alert, Sensor, SensorRule
from gridgov.sensors.rules import RuleSpec, Sample, replay

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
    sensors = {s.code: s for s in session.scalars(select(Sensor).where(Sensor.code.in_(codes)))}
    problems: list[RowProblem] = []
    out: list[Row] = []
    for n, row in enumerate(rows):
        before = len(problems)
        sensor = sensors.get(str(row.get("sensor", "")))
        if sensor is None:
            problems.append(RowProblem(n, "sensor", f"unknown sensor {row.get('sensor')!r}"))
        metric = str(row.get("metric", ""))
        if sensor is not None and metric not in sensor.metrics:
            problems.append(RowProblem(n, "metric", f"{sensor.code} does not report {metric!r}"))
        at = _time(row.get("time"))
        if at is None:
            problems.append(RowProblem(n, "time", f"{row.get('time')!r} is not an ISO 8601 time"))
        elif at > now + MAX_FUTURE:
            problems.append(RowProblem(n, "time", f"{at.isoformat()} is in the future"))
        value = _number(row.get("value"))
        if value is None:
            problems.append(RowProblem(n, "value", f"{row.get('value')!r} is not a number"))
        if len(problems) == before:
            assert sensor is not None and at is not None and value is not None
            out.append((sensor.id, metric, at, value))
    if problems:
        raise BatchRefused(problems)
    return out


def ingest(
    session: Session, *, rows: Iterable[Mapping[str, Any]], now: datetime | None = None
) -> IngestResult:
    """Validate, write (skipping duplicates) and evaluate one batch, in the caller's transaction."""
    now = now or datetime.now(UTC)
    valid = validate(session, rows, now=now)
    result = IngestResult(received=len(valid))
    if not valid:
        return result
    ensure_partitions(session, {(at.year, at.month) for _, _, at, _ in valid})
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
    """COPY into a temp table, move the rows that are new; return them."""
    session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS readings_batch "
            "(sensor_id int, metric text, at timestamptz, value float8) ON COMMIT DELETE ROWS"
        )
    )
    session.execute(text("TRUNCATE readings_batch"))
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with (
        raw.cursor() as cursor,
        cursor.copy("COPY readings_batch (sensor_id, metric, at, value) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
    inserted = session.execute(
        text(
            "INSERT INTO readings (sensor_id, metric, at, value) "
            "SELECT DISTINCT ON (sensor_id, metric, at) sensor_id, metric, at, value "
            "FROM readings_batch ON CONFLICT DO NOTHING RETURNING sensor_id, metric, at, value"
        )
    ).all()
    return [(r.sensor_id, r.metric, r.at, r.value) for r in inserted]


def evaluate(session: Session, new: list[Row], *, result: IngestResult, now: datetime) -> None:
    """Replay every rule that the new readings touch, around them, and act on the outcome."""
    touched: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    for sensor_id, metric, at, _ in new:
        touched[(sensor_id, metric)].append(at)
    sensors = {
        s.id: s
        for s in session.scalars(select(Sensor).where(Sensor.id.in_({s for s, _ in touched})))
    }
    kinds = {s.kind for s in sensors.values()}
    rules = session.scalars(
        select(SensorRule).where(
            or_(SensorRule.sensor_kind.in_(kinds), SensorRule.sensor_id.in_(sensors))
        )
    ).all()
    for (sensor_id, metric), times in touched.items():
        sensor = sensors[sensor_id]
        for rule in rules:
            applies = rule.sensor_id == sensor_id or (
                rule.sensor_id is None and rule.sensor_kind == sensor.kind
            )
            if not applies or rule.metric != metric:
                continue
            spec = spec_of(rule)
            start = min(times) - spec.lookback
            samples = _window(session, sensor_id, metric, start, spec.sustain_count)
            open_at_start = _open_at(
                session, sensor_id, rule.id, samples[0].at if samples else start
            )
            transitions = replay(spec, samples, open_at_start=open_at_start)
            apply_transitions(session, sensor, rule, transitions, result=result, now=now)


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


_WINDOW = text(
    """
    SELECT at, value FROM readings
    WHERE sensor_id = :sensor AND metric = :metric
      AND at >= LEAST(:start, coalesce((
          SELECT at FROM readings
          WHERE sensor_id = :sensor AND metric = :metric AND at < :start
          ORDER BY at DESC OFFSET :before LIMIT 1), :start))
    ORDER BY at
    """
)


def _window(
    session: Session, sensor_id: int, metric: str, start: datetime, count: int
) -> list[Sample]:
    """Readings from ``start`` on, plus enough earlier ones to judge a run or a rate."""
    rows = session.execute(
        _WINDOW, {"sensor": sensor_id, "metric": metric, "start": start, "before": max(count, 1)}
    )
    return [Sample(r.at, r.value) for r in rows]


def _open_at(session: Session, sensor_id: int, rule_id: int, at: datetime) -> bool:
    """Whether an alert of this sensor and rule was open at ``at``."""
    return (
        session.scalar(
            select(Alert.id).where(
                Alert.sensor_id == sensor_id,
                Alert.rule_id == rule_id,
                Alert.opened_at < at,
                or_(Alert.cleared_at.is_(None), Alert.cleared_at >= at),
            )
        )
        is not None
    )


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
