"""Fences: a jittering track along the edge yields exactly the true crossings."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

import pytest
from geoalchemy2.shape import to_shape
from shapely.geometry import Point, box
from sqlalchemy import delete, event, func, select, update

from gridgov.boundaries.lookup import nearest_grid
from gridgov.errors import FieldError
from gridgov.fences.crossing import Dwell, Side, active_at, step, walk
from gridgov.fences.events import SNAP_WITHIN_M
from gridgov.fences.index import FenceIndex
from gridgov.fences.models import Fence, FenceChange, FenceEvent, Tracker
from gridgov.fences.service import follow, process_positions, remove_fence, save_fence
from gridgov.incidents.models import Incident
from gridgov.notifications.models import Notification
from gridgov.users.models import User

T = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 in the city
# A 0.01° square around the demo city's centre; its west edge is at lon 109.095.
FENCE = box(109.095, 21.545, 109.105, 21.555)
EDGE = 109.095
M = 1e-5  # about a metre of longitude


def track():
    """Five-second fixes: 2 minutes jittering across the west edge (never 3 on the far side in
    a row, never 30 s), then really inside for a minute, jitter again, then out for good."""
    fixes = []
    jitter = [-3, 2, -2, 4, -1, 3, 3, -2, -4, 1, -3, 2, 2, -1, -3, 4, -2, 1, 1, -2, -3, 2, -1, -4]
    for n, metres in enumerate(jitter):  # starts outside (-3 m)
        fixes.append((T + timedelta(seconds=5 * n), EDGE + metres * M))
    start = len(fixes)
    for n in range(12):  # 60 s well inside
        fixes.append((T + timedelta(seconds=5 * (start + n)), EDGE + 200 * M))
    start = len(fixes)
    for n, metres in enumerate([2, -2, 1, -1, 3, -3, 2]):  # jitter while leaving, ending outside
        fixes.append((T + timedelta(seconds=5 * (start + n)), EDGE + metres * M))
    start = len(fixes)
    for n in range(8):  # 40 s well outside
        fixes.append((T + timedelta(seconds=5 * (start + n)), EDGE - 200 * M))
    return fixes


def test_jitter_produces_only_the_true_crossings_pure():
    side: Side | None = None
    events = []
    for at, lon in track():
        side, event = step(side, FENCE.covers(Point(lon, 21.55)), at, Dwell(30, 3))
        if event:
            events.append((event, at))
    # In at fix 24, confirmed at the third fix inside (26); out for good at fix 43,
    # confirmed at 45. Fix n is at 5 n seconds.
    assert events == [("enter", T + timedelta(seconds=130)), ("exit", T + timedelta(seconds=225))]


def test_old_positions_cannot_move_a_tracker_back():
    side, _ = step(None, False, T, Dwell())
    side, _ = step(side, True, T + timedelta(seconds=10), Dwell(positions=1))
    assert side.inside
    same, event = step(side, False, T + timedelta(seconds=5), Dwell(positions=1))
    assert same is side and event is None


def test_active_hours_wrap_midnight():
    assert active_at(time(1), time(22), time(6))
    assert not active_at(time(7), time(22), time(6))
    assert active_at(time(7), None, None)


def stepped(times, covers, sides, last_seen, active, dwell):
    """The reference: every fix steps every fence covering it or already sided, one by one."""
    sides, moved, crossings, seen = dict(sides), {}, [], last_seen
    for n, (at, cover) in enumerate(zip(times, covers, strict=True)):
        for fence_id in sorted(cover | set(sides)):
            if fence_id not in active:
                continue
            before = sides.get(fence_id)
            if before is None and seen is not None:
                before = Side(inside=False, last_at=seen)  # seen outside
            after, event = step(before, fence_id in cover, at, dwell)
            if after != before:
                sides[fence_id] = moved[fence_id] = after
            if event:
                crossings.append((n, fence_id, event))
        if seen is None or at > seen:
            seen = at
    return moved, crossings


def test_walking_a_batch_agrees_with_stepping_fix_by_fix():
    rng = random.Random(7)
    for _ in range(3000):
        dwell = Dwell(rng.choice([0, 10, 30]), rng.choice([1, 2, 3]))
        times = sorted(
            T + timedelta(seconds=rng.randint(0, 120)) for _ in range(rng.randint(1, 15))
        )
        covers = [{f for f in (1, 2, 3) if rng.random() < 0.4} for _ in times]
        sides = {
            f: Side(
                rng.random() < 0.5,
                *rng.choice([(None, None, 0), (True, T, 1), (False, T, 2)]),
                last_at=T + timedelta(seconds=rng.randint(0, 60)),
            )
            for f in (1, 2, 4)
            if rng.random() < 0.5
        }
        last_seen = rng.choice([None, T + timedelta(seconds=rng.randint(0, 60))])
        active = {1, 2, 3} if rng.random() < 0.8 else {1, 3}
        expected = stepped(times, covers, sides, last_seen, active, dwell)
        assert follow(times, covers, sides, last_seen=last_seen, fences=active, dwell=dwell) == (
            expected
        )
        side = sides.get(1)
        positions = [(1 in cover, at) for at, cover in zip(times, covers, strict=True)]
        by_step, events = side, []
        for n, (inside, at) in enumerate(positions):
            by_step, event = step(by_step, inside, at, dwell)
            if event:
                events.append((n, event))
        assert walk(side, positions, dwell) == (by_step, events)


@pytest.fixture
def boat(session, demo_generation):
    owner = session.scalar(select(User).where(User.username == "operator"))
    tracker = Tracker(code="T-BOAT", name="渔船甲", kind="boat", owner_id=owner.id)
    session.add(tracker)
    session.flush()
    return tracker


def positions(fixes, tracker="T-BOAT", lat=21.55):
    return [
        {"tracker": tracker, "time": at.isoformat(), "lon": lon, "lat": lat} for at, lon in fixes
    ]


def told(session, events):
    """Who was told about which of these events: sorted (event number, username, kind)."""
    number = {e.id: n for n, e in enumerate(events)}
    rows = session.execute(
        select(Notification.data, User.username, Notification.kind)
        .join(User, User.id == Notification.user_id)
        .where(Notification.kind.in_(("fence_breach", "fence_crossing")))
    ).all()
    return sorted((number[data["event"]], name, kind) for data, name, kind in rows)


def test_a_fence_needs_a_category_an_incident_can_have(session, demo_generation):
    for category, key in (("06", "incident.major_class"), ("9999", "incident.unknown_category")):
        with pytest.raises(FieldError) as refused:
            save_fence(
                session, code="T-F8", name="甲", rule="no_entry", geom=FENCE, category_code=category
            )
        assert (refused.value.field, refused.value.key) == ("category_code", key)
    assert session.scalar(select(Fence).where(Fence.code == "T-F8")) is None


def test_a_breach_whose_incident_fails_sinks_nothing(session, boat):
    fence = save_fence(session, code="T-F9", name="水源保护区", rule="no_entry", geom=FENCE)
    # The category list changed under the fence: 0601 is now a major class.
    session.execute(update(Fence).where(Fence.id == fence.id).values(category_code="06"))
    incidents = session.scalar(select(func.count(Incident.id)))
    result = process_positions(
        session, rows=positions(track()[20:40]), index=FenceIndex(), now=T + timedelta(hours=1)
    )
    assert [(e.kind, e.breach, e.incident_id) for e in result.events] == [("enter", True, None)]
    assert session.scalar(select(func.count(Incident.id))) == incidents
    assert session.scalar(select(FenceEvent.id).where(FenceEvent.fence_id == fence.id)) == (
        result.events[0].id
    )
    assert told(session, result.events) == [
        (0, "gridhead", "fence_breach"),
        (0, "operator", "fence_breach"),
    ]


def test_positions_through_no_entry_no_exit_and_watch_fences(session, boat):
    codes = {"no_entry": "T-F1", "no_exit": "T-F1X", "watch": "T-F1W"}
    for rule, code in codes.items():
        save_fence(session, code=code, name=f"水源保护区{code}", rule=rule, geom=FENCE)
    # The exit (lon 109.093) lies in a grid of the next district, with its own grid head.
    west = "990104005003009"
    session.add(
        User(username="T-WEST", password_hash="!", display_name="西侧网格长", role="grid_head",
             grid_code=west)
    )  # fmt: skip
    session.flush()
    incidents = session.scalar(select(func.count(Incident.id)))
    index = FenceIndex()
    fixes = track()
    # Sent in three batches, one of them out of order within itself.
    batches = [fixes[:20], list(reversed(fixes[20:40])), fixes[40:]]
    events = []
    for batch in batches:
        result = process_positions(
            session, rows=positions(batch), index=index, now=T + timedelta(hours=1)
        )
        assert result.refused == []
        events += result.events
    fence_code = dict(session.execute(select(Fence.id, Fence.code)).all())
    entered, left = T + timedelta(seconds=130), T + timedelta(seconds=225)
    home = "990105009003007"
    assert [
        (fence_code[e.fence_id], e.kind, e.at, e.grid_code, e.breach, e.incident_id is not None)
        for e in events
    ] == [
        ("T-F1", "enter", entered, home, True, True),
        ("T-F1X", "enter", entered, home, False, False),
        ("T-F1W", "enter", entered, home, False, False),
        ("T-F1", "exit", left, west, False, False),
        ("T-F1X", "exit", left, west, True, True),
        ("T-F1W", "exit", left, west, False, False),
    ]
    assert session.scalar(select(func.count(Incident.id))) == incidents + 2
    opened = [session.get(Incident, e.incident_id) for e in (events[0], events[4])]
    assert [(i.source, i.grid_code, i.category_code) for i in opened] == [
        ("fence", home, "0601"),
        ("fence", west, "0601"),
    ]
    # Every crossing reaches the tracker's owner; a breach also the grid head where it happened.
    assert told(session, events) == sorted(
        [
            (0, "gridhead", "fence_breach"),
            (0, "operator", "fence_breach"),
            (1, "operator", "fence_crossing"),
            (2, "operator", "fence_crossing"),
            (3, "operator", "fence_crossing"),
            (4, "T-WEST", "fence_breach"),
            (4, "operator", "fence_breach"),
            (5, "operator", "fence_crossing"),
        ]
    )
    titles = session.scalars(
        select(Notification.title)
        .where(Notification.kind.in_(("fence_breach", "fence_crossing")))
        .order_by(Notification.id)
    ).all()
    assert titles[0] == "渔船甲 进入 水源保护区T-F1" and titles[-1] == "渔船甲 离开 水源保护区T-F1W"
    stored = session.scalars(select(FenceEvent.id).where(FenceEvent.tracker_id == boat.id)).all()
    assert sorted(stored) == sorted(e.id for e in events)


def test_trackers_are_locked_in_id_order(session, boat):
    other = Tracker(code="T-BOAT2", owner_id=boat.owner_id)
    session.add(other)
    session.flush()
    statements = []
    connection = session.connection()

    def keep(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    event.listen(connection, "before_cursor_execute", keep)
    try:
        rows = positions(track()[:2], tracker="T-BOAT2") + positions(track()[:2])
        process_positions(session, rows=rows, index=FenceIndex(), now=T + timedelta(hours=1))
    finally:
        event.remove(connection, "before_cursor_execute", keep)
    (locking,) = [s for s in statements if s.endswith("FOR UPDATE")]
    assert locking.startswith("SELECT trackers.id") and "ORDER BY trackers.id FOR UPDATE" in locking


# Off the demo city's south coast, at lat 21.38: 2.8 km from the nearest grid. At lat 21.0:
# 44 km out, beyond the territorial sea.
SEA = box(109.09, 21.37, 109.11, 21.39)
FAR = box(109.09, 20.99, 109.11, 21.01)


def sailing_in():
    """Two fixes west of the fence, then four inside it (the fourth is the crossing)."""
    return [(T + timedelta(seconds=10 * n), 109.08 if n < 2 else 109.1) for n in range(6)]


def test_a_breach_at_sea_goes_to_the_nearest_grid(session, boat, demo_generation):
    fence_owner = session.scalar(select(User).where(User.username == "operator_nw"))
    save_fence(
        session, code="T-SEA", name="禁渔区", rule="no_entry", geom=SEA, owner_id=fence_owner.id
    )
    nearest = nearest_grid(session, lon=109.1, lat=21.38, generation_id=demo_generation.id)
    assert 1000 < nearest.distance_m < SNAP_WITHIN_M
    session.add(
        User(
            username="T-COAST",
            password_hash="!",
            display_name="海边网格长",
            role="grid_head",
            grid_code=nearest.grid.code,
        )
    )
    session.flush()
    result = process_positions(
        session,
        rows=positions(sailing_in(), lat=21.38),
        index=FenceIndex(),
        now=T + timedelta(hours=1),
    )
    assert [(e.kind, e.breach, e.at, e.grid_code) for e in result.events] == [
        ("enter", True, T + timedelta(seconds=40), nearest.grid.code)
    ]
    incident = session.get(Incident, result.events[0].incident_id)
    assert (incident.grid_code, incident.snapped, incident.source) == (
        nearest.grid.code,
        True,
        "fence",
    )
    assert to_shape(incident.position).equals_exact(Point(109.1, 21.38), 1e-9)
    assert told(session, result.events) == [
        (0, "T-COAST", "fence_breach"),
        (0, "operator", "fence_breach"),
        (0, "operator_nw", "fence_breach"),
    ]


def test_a_breach_beyond_the_territorial_sea_still_reaches_the_owners(session, boat):
    fence_owner = session.scalar(select(User).where(User.username == "operator_nw"))
    save_fence(
        session, code="T-FAR", name="远海禁渔区", rule="no_entry", geom=FAR, owner_id=fence_owner.id
    )
    incidents = session.scalar(select(func.count(Incident.id)))
    result = process_positions(
        session,
        rows=positions(sailing_in(), lat=21.0),
        index=FenceIndex(),
        now=T + timedelta(hours=1),
    )
    assert [(e.kind, e.breach, e.grid_code, e.incident_id) for e in result.events] == [
        ("enter", True, None, None)
    ]
    assert session.scalar(select(func.count(Incident.id))) == incidents
    assert told(session, result.events) == [
        (0, "operator", "fence_breach"),
        (0, "operator_nw", "fence_breach"),
    ]


def test_breach_outside_active_hours_is_only_a_crossing(session, boat):
    save_fence(
        session,
        code="T-F2",
        name="夜间禁渔区",
        rule="no_entry",
        geom=FENCE,
        active_from=time(22),
        active_to=time(6),
    )
    result = process_positions(
        session, rows=positions(track()[20:40]), index=FenceIndex(), now=T + timedelta(hours=1)
    )
    assert [(e.kind, e.breach, e.incident_id) for e in result.events] == [("enter", False, None)]


def test_bad_rows_are_refused_one_by_one(session, boat):
    rows = [
        *positions(track()[:2]),
        {"tracker": "ghost", "time": T.isoformat(), "lon": 109.1, "lat": 21.55},
        {"tracker": "T-BOAT", "time": T.isoformat(), "lon": 190, "lat": 21.55},
        {"tracker": "T-BOAT", "time": T.isoformat(), "lon": 109.1, "lat": "north"},
        {"tracker": "T-BOAT", "time": "soon", "lon": 109.1, "lat": 21.55},
    ]
    result = process_positions(session, rows=rows, index=FenceIndex(), now=T)
    assert result.accepted == 2
    assert [(p.row, p.field) for p in result.refused] == [
        (2, "tracker"),
        (3, "lon"),
        (4, "lat"),
        (5, "time"),
    ]


def test_the_index_follows_fence_changes_without_a_rebuild(session, demo_generation):
    index = FenceIndex()
    save_fence(session, code="T-F3", name="甲", rule="watch", geom=FENCE)
    index.sync(session)
    assert len(index) >= 1 and index.covering(109.1, 21.55)
    moved = box(110.0, 22.0, 110.01, 22.01)
    save_fence(session, code="T-F3", name="甲", rule="watch", geom=moved)
    assert index.sync(session) == 1  # one change applied, nothing reloaded
    assert not index.covering(109.1, 21.55) and index.covering(110.005, 22.005)
    remove_fence(session, code="T-F3")
    index.sync(session)
    assert not index.covering(110.005, 22.005)


def test_a_whole_batch_finds_the_same_fences_as_point_by_point(session, demo_generation):
    save_fence(session, code="T-F6", name="甲", rule="watch", geom=FENCE)
    save_fence(session, code="T-F7", name="乙", rule="watch", geom=box(109.1, 21.55, 109.11, 21.56))
    index = FenceIndex()
    index.sync(session)
    rng = random.Random(3)
    lons = [rng.uniform(109.09, 109.115) for _ in range(500)] + [EDGE, 109.1, 109.105]
    lats = [rng.uniform(21.54, 21.565) for _ in range(500)] + [21.55, 21.55, 21.555]
    many = index.covering_many(lons, lats)
    assert [set(found) for found in many] == [
        index.covering(lon, lat) for lon, lat in zip(lons, lats, strict=True)
    ]
    assert len(many[-1]) == 2  # a corner shared by both fences is in both


def test_a_change_that_commits_late_is_still_applied(session, demo_generation):
    index = FenceIndex()
    index.sync(session)
    save_fence(session, code="T-F4", name="甲", rule="watch", geom=FENCE)
    late = session.scalar(select(FenceChange.id).order_by(FenceChange.id.desc()).limit(1))
    session.execute(delete(FenceChange).where(FenceChange.id == late))  # not committed yet...
    save_fence(session, code="T-F5", name="乙", rule="watch", geom=box(110.0, 22.0, 110.01, 22.01))
    index.sync(session)  # ...while a later change is seen
    fence_id = session.scalar(select(Fence.id).where(Fence.code == "T-F4"))
    assert fence_id not in index.covering(109.1, 21.55)
    session.add(FenceChange(id=late, fence_id=fence_id))  # the earlier change commits now
    session.flush()
    index.sync(session)
    assert fence_id in index.covering(109.1, 21.55)


def test_batches_agree_with_stepping_and_settled_sides_are_not_rewritten(session, boat):
    """A wandering tracker over three small fences, sent in batches: the crossings are those
    of stepping every fix through every fence; a side settled outside is not written again
    for every batch (it moves on with the tracker's last sighting)."""
    fences = {
        save_fence(session, code=f"T-W{n}", name=f"围栏{n}", rule="watch", geom=shape).id: shape
        for n, shape in enumerate(
            [box(109.095, 21.545, 109.097, 21.547), box(109.098, 21.545, 109.1, 21.547),
             box(109.095, 21.548, 109.097, 21.55)]
        )
    }  # fmt: skip
    rng = random.Random(11)
    lon, lat, fixes = 109.096, 21.546, []
    for n in range(240):
        lon = min(max(lon + rng.uniform(-0.0004, 0.0004), 109.093), 109.102)
        lat = min(max(lat + rng.uniform(-0.0004, 0.0004), 21.543), 21.552)
        fixes.append((T + timedelta(seconds=5 * n), lon, lat))
    covers = [{f for f, g in fences.items() if g.covers(Point(x, y))} for _, x, y in fixes]
    dwell = Dwell(30, 3)
    _, expected = stepped([at for at, _, _ in fixes], covers, {}, None, set(fences), dwell)
    assert len(expected) >= 6  # the walk crosses fence edges
    index, found, writes = FenceIndex(), [], []
    rows = [{"tracker": "T-BOAT", "time": at.isoformat(), "lon": x, "lat": y} for at, x, y in fixes]

    def count_side_writes(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith("INSERT INTO tracker_sides"):
            writes.append(parameters["fences"].count(",") + 1)

    event.listen(session.get_bind(), "before_cursor_execute", count_side_writes)
    try:
        for start in range(0, len(rows), 20):
            result = process_positions(
                session, rows=rows[start : start + 20], index=index, dwell=dwell,
                now=T + timedelta(hours=1),
            )  # fmt: skip
            number = {at: n for n, (at, _, _) in enumerate(fixes)}
            found += [(number[e.at], e.fence_id, e.kind) for e in result.events]
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", count_side_writes)
    assert found == expected
    # A batch writes only the sides that change: while the tracker wanders outside every
    # fence, nothing (before, every batch rewrote every side the tracker had, to move its time).
    assert len(writes) < len(rows) // 20
