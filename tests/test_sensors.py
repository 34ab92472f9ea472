"""Readings, rules and alerts: a recorded series with known crossings, gaps, duplicates and
rows out of order, checked alert by alert and incident by incident."""

from __future__ import annotations

import asyncio
import json
import queue
import random
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import shapely
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import func, select, text

from gridgov.boundaries.frames import read_level
from gridgov.boundaries.levels import Level
from gridgov.boundaries.lookup import nearest_grid
from gridgov.db import session_scope
from gridgov.incidents.models import Incident, IncidentEvent
from gridgov.notifications.models import Notification
from gridgov.sensors.catalogue import CatalogueError, import_rules, import_sensors
from gridgov.sensors.evaluation import Evaluation
from gridgov.sensors.ingest import BatchRefused, ingest
from gridgov.sensors.models import Alert, Reading, Sensor, SensorRule
from gridgov.sensors.partitions import make_partitions_ahead, month_of, months_from
from gridgov.sensors.rules import RuleSpec, Sample, breached, replay
from gridgov.users.models import User
from tests.conftest import auth
from tests.locks import backend_pid, wait_until_blocked

T = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


# -- the rules alone --------------------------------------------------------------------


def series(*pairs):
    return [Sample(at(m), v) for m, v in pairs]


def kinds(transitions):
    return [(x.kind, int((x.at - T).total_seconds() // 60)) for x in transitions]


def test_every_condition():
    s = Sample(at(0), 5.0)
    assert breached(RuleSpec("above", high=4), s, None)
    assert not breached(RuleSpec("above", high=5), s, None)
    assert breached(RuleSpec("below", low=6), s, None)
    assert breached(RuleSpec("outside", low=6, high=9), s, None)
    assert not breached(RuleSpec("outside", low=4, high=9), s, None)
    rate = RuleSpec("rate", max_rate_per_minute=1.0)
    assert not breached(rate, s, None)
    assert breached(rate, Sample(at(2), 8.0), s)  # 1.5 per minute
    assert not breached(rate, Sample(at(2), 6.0), s)


def test_sustained_runs_and_hysteresis():
    rule = RuleSpec("below", low=4, sustain_count=3, clear_minutes=30)
    data = series(
        (0, 6),
        (10, 3.8),
        (20, 3.5),
        (30, 3.2),
        (40, 4.5),
        (50, 3.9),
        (60, 4.6),
        (70, 4.7),
        (80, 4.8),
        (90, 5),
    )
    # Opens on the third low reading; the dip at 50 restarts the clearing clock, which then
    # needs 30 minutes of good readings (60 -> 90).
    assert kinds(replay(rule, data, open_at_start=False)) == [("open", 30), ("clear", 90)]


def test_sustained_for_minutes_and_broken_by_gaps():
    rule = RuleSpec("above", high=70, sustain_minutes=30, max_gap_minutes=20)
    steady = series((0, 75), (10, 76), (20, 77), (30, 78))
    assert kinds(replay(rule, steady, open_at_start=False)) == [("open", 30)]
    gappy = series((0, 75), (10, 76), (40, 77), (50, 78))  # 30 minutes of silence
    assert replay(rule, gappy, open_at_start=False) == []


def test_a_flapping_sensor_raises_one_alert():
    rule = RuleSpec("above", high=10, clear_minutes=15)
    flapping = series(*[(m, 11 if m % 10 == 0 else 9) for m in range(0, 60, 5)])
    assert kinds(replay(rule, flapping, open_at_start=False)) == [("open", 0)]


# -- the database -----------------------------------------------------------------------


@pytest.fixture
def sensor(session, demo_generation):
    probe = Sensor(
        code="T-WQ",
        name="测试水质站",
        kind="water_quality",
        owner_department="990105-HB",
        metrics={"dissolved_oxygen": "mg/L", "ph": "pH"},
        position=from_shape(Point(109.1, 21.55), srid=4326),
        grid_code="990105009003007",
        community_code="990105009003",
        street_code="990105009",
        district_code="990105",
        city_code="990100",
    )
    session.add(probe)
    session.flush()
    return probe


def rows(*pairs, metric="dissolved_oxygen", sensor="T-WQ"):
    return [
        {"sensor": sensor, "metric": metric, "time": at(m).isoformat(), "value": v}
        for m, v in pairs
    ]


def alerts(session, sensor):
    found = session.scalars(
        select(Alert).where(Alert.sensor_id == sensor.id).order_by(Alert.id)
    ).all()
    return [
        (
            int((a.opened_at - T).total_seconds() // 60),
            None if a.cleared_at is None else int((a.cleared_at - T).total_seconds() // 60),
        )
        for a in found
    ]


def test_recorded_series_opens_and_clears_exactly_the_true_alerts(session, sensor):
    rule = session.scalar(select(SensorRule).where(SensorRule.name == "溶解氧偏低"))
    assert (rule.condition, rule.low, rule.sustain_count, rule.clear_minutes) == ("below", 4, 3, 30)
    first = rows((0, 6.0), (10, 5.5), (20, 3.8), (30, 3.5), (40, 3.2), (50, 3.0), (60, 4.5))
    shuffled = first[:]
    random.Random(3).shuffle(shuffled)
    result = ingest(session, rows=[*shuffled, first[3]], now=NOW)  # out of order, one duplicate
    assert (result.received, result.written) == (8, 7)
    assert alerts(session, sensor) == [(40, None)]
    result = ingest(session, rows=rows((70, 4.6), (80, 4.7), (90, 5.0), (100, 5.2)), now=NOW)
    assert alerts(session, sensor) == [(40, 90)]  # 30 minutes of good readings from 60
    # Two low readings are not enough; the third comes after 80 minutes of silence, which
    # breaks the run (longer than the rule's 60-minute gap)...
    ingest(session, rows=rows((300, 3.5), (310, 3.4)), now=NOW)
    ingest(session, rows=rows((390, 3.2)), now=NOW)
    assert alerts(session, sensor) == [(40, 90)]
    # ...until a late reading fills the hole: 300, 310, 350 are three in a row.
    late = ingest(session, rows=rows((350, 3.3)), now=NOW)
    assert len(late.alerts_opened) == 1
    assert alerts(session, sensor) == [(40, 90), (350, None)]
    # Sending everything again changes nothing.
    again = ingest(
        session, rows=[*first, *rows((300, 3.5), (310, 3.4), (350, 3.3), (390, 3.2))], now=NOW
    )
    assert again.written == 0 and again.alerts_opened == [] and again.alerts_cleared == []
    assert alerts(session, sensor) == [(40, 90), (350, None)]
    # Each alert raised one incident at the sensor, dispatched like any report.
    found = session.scalars(
        select(Alert).where(Alert.sensor_id == sensor.id).order_by(Alert.id)
    ).all()
    incidents = [session.get(Incident, a.incident_id) for a in found]
    assert [(i.source, i.category_code, i.grid_code, i.status) for i in incidents] == [
        ("sensor", "0602", "990105009003007", "dispatched")
    ] * 2
    assert found[0].readings == [
        {"at": at(m).isoformat(), "value": v} for m, v in ((20, 3.8), (30, 3.5), (40, 3.2))
    ]
    steps = session.scalars(
        select(IncidentEvent.action)
        .where(IncidentEvent.incident_id == incidents[0].id)
        .order_by(IncidentEvent.id)
    ).all()
    assert steps == ["report", "dispatch", "alert_opened", "alert_cleared"]


def test_batches_in_order_decide_what_one_replay_of_the_whole_series_decides(session, sensor):
    # Values around the thresholds, silences that break runs, batches of any size (each one
    # shuffled): going on from the saved states must open and clear exactly the alerts that
    # one replay of the whole series finds, for a threshold rule and a two-sided one.
    rng = random.Random(11)
    minute, oxygen, ph = 0, [], []
    for _ in range(400):
        minute += rng.choice([10, 10, 10, 20, 70])
        oxygen.append((minute, round(rng.uniform(3.0, 5.5), 2)))
        ph.append((minute, round(rng.uniform(5.5, 9.5), 2)))
    readings = rows(*oxygen) + rows(*ph, metric="ph")
    readings.sort(key=lambda r: r["time"])
    start = 0
    while start < len(readings):
        size = rng.choice([1, 2, 5, 20, 60])
        batch = readings[start : start + size]
        rng.shuffle(batch)
        ingest(session, rows=batch, now=T + timedelta(days=30))
        start += size
    expected = []
    for name, series in (("溶解氧偏低", oxygen), ("pH异常", ph)):
        rule = session.scalar(select(SensorRule).where(SensorRule.name == name))
        spec = RuleSpec(
            rule.condition,
            low=rule.low,
            high=rule.high,
            sustain_count=rule.sustain_count,
            sustain_minutes=rule.sustain_minutes,
            clear_minutes=rule.clear_minutes,
            max_gap_minutes=rule.max_gap_minutes,
        )
        moves = replay(spec, [Sample(at(m), v) for m, v in series], open_at_start=False)
        opened = [x for x in moves if x.kind == "open"]
        cleared = [x for x in moves if x.kind == "clear"] + [None]
        expected += [
            (rule.id, kinds([o])[0][1], None if c is None else kinds([c])[0][1])
            for o, c in zip(opened, cleared[: len(opened)], strict=True)
        ]
    found = session.scalars(select(Alert).where(Alert.sensor_id == sensor.id)).all()
    minutes = [
        (
            a.rule_id,
            int((a.opened_at - T).total_seconds() // 60),
            None if a.cleared_at is None else int((a.cleared_at - T).total_seconds() // 60),
        )
        for a in found
    ]
    assert len(expected) > 4
    assert sorted(minutes, key=str) == sorted(expected, key=str)


def test_a_bad_row_refuses_the_whole_batch(session, sensor):
    bad = [
        *rows((0, 5.0)),
        {"sensor": "nobody", "metric": "dissolved_oxygen", "time": at(1).isoformat(), "value": 1},
        {"sensor": "T-WQ", "metric": "salinity", "time": at(2).isoformat(), "value": 1},
        {"sensor": "T-WQ", "metric": "ph", "time": at(3).isoformat(), "value": "seven"},
        {
            "sensor": "T-WQ",
            "metric": "ph",
            "time": (NOW + timedelta(days=1)).isoformat(),
            "value": 7,
        },
        {"sensor": "T-WQ", "metric": "ph", "time": "yesterday", "value": 7},
        {"sensor": "T-WQ", "metric": "ph", "time": at(4).isoformat(), "value": float("nan")},
    ]
    with pytest.raises(BatchRefused) as refused:
        ingest(session, rows=bad, now=NOW)
    assert [(p.row, p.field) for p in refused.value.problems] == [
        (1, "sensor"),
        (2, "metric"),
        (3, "value"),
        (4, "time"),
        (5, "time"),
        (6, "value"),
    ]
    assert (
        session.scalar(
            select(func.count()).select_from(Reading).where(Reading.sensor_id == sensor.id)
        )
        == 0
    )


def test_a_bad_row_after_pieces_already_sent_still_writes_nothing(session, sensor):
    """Pieces of a batch go to the server as they are checked: a bad row far into the batch,
    after earlier pieces were sent, refuses the whole batch, and the session goes on."""
    from gridgov.sensors.ingest import PIECE

    good = rows(*((m, 5.0 + (m % 7) / 10) for m in range(3 * PIECE)))
    bad = [*good[: 2 * PIECE + 5], {**good[2 * PIECE + 5], "value": "n/a"}, *good[2 * PIECE + 6 :]]
    with pytest.raises(BatchRefused) as refused:
        ingest(session, rows=bad, now=NOW + timedelta(days=10))
    assert [(p.row, p.field) for p in refused.value.problems] == [(2 * PIECE + 5, "value")]
    count = select(func.count()).select_from(Reading).where(Reading.sensor_id == sensor.id)
    assert session.scalar(count) == 0
    assert ingest(session, rows=good, now=NOW + timedelta(days=10)).written == 3 * PIECE
    assert session.scalar(count) == 3 * PIECE


def test_readings_land_in_monthly_partitions_made_on_demand(session, sensor):
    ingest(
        session,
        rows=[
            *rows((0, 5.0)),
            {"sensor": "T-WQ", "metric": "ph", "time": "2027-03-15T00:00:00+08:00", "value": 7.1},
        ],
        now=datetime(2027, 3, 16, tzinfo=UTC),
    )
    partitions = set(
        session.scalars(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'readings'::regclass"
            )
        )
    )
    assert {"readings_2026_11", "readings_2027_03"} <= partitions
    where = session.scalar(
        text(
            "SELECT tableoid::regclass::text FROM readings WHERE metric = 'ph' AND sensor_id = :s"
        ),
        {"s": sensor.id},
    )
    assert where == "readings_2027_03"


def test_rows_of_the_wrong_shape_are_named_not_crashed_on(session, sensor):
    odd = [{"sensor": ["T-WQ"], "metric": "ph", "time": {"at": 1}, "value": True}]
    with pytest.raises(BatchRefused) as refused:
        ingest(session, rows=odd, now=NOW)
    assert [p.field for p in refused.value.problems] == ["sensor", "time", "value"]


def test_month_partitions_follow_utc_not_the_local_offset(session, sensor):
    # 20:00 at -05:00 on 30 November is 01:00 UTC on 1 December.
    late_evening = {
        "sensor": "T-WQ",
        "metric": "ph",
        "time": "2026-11-30T20:00:00-05:00",
        "value": 7,
    }
    result = ingest(session, rows=[late_evening], now=datetime(2026, 12, 2, tzinfo=UTC))
    assert result.written == 1
    where = session.scalar(
        text("SELECT tableoid::regclass::text FROM readings WHERE sensor_id = :s"), {"s": sensor.id}
    )
    assert where == "readings_2026_12"


def test_codes_and_metrics_must_be_strings(session, sensor):
    rows = [
        {"sensor": 123, "metric": "ph", "time": at(0).isoformat(), "value": 7},
        {"sensor": "T-WQ", "metric": ["ph"], "time": at(1).isoformat(), "value": 7},
    ]
    with pytest.raises(BatchRefused) as refused:
        ingest(session, rows=rows, now=NOW)
    assert [(p.row, p.field) for p in refused.value.problems] == [(0, "sensor"), (1, "metric")]


@pytest.fixture
def water_sensor(committed):
    """A demo water-quality sensor (id, code) for tests that commit; its saved rule states
    are removed afterwards (the committed fixture truncates readings and alerts)."""
    with session_scope(committed) as session:
        sensor_id, code = session.execute(
            select(Sensor.id, Sensor.code)
            .where(Sensor.kind == "water_quality", Sensor.code.like("SN%"))
            .order_by(Sensor.id)
            .limit(1)
        ).one()
    yield sensor_id, code
    with session_scope(committed) as session:
        session.execute(text("DELETE FROM rule_states WHERE sensor_id = :s"), {"s": sensor_id})


def dissolved_oxygen(code, when, value):
    return {"sensor": code, "metric": "dissolved_oxygen", "time": when.isoformat(), "value": value}


def test_a_second_worker_waits_and_goes_on_from_the_first_ones_state(committed, water_sensor):
    # Worker 1 has judged two low readings but not committed; worker 2's third low reading
    # must wait for it and then go on from its state (a run of three opens the alert), not
    # from the state it would have read before (a run of one).
    _, code = water_sensor
    base = datetime(2026, 6, 1, tzinfo=UTC)

    def oxygen(*pairs):
        return [dissolved_oxygen(code, base + timedelta(minutes=m), v) for m, v in pairs]

    with session_scope(committed) as session:
        ingest(session, rows=oxygen((0, 6.0)))  # the partition and a saved state exist
    first = committed()
    ingest(first, rows=oxygen((10, 3.5), (20, 3.4)))
    outcome = {}
    pids: queue.Queue[int] = queue.Queue()

    def second_worker():
        with session_scope(committed) as session:
            pids.put(backend_pid(session))
            outcome["opened"] = ingest(session, rows=oxygen((30, 3.3))).alerts_opened

    worker = threading.Thread(target=second_worker)
    worker.start()
    # Waiting for the sensor, held by the first worker (PostgreSQL says so).
    wait_until_blocked(committed, pids.get(timeout=30), by=backend_pid(first))
    first.commit()
    first.close()
    worker.join(timeout=30)
    assert not worker.is_alive() and len(outcome["opened"]) == 1
    with session_scope(committed) as session:
        alert = session.get(Alert, outcome["opened"][0])
        assert alert.opened_at == base + timedelta(minutes=30) and alert.cleared_at is None


# -- partitions ---------------------------------------------------------------------------


def test_months_run_on_across_the_new_year():
    assert months_from((2026, 11), 4) == [(2026, 11), (2026, 12), (2027, 1), (2027, 2)]
    # 05:00 on 1 January in Beijing is still December in UTC, where the bounds are.
    assert month_of(datetime.fromisoformat("2027-01-01T05:00:00+08:00")) == (2026, 12)


def test_partitions_are_made_ahead_with_the_tables_indexes(committed):
    made = make_partitions_ahead(committed, now=datetime(2032, 11, 15, tzinfo=UTC))
    assert made == ["readings_2032_11", "readings_2032_12", "readings_2033_01"]
    assert make_partitions_ahead(committed, now=datetime(2032, 11, 20, tzinfo=UTC)) == []
    with session_scope(committed) as session:
        indexes = session.execute(
            text(
                "SELECT indexdef FROM pg_indexes WHERE tablename = 'readings_2032_12'"
                " ORDER BY indexdef"
            )
        ).scalars()
        kinds = sorted(
            "brin" if "USING brin (at)" in d else "unique" if "UNIQUE" in d else d for d in indexes
        )
    assert kinds == ["brin", "unique"]


def test_a_tick_ahead_does_not_wait_for_a_batch_making_partitions(committed):
    holder = committed()
    holder.execute(text("SELECT pg_advisory_xact_lock(hashtext('gridgov_readings_partitions'))"))
    try:
        assert make_partitions_ahead(committed, now=datetime(2034, 5, 1, tzinfo=UTC)) == []
    finally:
        holder.rollback()
        holder.close()
    assert len(make_partitions_ahead(committed, now=datetime(2034, 5, 1, tzinfo=UTC))) == 3


def test_a_batch_reaching_a_new_month_does_not_deadlock_with_one_holding_its_sensor(
    committed, water_sensor
):
    # Worker 1 has locked its sensor and not yet written; worker 2's reading is the first of
    # a month nobody has made. Worker 2 makes the partition and waits for the sensor; worker
    # 1 then writes into readings. Had the partition locked the whole table, worker 1 would
    # wait for worker 2 and PostgreSQL would kill one of them ("deadlock detected").
    sensor_id, code = water_sensor

    def oxygen(when):
        return [dissolved_oxygen(code, when, 6.0)]

    june, new_month = datetime(2026, 6, 1, tzinfo=UTC), datetime(2035, 1, 1, 0, 1, tzinfo=UTC)
    with session_scope(committed) as session:
        ingest(session, rows=oxygen(june))  # June's partition exists
    first = committed()
    Evaluation(first, {sensor_id: "water_quality"})  # what a batch does first: lock
    outcome = {}
    pids: queue.Queue[int] = queue.Queue()

    def second_worker():
        try:
            with session_scope(committed) as session:
                pids.put(backend_pid(session))
                outcome["written"] = ingest(session, rows=oxygen(new_month), now=new_month).written
        except Exception as error:  # the test reports it below
            outcome["error"] = error

    worker = threading.Thread(target=second_worker)
    worker.start()
    # The partition is made and the worker waits for the sensor, held by the first one.
    wait_until_blocked(committed, pids.get(timeout=30), by=backend_pid(first))
    ingest(first, rows=oxygen(june + timedelta(minutes=10)), now=june + timedelta(hours=1))
    first.commit()
    first.close()
    worker.join(timeout=30)
    assert outcome == {"written": 1}
    with session_scope(committed) as session:
        where = session.scalar(
            text("SELECT tableoid::regclass::text FROM readings WHERE at = :at"),
            {"at": new_month},
        )
    assert where == "readings_2035_01"


# -- alerts outside the city --------------------------------------------------------------


def test_an_alert_outside_every_grid_still_tells_the_owner(session, demo_generation):
    far = Sensor(
        code="T-FAR",
        name="远海浮标",
        kind="water_quality",
        owner_department="990105-CG",
        metrics={"dissolved_oxygen": "mg/L"},
        position=from_shape(Point(100.0, 10.0), srid=4326),  # far outside the demo city
    )
    session.add(far)
    session.flush()
    result = ingest(session, rows=rows((0, 3.0), (10, 3.1), (20, 3.2), sensor="T-FAR"), now=NOW)
    [alert_id] = result.alerts_opened
    alert = session.get(Alert, alert_id)
    assert (alert.opened_at, alert.cleared_at, alert.incident_id) == (at(20), None, None)
    handler = session.scalar(select(User.id).where(User.username == "handler_dcg"))
    told = session.scalars(
        select(Notification).where(Notification.kind == "alert", Notification.user_id == handler)
    ).all()
    assert [(n.title, n.data) for n in told] == [
        (
            "告警：远海浮标 溶解氧偏低",
            {"alert": alert_id, "sensor": "T-FAR", "incident": None, "state": "open"},
        )
    ]


# -- the catalogue CSVs -------------------------------------------------------------------

RULE_HEADER = (
    "name,sensor_kind,sensor,metric,condition,low,high,max_rate_per_minute,sustain_count,"
    "sustain_minutes,clear_minutes,max_gap_minutes,category_code\n"
)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_rule_for_one_sensor_is_imported_with_its_gap(session, sensor, tmp_path):
    path = write(
        tmp_path,
        "rules.csv",
        RULE_HEADER
        + "T-WQ 溶解氧,,T-WQ,dissolved_oxygen,below,5,,,2,,10,90,0602\n"
        + "按类型,water_quality,,ph,above,,9,,1,0,0,,0602\n",
    )
    assert import_rules(session, path=path) == 2
    one = session.scalar(select(SensorRule).where(SensorRule.name == "T-WQ 溶解氧"))
    assert (one.sensor_id, one.sensor_kind, one.low, one.max_gap_minutes, one.clear_minutes) == (
        sensor.id,
        None,
        5.0,
        90.0,
        10.0,
    )
    by_kind = session.scalar(select(SensorRule).where(SensorRule.name == "按类型"))
    assert (by_kind.sensor_id, by_kind.sensor_kind, by_kind.max_gap_minutes) == (
        None,
        "water_quality",
        60.0,
    )
    # The per-sensor rule is evaluated for that sensor: two readings below 5 open it.
    result = ingest(session, rows=rows((0, 4.8), (10, 4.7)), now=NOW)
    opened = session.get(Alert, result.alerts_opened[0])
    assert (opened.rule_id, opened.opened_at) == (one.id, at(10))


def test_bad_rule_rows_name_the_real_field(session, sensor, tmp_path):
    path = write(
        tmp_path,
        "rules.csv",
        RULE_HEADER
        + "neither,,,ph,above,,9,,1,0,0,,0602\n"
        + "both,water_quality,T-WQ,ph,above,,9,,1,0,0,,0602\n"
        + "nobody,,T-NONE,ph,above,,9,,1,0,0,,0602\n"
        + "bad high,water_quality,,ph,above,,nine,,1,0,0,,0602\n"
        + "bad gap,water_quality,,ph,above,,9,,1,0,0,an hour,0602\n"
        + "bad count,water_quality,,ph,above,,9,,1.5,-1,0,,0602\n"
        + "not reported,,T-WQ,salinity,above,,9,,1,0,0,,0602\n"
        + "no high,water_quality,,ph,above,,,,1,0,0,,0602\n"
        + "no rate,water_quality,,ph,rate,,,,1,0,0,,0602\n"
        + "half a range,water_quality,,ph,outside,6,,,1,0,0,,0602\n",
    )
    with pytest.raises(CatalogueError) as refused:
        import_rules(session, path=path)
    assert [str(p) for p in refused.value.problems] == [
        "line 2: sensor_kind: give sensor_kind or sensor",
        "line 3: sensor: give sensor_kind or sensor, not both",
        "line 4: sensor: no sensor 'T-NONE'",
        "line 5: high: 'nine' is not a number",
        "line 6: max_gap_minutes: 'an hour' is not a number",
        "line 7: sustain_minutes: -1.0 is below 0.0",
        "line 7: sustain_count: must be a whole number >= 1",
        "line 8: metric: T-WQ does not report 'salinity'",
        "line 9: high: a rule 'above' needs high",
        "line 10: max_rate_per_minute: a rule 'rate' needs max_rate_per_minute",
        "line 11: high: a rule 'outside' needs high",
    ]
    assert session.scalar(select(SensorRule).where(SensorRule.name == "neither")) is None


def test_a_rules_file_without_either_target_column_is_refused(session, tmp_path):
    header = RULE_HEADER.replace("sensor_kind,sensor,", "")
    path = write(tmp_path, "rules.csv", header + "x,ph,above,,9,,1,0,0,,0602\n")
    with pytest.raises(CatalogueError) as refused:
        import_rules(session, path=path)
    assert [str(p) for p in refused.value.problems] == [
        "line 1: sensor_kind or sensor: missing column"
    ]


SENSOR_HEADER = "code,name,kind,owner_department,lon,lat,metrics\n"


def test_sensors_csv_finds_grid_and_areas_and_lists_bad_rows(session, demo_generation, tmp_path):
    good = write(
        tmp_path,
        "sensors.csv",
        SENSOR_HEADER + "T-NEW,新水质站,water_quality,990105-HB,109.1,21.55,ph:pH;turbidity:NTU\n",
    )
    assert import_sensors(session, path=good).count == 1
    new = session.scalar(select(Sensor).where(Sensor.code == "T-NEW"))
    assert (
        new.grid_code,
        new.community_code,
        new.street_code,
        new.district_code,
        new.city_code,
        new.metrics,
    ) == (
        "990105009003007",
        "990105009003",
        "990105009",
        "990105",
        "990100",
        {"ph": "pH", "turbidity": "NTU"},
    )
    bad = write(
        tmp_path,
        "bad.csv",
        SENSOR_HEADER
        + "T-B1,,water_quality,NOPE,109.1,21.55,ph:pH\n"
        + "T-B2,,water_quality,990105-HB,east,21.55,ph:pH\n"
        + "T-B3,,water_quality,990105-HB,109.1,95,ph:pH\n"
        + "T-B4,,water_quality,990105-HB,109.1,21.55,ph:pH\n"
        + "T-B5,,water_quality,990105-HB,109.1,21.55,Ph:pH\n"
        + "T-B4,,water_quality,990105-HB,109.1,21.55,ph:pH\n",
    )
    with pytest.raises(CatalogueError) as refused:
        import_sensors(session, path=bad)
    assert [str(p) for p in refused.value.problems] == [
        "line 2: owner_department: no department NOPE",
        "line 3: lon: 'east' is not a number",
        "line 4: lat: 95.0 is not between -90 and 90",
        "line 6: metrics: 'Ph': use lower-case letters, digits and _",
        "line 7: code: T-B4 is also on row 5",
    ]
    with pytest.raises(CatalogueError) as refused:
        import_sensors(session, path=good, crs="mercator")
    assert [(p.field, p.reason.say("en")) for p in refused.value.problems] == [
        ("crs", "unknown CRS 'mercator' (use wgs84, gcj02, bd09, cgcs2000)")
    ]
    assert session.scalar(select(func.count()).where(Sensor.code.like("T-B%"))) == 0


def test_sensors_outside_the_city_are_attached_or_registered_outside(
    session, demo_generation, tmp_path
):
    generation = demo_generation.id
    city = read_level(session, level=Level.CITY, generation_id=generation).geometry.iloc[0]
    east_x, east_y = max(shapely.get_coordinates(city).tolist())
    bank = east_x + 0.0002  # about 21 m east of the city's easternmost vertex
    path = write(
        tmp_path,
        "sensors.csv",
        SENSOR_HEADER
        + f"T-BANK,河岸站,water_quality,990105-HB,{bank},{east_y},ph:pH\n"
        + "T-UP,上游站,water_quality,990105-HB,100.0,10.0,ph:pH\n",
    )
    result = import_sensors(session, path=path, edge_tolerance_m=200)
    nearest = nearest_grid(session, lon=bank, lat=east_y, generation_id=generation)
    assert [(c, g) for c, g, _ in result.attached] == [("T-BANK", nearest.grid.code)]
    assert 15 < result.attached[0][2] < 25
    assert result.outside == ["T-UP"]
    upstream = session.scalar(select(Sensor).where(Sensor.code == "T-UP"))
    assert (upstream.grid_code, upstream.district_code, upstream.owner_department) == (
        None,
        None,
        "990105-HB",
    )


def test_sensors_before_any_boundaries_say_how_to_load_them(session, tmp_path):
    path = write(
        tmp_path, "s.csv", SENSOR_HEADER + "T-N,站,water_quality,990105-HB,109.1,21.55,ph:pH\n"
    )
    session.execute(text("UPDATE boundary_generations SET is_active = false"))
    with pytest.raises(CatalogueError) as refused:
        import_sensors(session, path=path)
    assert "gridgov demo load" in str(refused.value.problems[0])


def test_unknown_sensor_reasons_say_what_is_wrong(session, sensor):
    odd = [
        {"sensor": "nobody", "metric": "ph", "time": at(0).isoformat(), "value": 7},
        {"sensor": 123, "metric": "ph", "time": at(1).isoformat(), "value": 7},
    ]
    with pytest.raises(BatchRefused) as refused:
        ingest(session, rows=odd, now=NOW)
    assert [(p.row, p.field, p.reason) for p in refused.value.problems] == [
        (0, "sensor", "unknown sensor 'nobody'"),
        (1, "sensor", "123 is not a sensor code (a code is a string)"),
    ]


# -- readings out of order while an alert is open ------------------------------------------


def test_late_readings_while_an_alert_is_open_and_one_that_clears_it(session, sensor):
    # The demo rule: dissolved oxygen below 4 for three readings; clears after 30 minutes
    # of good readings.
    opened = ingest(session, rows=rows((0, 3.5), (10, 3.4), (20, 3.3)), now=NOW)
    assert alerts(session, sensor) == [(20, None)]
    ingest(session, rows=rows((30, 3.2), (60, 3.0)), now=NOW)
    # A late low reading while the alert is open: the same alert, nothing new.
    late = ingest(session, rows=rows((40, 3.1)), now=NOW)
    assert (late.written, late.alerts_opened, late.alerts_cleared) == (1, [], [])
    assert alerts(session, sensor) == [(20, None)]
    # Good from 70, but only 25 minutes of it before a low reading at 130: still open.
    ingest(session, rows=rows((70, 5.0), (80, 5.0), (95, 5.0)), now=NOW)
    ingest(session, rows=rows((130, 3.0)), now=NOW)
    assert alerts(session, sensor) == [(20, None)]
    # A late good reading at 100 makes 30 minutes of good readings (70 -> 100): it clears.
    clearing = ingest(session, rows=rows((100, 5.0)), now=NOW)
    assert (clearing.alerts_opened, clearing.alerts_cleared) == ([], opened.alerts_opened)
    assert alerts(session, sensor) == [(20, 100)]
    # The saved state goes on from the replay: 130, 140, 150 are three low readings.
    after = ingest(session, rows=rows((140, 2.9), (150, 2.8)), now=NOW)
    assert len(after.alerts_opened) == 1
    assert alerts(session, sensor) == [(20, 100), (150, None)]
    first = session.get(Alert, opened.alerts_opened[0])
    assert first.readings == [
        {"at": at(m).isoformat(), "value": v} for m, v in ((0, 3.5), (10, 3.4), (20, 3.3))
    ]
    steps = session.execute(
        select(IncidentEvent.action, IncidentEvent.at)
        .where(IncidentEvent.incident_id == first.incident_id)
        .order_by(IncidentEvent.id)
    ).all()
    assert [(action, when) for action, when in steps] == [
        ("report", at(20)),
        ("dispatch", at(20)),
        ("alert_opened", at(20)),
        ("alert_cleared", at(100)),
    ]


def place(session, code, kind, metrics):
    probe = Sensor(
        code=code,
        name=code,
        kind=kind,
        owner_department="990105-CG",
        metrics=metrics,
        position=from_shape(Point(109.1, 21.55), srid=4326),
        grid_code="990105009003007",
        community_code="990105009003",
        street_code="990105009",
        district_code="990105",
        city_code="990100",
    )
    session.add(probe)
    session.flush()
    return probe


def incidents_of(session, probe):
    found = session.scalars(
        select(Alert).where(Alert.sensor_id == probe.id).order_by(Alert.id)
    ).all()
    return [
        (i.source, i.category_code, i.grid_code, i.status)
        for i in (session.get(Incident, a.incident_id) for a in found)
    ]


def test_a_rate_rule_through_ingest(session, demo_generation):
    # The demo rule 温度骤升: temperature changing faster than 5 per minute; clears after
    # 15 minutes without such a change.
    probe = place(session, "T-ES", "enterprise_safety", {"temperature": "°C", "pressure": "MPa"})

    def temperature(*pairs):
        return rows(*pairs, metric="temperature", sensor="T-ES")

    calm = ingest(session, rows=temperature((0, 20.0), (1, 21.0)), now=NOW)
    assert calm.alerts_opened == []
    jump = ingest(session, rows=temperature((2, 30.0)), now=NOW)  # 9 per minute
    assert len(jump.alerts_opened) == 1
    assert alerts(session, probe) == [(2, None)]
    # The first reading of this batch is judged against the saved last one (30 at minute
    # 2): a change of 1 in a minute is fine; 17 minutes of such readings clear it at 20.
    ingest(session, rows=temperature((3, 31.0), (10, 32.0)), now=NOW)
    assert alerts(session, probe) == [(2, None)]
    settled = ingest(session, rows=temperature((20, 33.0)), now=NOW)
    assert settled.alerts_cleared == jump.alerts_opened
    assert alerts(session, probe) == [(2, 20)]
    # A fall is a change too: 33 -> 20 in two minutes.
    fall = ingest(session, rows=temperature((22, 20.0)), now=NOW)
    assert len(fall.alerts_opened) == 1
    assert alerts(session, probe) == [(2, 20), (22, None)]
    assert session.get(Alert, fall.alerts_opened[0]).readings == [
        {"at": at(22).isoformat(), "value": 20.0}
    ]
    assert incidents_of(session, probe) == [("sensor", "0601", "990105009003007", "dispatched")] * 2


def test_a_rule_sustained_for_minutes_through_ingest(session, demo_generation):
    # The demo rule 噪声超标: noise above 70 for three readings spanning 30 minutes; clears
    # after 30 minutes of quiet.
    probe = place(session, "T-NS", "noise", {"noise": "dB(A)"})

    def noise(*pairs):
        return rows(*pairs, metric="noise", sensor="T-NS")

    three = ingest(session, rows=noise((0, 75), (10, 76), (20, 77)), now=NOW)
    assert three.alerts_opened == []  # three readings, but only 20 minutes
    thirty = ingest(session, rows=noise((30, 78)), now=NOW)
    assert len(thirty.alerts_opened) == 1
    ingest(session, rows=noise((40, 60), (50, 60)), now=NOW)
    quiet = ingest(session, rows=noise((70, 60)), now=NOW)
    assert quiet.alerts_cleared == thirty.alerts_opened
    # A quiet reading at 120 restarts the run: 130 -> 160 is the next 30 minutes.
    ingest(session, rows=noise((100, 80), (110, 80), (120, 65), (130, 80)), now=NOW)
    ingest(session, rows=noise((140, 80), (150, 80)), now=NOW)
    assert alerts(session, probe) == [(30, 70)]
    again = ingest(session, rows=noise((160, 80)), now=NOW)
    assert len(again.alerts_opened) == 1
    assert alerts(session, probe) == [(30, 70), (160, None)]
    assert session.get(Alert, again.alerts_opened[0]).readings == [
        {"at": at(m).isoformat(), "value": 80.0} for m in (130, 140, 150, 160)
    ]
    assert incidents_of(session, probe) == [("sensor", "0301", "990105009003007", "dispatched")] * 2


# -- NDJSON arriving in pieces ------------------------------------------------------------


def post_in_pieces(client, body: bytes, cuts: list[int], headers: dict[str, str]):
    """POST the body through the app as separate chunks, cut at the given byte positions
    (httpx's ASGI transport hands each chunk to the app as its own message)."""

    async def pieces():
        start = 0
        for cut in [*cuts, len(body)]:
            yield body[start:cut]
            start = cut

    async def post():
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.post(
                "/api/v1/readings",
                content=pieces(),
                headers={**headers, "Content-Type": "application/x-ndjson"},
            )

    return asyncio.run(post())


def test_ndjson_cut_anywhere_even_inside_a_chinese_character(client, session):
    headers = auth(session, "operator")
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    lines = [
        json.dumps(
            {
                "sensor": "SN0006",
                "metric": "methane",
                "time": (base + timedelta(minutes=m)).isoformat(),
                "value": 3 + m,
                "note": "井下甲烷",
            },
            ensure_ascii=False,
        )
        for m in range(5)
    ]
    body = ("\n".join(lines) + "\n").encode()
    inside = body.index("甲".encode()) + 1  # between the first and second byte of 甲
    rng = random.Random(5)
    ways = [
        [inside],
        [inside + 1, body.index(b"\n") + 1],  # a cut right after a newline
        list(range(1, len(body))),  # one byte at a time
        sorted(rng.sample(range(1, len(body)), 12)),
    ]
    answers = [post_in_pieces(client, body, cuts, headers) for cuts in ways]
    assert [a.status_code for a in answers] == [200] * 4, answers[0].text
    assert [(a.json()["written"], a.json()["duplicates"]) for a in answers] == [
        (5, 0),
        (0, 5),
        (0, 5),
        (0, 5),
    ]
    # A Chinese code cut in the middle is put together again before it is looked up.
    unknown = json.dumps(
        {"sensor": "未知站", "metric": "methane", "time": base.isoformat(), "value": 1},
        ensure_ascii=False,
    ).encode()
    cut = unknown.index("知".encode()) + 2
    refused = post_in_pieces(client, unknown, [cut], headers)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"row": 0, "field": "sensor", "reason": "unknown sensor '未知站'", "type": "batch.row"}
    ]
