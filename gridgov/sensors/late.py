"""Readings that arrive out of order: replay each (sensor, rule) series they touch in time
order and bring its alerts in line with what the data shows.

Only series that got late readings come here (the usual batch goes on from the saved
states, see ``evaluation``). For each, one round trip reads the stored readings from a
little before the earliest late one to the end of the series; the replay starts at the last
reading before it whose state is known (``episodes.restart``), and the episodes it finds
replace the stored alerts from there on (``alerts.reconcile``): a stretched alert is cut to
its episode and the rest opened as its own, a missed one is opened, an alert the data no
longer shows is withdrawn (kept, with its incident, and a reason).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from gridgov.sensors.alerts import reconcile
from gridgov.sensors.episodes import Episode, Stored, episodes, plan, restart
from gridgov.sensors.models import Alert, Sensor, SensorRule
from gridgov.sensors.rules import RunState, Sample, advance

if TYPE_CHECKING:
    from gridgov.sensors.evaluation import Key, Rule
    from gridgov.sensors.ingest import IngestResult

Late = tuple[int, "Rule", datetime]  # sensor id, rule, the earliest late reading's time


def replay_late(
    session: Session, late: Sequence[Late], *, result: IngestResult, now: datetime
) -> dict[Key, RunState]:
    """Replay every (sensor, rule) with late readings and reconcile its alerts; the states
    the replays end in."""
    windows, whole = _windows(session, late)
    firsts = [w[0].at for w in windows.values() if w]
    stored = _stored(session, {s for s, _, _ in late}, min(firsts) if firsts else None)
    outcome: dict[Key, RunState] = {}
    for sensor_id, rule, earliest in late:
        key = (sensor_id, rule.id)
        samples = windows.get((sensor_id, rule.metric, rule.id), [])
        alerts = stored.get(key, [])
        start = restart(
            rule.spec, samples, before=earliest, open_after=partial(_open_after, alerts)
        )
        floor: datetime | None = None
        if start is None:
            if not whole.get((sensor_id, rule.metric, rule.id), False):
                # No reading with a known state near the late ones (rare): the whole series.
                samples = _series(session, sensor_id, rule.metric)
                alerts = _stored(session, {sensor_id}, None).get(key, [])
            index, state = -1, RunState()
        else:
            index, state = start
            floor = samples[index].at
        transitions, outcome[key] = advance(rule.spec, samples[index + 1 :], state)
        carried = (
            next((a for a in alerts if floor is not None and _covers(a, floor)), None)
            if state.is_open
            else None
        )
        wanted = episodes(transitions, open_since=carried.opened_at if carried else None)
        current = [
            a for a in alerts if floor is None or a.cleared_at is None or a.cleared_at > floor
        ]
        changes = plan(current, wanted)
        if changes.withdraw or changes.add or any(_moved(s, e) for s, e in changes.keep):
            sensor = session.get(Sensor, sensor_id)
            rule_row = session.get(SensorRule, rule.id)
            assert sensor is not None and rule_row is not None
            reconcile(session, sensor, rule_row, changes, result=result, now=now)
    return outcome


def _moved(stored: Stored, episode: Episode) -> bool:
    return (stored.opened_at, stored.cleared_at) != (episode.opened_at, episode.cleared_at)


def _covers(alert: Stored, at: datetime) -> bool:
    """Whether the alert was open just after the reading at ``at``."""
    return alert.opened_at <= at and (alert.cleared_at is None or alert.cleared_at > at)


def _open_after(alerts: list[Stored], at: datetime) -> bool:
    return any(_covers(a, at) for a in alerts)


_WINDOWS = text(
    """
    SELECT v.sensor_id, v.metric, v.rule_id, b.floor IS NULL AS whole, r.at, r.value
    FROM unnest(CAST(:sensors AS int[]), CAST(:metrics AS text[]), CAST(:rules AS int[]),
                CAST(:starts AS timestamptz[]), CAST(:befores AS int[]))
         AS v(sensor_id, metric, rule_id, start, before)
    LEFT JOIN LATERAL (
        SELECT at AS floor FROM readings
        WHERE sensor_id = v.sensor_id AND metric = v.metric AND at < v.start
        ORDER BY at DESC OFFSET v.before LIMIT 1
    ) b ON true
    CROSS JOIN LATERAL (
        SELECT at, value FROM readings
        WHERE sensor_id = v.sensor_id AND metric = v.metric
          AND at >= CASE WHEN b.floor IS NULL THEN '-infinity'::timestamptz
                         ELSE LEAST(v.start, b.floor) END
    ) r
    ORDER BY v.sensor_id, v.metric, v.rule_id, r.at
    """
)


def _windows(
    session: Session, late: Sequence[Late]
) -> tuple[dict[tuple[int, str, int], list[Sample]], dict[tuple[int, str, int], bool]]:
    """For every (sensor, rule): the readings from a little before its earliest late one to
    the end (one rule's look-back, and enough readings before it to find a known state),
    and whether that is the whole series; one round trip for the batch."""
    params = {
        "sensors": [sensor_id for sensor_id, _, _ in late],
        "metrics": [rule.metric for _, rule, _ in late],
        "rules": [rule.id for _, rule, _ in late],
        "starts": [earliest - rule.spec.lookback for _, rule, earliest in late],
        # a run not yet long enough, the reading before it, and that one's own previous
        "befores": [max(rule.spec.sustain_count, 1) + 3 for _, rule, _ in late],
    }
    windows: dict[tuple[int, str, int], list[Sample]] = defaultdict(list)
    whole: dict[tuple[int, str, int], bool] = {}
    for row in session.execute(_WINDOWS, params):
        key = (row.sensor_id, row.metric, row.rule_id)
        windows[key].append(Sample(row.at, row.value))
        whole[key] = row.whole
    return windows, whole


def _series(session: Session, sensor_id: int, metric: str) -> list[Sample]:
    rows = session.execute(
        text(
            "SELECT at, value FROM readings WHERE sensor_id = :sensor AND metric = :metric "
            "ORDER BY at"
        ),
        {"sensor": sensor_id, "metric": metric},
    )
    return [Sample(at, value) for at, value in rows]


def _stored(
    session: Session, sensor_ids: set[int], since: datetime | None
) -> dict[Key, list[Stored]]:
    """The alerts of these sensors (not withdrawn) still open or cleared after ``since``."""
    query = select(Alert.id, Alert.sensor_id, Alert.rule_id, Alert.opened_at, Alert.cleared_at)
    query = query.where(Alert.sensor_id.in_(sensor_ids), Alert.withdrawn_at.is_(None))
    if since is not None:
        query = query.where(or_(Alert.cleared_at.is_(None), Alert.cleared_at >= since))
    found: dict[Key, list[Stored]] = defaultdict(list)
    for row in session.execute(query.order_by(Alert.opened_at)):
        found[(row.sensor_id, row.rule_id)].append(Stored(row.id, row.opened_at, row.cleared_at))
    return found
