"""Whatever order readings arrive in, the alerts are those of the data in time order.

A synthetic hourly series (fixed seeds, silences that break runs) is judged by a plain
reference written here from the documented rule semantics; posted in order, fully shuffled,
or in whole chunks sent in a shuffled order, the stored alerts must be exactly its episodes.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import select

from gridgov.incidents.models import Incident, IncidentEvent
from gridgov.sensors.episodes import Episode, Stored, episodes, plan, restart
from gridgov.sensors.ingest import ingest
from gridgov.sensors.models import Alert, Sensor, SensorRule
from gridgov.sensors.rules import RuleSpec, Sample, Transition, advance

T = datetime(2026, 5, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 1, tzinfo=UTC)

# name: (condition, low, high, max rate per minute, sustain count, sustain minutes,
#        clear minutes, max gap minutes)
RULES = {
    "high": ("above", None, 10.0, None, 3, 120.0, 180.0, 90.0),
    "band": ("outside", 2.0, 12.5, None, 2, 0.0, 60.0, 90.0),
    "jump": ("rate", None, None, 0.05, 1, 0.0, 180.0, 90.0),
}


def synthetic_series(seed: int, count: int = 2000) -> list[tuple[datetime, float]]:
    """Hourly values swinging around the thresholds, with some silences of 2-5 hours."""
    rng = random.Random(seed)
    at, out = T, []
    for n in range(count):
        at += timedelta(hours=rng.choice([1] * 12 + [2, 3, 5]))
        value = 8 + 4.5 * math.sin(n / 40) + rng.gauss(0, 0.9)
        out.append((at, round(value, 2)))
    return out


def reference(series, condition, low, high, rate, count, sustain, clear, gap):
    """The documented semantics, plainly: the (opened, cleared) episodes in time order."""
    found, opened, run_start, run_length, fine_since, prev = [], None, None, 0, None, None
    for at, value in series:
        if prev is not None and (at - prev[0]).total_seconds() / 60 > gap:
            run_start, run_length = None, 0
        if condition == "above":
            bad = value > high
        elif condition == "outside":
            bad = value < low or value > high
        else:
            minutes = (at - prev[0]).total_seconds() / 60 if prev else 0
            bad = prev is not None and abs(value - prev[1]) / minutes > rate
        if bad:
            fine_since = None
            run_start = run_start or at
            run_length += 1
            long_enough = (at - run_start).total_seconds() / 60 >= sustain
            if opened is None and run_length >= count and long_enough:
                opened = at
        else:
            run_start, run_length = None, 0
            if opened is not None:
                fine_since = fine_since or at
                if (at - fine_since).total_seconds() / 60 >= clear:
                    found.append((opened, at))
                    opened, fine_since = None, None
        prev = (at, value)
    if opened is not None:
        found.append((opened, None))
    return found


@pytest.fixture
def probe(session, demo_generation):
    sensor = Sensor(
        code="T-LATE",
        name="迟到读数测试站",
        kind="late_test",
        owner_department="990105-HB",
        metrics={"level": "m"},
        position=from_shape(Point(109.1, 21.55), srid=4326),
        grid_code="990105009003007",
        community_code="990105009003",
        street_code="990105009",
        district_code="990105",
        city_code="990100",
    )
    session.add(sensor)
    for name, (condition, low, high, rate, count, sustain, clear, gap) in RULES.items():
        session.add(
            SensorRule(
                name=name,
                sensor_kind="late_test",
                metric="level",
                condition=condition,
                low=low,
                high=high,
                max_rate_per_minute=rate,
                sustain_count=count,
                sustain_minutes=sustain,
                clear_minutes=clear,
                max_gap_minutes=gap,
                category_code="0602",
            )
        )
    session.flush()
    return sensor


def stored_episodes(session, sensor):
    rules = {r.id: r.name for r in session.scalars(select(SensorRule))}
    found = {name: [] for name in RULES}
    for alert in session.scalars(
        select(Alert)
        .where(Alert.sensor_id == sensor.id, Alert.withdrawn_at.is_(None))
        .order_by(Alert.opened_at)
    ):
        found[rules[alert.rule_id]].append((alert.opened_at, alert.cleared_at))
    return found


def expected(series):
    return {name: reference(series, *spec) for name, spec in RULES.items()}


def as_rows(series):
    return [{"sensor": "T-LATE", "metric": "level", "time": a.isoformat(), "value": v}
            for a, v in series]  # fmt: skip


def test_the_reference_finds_enough_episodes_to_mean_something():
    truth = expected(synthetic_series(1))
    assert all(len(found) >= 8 for found in truth.values()), {k: len(v) for k, v in truth.items()}


def test_in_time_order_the_alerts_are_the_episodes(session, probe):
    series = synthetic_series(1)
    rows = as_rows(series)
    for start in range(0, len(rows), 250):
        ingest(session, rows=rows[start : start + 250], now=NOW)
    assert stored_episodes(session, probe) == expected(series)


@pytest.mark.parametrize("seed", [1, 2])
def test_shuffled_rows_give_the_same_episodes(session, probe, seed):
    series = synthetic_series(seed)
    rows = as_rows(series)
    rng = random.Random(seed * 101)
    rng.shuffle(rows)
    start = 0
    while start < len(rows):
        size = rng.choice([1, 7, 60, 150, 400])
        ingest(session, rows=rows[start : start + size], now=NOW)
        start += size
    assert stored_episodes(session, probe) == expected(series)
    every_incident_kept(session, probe)


@pytest.mark.parametrize("seed", [3])
def test_chunks_sent_in_a_shuffled_order_give_the_same_episodes(session, probe, seed):
    series = synthetic_series(seed)
    rows = as_rows(series)
    chunks = [rows[i : i + 120] for i in range(0, len(rows), 120)]
    random.Random(seed).shuffle(chunks)
    for chunk in chunks:
        ingest(session, rows=chunk, now=NOW)
    assert stored_episodes(session, probe) == expected(series)
    every_incident_kept(session, probe)


def every_incident_kept(session, sensor):
    """No alert was deleted: every sensor incident still has its alert, and a withdrawn
    alert says so on its incident."""
    alerts = session.scalars(select(Alert).where(Alert.sensor_id == sensor.id)).all()
    incidents = session.scalars(
        select(Incident.id).where(Incident.source == "sensor", Incident.grid_code.isnot(None))
    ).all()
    assert {a.incident_id for a in alerts} >= set(incidents)
    withdrawn = [a for a in alerts if a.withdrawn_at is not None]
    for alert in withdrawn:
        assert alert.cleared_at is not None and alert.withdrawn_reason in ("unsupported", "merged")
        steps = session.scalars(
            select(IncidentEvent.action).where(IncidentEvent.incident_id == alert.incident_id)
        ).all()
        assert "alert_withdrawn" in steps


def test_a_stretched_alert_is_cut_and_the_missed_one_opened(session, probe):
    """The issue's case: the readings that ended an episode arrive after the next episode
    began; the alert open across both is cut where the data clears it, the second opens on
    its own, and the first keeps its incident."""
    hours = [T + timedelta(hours=h) for h in range(15)]
    values = [5, 11, 11, 11, 11, 5, 5, 5, 5, 5, 11, 11, 11, 11, 11]
    series = list(zip(hours, values, strict=True))
    calm = {5, 6, 7, 8, 9}  # the good readings come late
    ingest(session, rows=as_rows([r for n, r in enumerate(series) if n not in calm]), now=NOW)
    assert stored_episodes(session, probe)["high"] == [(hours[3], None)]  # stretched
    first = session.scalar(select(Alert).where(Alert.opened_at == hours[3]))
    late = ingest(session, rows=as_rows([series[n] for n in sorted(calm)]), now=NOW)
    assert stored_episodes(session, probe)["high"] == reference(series, *RULES["high"])
    assert stored_episodes(session, probe)["high"] == [(hours[3], hours[8]), (hours[12], None)]
    assert first.id in late.alerts_cleared and first.cleared_at == hours[8]
    assert session.get(Incident, first.incident_id) is not None
    second = session.scalar(select(Alert).where(Alert.opened_at == hours[12]))
    assert second.id in late.alerts_opened and second.incident_id != first.incident_id


def test_an_alert_the_data_no_longer_shows_is_withdrawn_with_its_incident_kept(session, probe):
    hours = [T + timedelta(hours=h) for h in range(3)]
    ingest(session, rows=as_rows([(h, 11) for h in hours]), now=NOW)
    alert = session.scalar(
        select(Alert)
        .join(SensorRule)
        .where(SensorRule.name == "high", Alert.withdrawn_at.is_(None))
    )
    assert alert.opened_at == hours[2]  # three high readings over two hours
    # A good reading between them breaks the run: the data shows no alert at all.
    late = ingest(session, rows=as_rows([(T + timedelta(minutes=90), 5)]), now=NOW)
    assert alert.id in late.alerts_withdrawn
    assert (alert.withdrawn_reason, alert.cleared_at) == ("unsupported", alert.opened_at)
    assert stored_episodes(session, probe)["high"] == []
    incident = session.get(Incident, alert.incident_id)
    assert incident is not None and incident.status == "dispatched"
    steps = session.scalars(
        select(IncidentEvent.action)
        .where(IncidentEvent.incident_id == incident.id)
        .order_by(IncidentEvent.id)
    ).all()
    assert steps[-1] == "alert_withdrawn"


# -- the pure parts -------------------------------------------------------------------------


def hourly(*values):
    return [Sample(T + timedelta(hours=n), float(v)) for n, v in enumerate(values)]


def test_restart_takes_the_last_reading_with_a_known_state():
    rule = RuleSpec("above", high=10, sustain_count=3, max_gap_minutes=90)
    samples = hourly(5, 11, 11, 5, 11, 11)
    # Before the last reading: 11, 11 is a run under way; 5 at hour 3 is a clean start.
    index, state = restart(rule, samples, before=samples[5].at, open_after=lambda at: False)
    assert (index, state.is_open, state.run_length) == (3, False, 0)
    # With an alert open, a high reading is a known state: the alert goes on.
    index, state = restart(rule, samples, before=samples[5].at, open_after=lambda at: True)
    assert (index, state.is_open) == (4, True)
    # Nothing known before the first readings: None (the caller replays from the start).
    assert restart(rule, samples, before=samples[1].at, open_after=lambda at: False) is None


def test_restart_after_a_silence_knows_the_run_is_one_reading_long():
    rule = RuleSpec("above", high=10, sustain_count=3, max_gap_minutes=90)
    samples = [*hourly(11, 11), Sample(T + timedelta(hours=5), 12.0), *hourly(0)[:0]]
    index, state = restart(rule, samples, before=T + timedelta(hours=6), open_after=lambda a: False)
    assert (index, state.run_length, state.run_started) == (2, 1, samples[2].at)


def test_replaying_from_a_restart_point_equals_replaying_everything():
    rng = random.Random(7)
    rule = RuleSpec("above", high=10, sustain_count=3, sustain_minutes=120, clear_minutes=180,
                    max_gap_minutes=90)  # fmt: skip
    samples = [Sample(a, v) for a, v in synthetic_series(9, 400)]
    whole, _ = advance(rule, samples, RunState_())
    spans = episodes(whole, open_since=None)
    for _ in range(40):
        cut = rng.randrange(5, len(samples))

        def open_after(at, spans=spans):
            return any(e.opened_at <= at and (e.cleared_at is None or e.cleared_at > at)
                       for e in spans)  # fmt: skip

        start = restart(rule, samples, before=samples[cut].at, open_after=open_after)
        assert start is not None
        index, state = start
        moves, _ = advance(rule, samples[index + 1 :], state)
        assert [(m.kind, m.at) for m in moves] == [
            (m.kind, m.at) for m in whole if m.at > samples[index].at
        ]


def RunState_():  # the empty state, named like the class it makes
    from gridgov.sensors.rules import RunState

    return RunState()


def test_plan_splits_merges_and_withdraws():
    d = [datetime(2026, 5, day, tzinfo=UTC) for day in range(1, 31)]
    # The alert: open from 26 May, where the data shows 23-28 May and 30 May on.
    stretched = Stored(1, d[25], None)
    result = plan([stretched], [Episode(d[22], d[27]), Episode(d[29], None)])
    assert [(s.id, e.opened_at.day) for s, e in result.keep] == [(1, 23)]
    assert [e.opened_at.day for e in result.add] == [30]
    assert result.withdraw == []
    # Two alerts inside one episode: the earlier stands for it, the other is merged into
    # it; an alert where the data shows nothing is unsupported.
    early, later, ghost = Stored(2, d[22], d[23]), Stored(3, d[24], d[25]), Stored(4, d[10], d[11])
    result = plan([later, ghost, early], [Episode(d[21], d[27])])
    assert [(s.id, e.opened_at.day) for s, e in result.keep] == [(2, 22)]
    assert sorted((s.id, why) for s, why in result.withdraw) == [(3, "merged"), (4, "unsupported")]
    assert result.add == []


def test_episodes_pair_opens_with_clears():
    t = [T + timedelta(hours=h) for h in range(5)]
    moves = [
        Transition("open", t[0], ()),
        Transition("clear", t[1], ()),
        Transition("open", t[3], ()),
    ]
    assert [(e.opened_at, e.cleared_at) for e in episodes(moves, open_since=None)] == [
        (t[0], t[1]),
        (t[3], None),
    ]
