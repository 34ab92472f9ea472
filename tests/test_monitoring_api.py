"""Readings and positions over HTTP, in every body format."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from shapely.geometry import box
from sqlalchemy import select, text

from gridgov.fences.models import Fence, Tracker
from gridgov.fences.service import save_fence
from gridgov.incidents.models import Incident
from gridgov.notifications.models import Notification
from gridgov.sensors.models import Alert, Sensor, SensorRule
from gridgov.users.models import User
from tests.conftest import auth

T = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def readings(*pairs, metric="methane"):
    return [{"sensor": "SN0006", "metric": metric, "time": (T + timedelta(minutes=m)).isoformat(),
             "value": v} for m, v in pairs]  # fmt: skip


def test_json_csv_and_ndjson_batches(client, session):
    sensor = session.scalar(select(Sensor).where(Sensor.code == "SN0006"))
    assert sensor.kind == "gas"  # the demo rule: methane above 20 %LEL opens at once
    headers = auth(session, "operator")
    as_json = client.post("/api/v1/readings", json=readings((0, 5), (1, 6)), headers=headers)
    assert as_json.status_code == 200, as_json.text
    assert as_json.json()["written"] == 2
    csv_body = "sensor,time,metric,value\n" + "".join(
        f"SN0006,{(T + timedelta(minutes=m)).isoformat()},methane,{v}\n"
        for m, v in ((2, 7), (3, 25))
    )
    as_csv = client.post(
        "/api/v1/readings", content=csv_body, headers={**headers, "Content-Type": "text/csv"}
    )
    assert as_csv.json()["written"] == 2 and len(as_csv.json()["alerts_opened"]) == 1
    ndjson = "\n".join(json.dumps(r) for r in readings((4, 3), (1, 6))) + "\n"
    as_nd = client.post(
        "/api/v1/readings",
        content=ndjson,
        headers={**headers, "Content-Type": "application/x-ndjson"},
    )
    assert (as_nd.json()["written"], as_nd.json()["duplicates"]) == (1, 1)
    alerts = client.get("/api/v1/alerts", params={"open": True}, headers=headers).json()
    (opened,) = as_csv.json()["alerts_opened"]
    assert [(a["id"], a["sensor"], a["cleared_at"]) for a in alerts] == [(opened, "SN0006", None)]
    incident = session.get(Incident, alerts[0]["incident_id"])
    assert (incident.source, incident.category_code) == ("sensor", "0403")


def test_a_bad_batch_is_refused_whole_with_reasons(client, session):
    bad = [
        *readings((0, 5)),
        {"sensor": "SN0006", "metric": "methane", "time": "later", "value": 1},
    ]
    response = client.post("/api/v1/readings", json=bad, headers=auth(session, "operator"))
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "row": 1,
            "field": "time",
            "reason": "'later' is not an ISO 8601 time",
            "type": "batch.row",
        }
    ]
    broken = client.post(
        "/api/v1/readings",
        content="{not json",
        headers={**auth(session, "operator"), "Content-Type": "application/json"},
    )
    assert broken.status_code == 422 and broken.json()["errors"][0]["field"] == "body"
    assert (
        client.post(
            "/api/v1/readings", json=readings((0, 1)), headers=auth(session, "gridhead")
        ).status_code
        == 403
    )


def test_positions_and_fences_over_http(client, session):
    headers = auth(session, "operator")
    fence = {
        "code": "T-HTTP",
        "name": "禁入区",
        "rule": "no_entry",
        "geometry": box(109.095, 21.545, 109.105, 21.555).__geo_interface__,
    }
    assert client.post("/api/v1/fences", json=fence, headers=headers).status_code == 201
    bad_fence = client.post(
        "/api/v1/fences",
        json={**fence, "geometry": {"type": "Point", "coordinates": [1, 2]}},
        headers=headers,
    )
    assert bad_fence.status_code == 422 and bad_fence.json()["errors"][0]["field"] == "geometry"
    assert (
        client.post(
            "/api/v1/trackers", json={"code": "T-CAR", "name": "巡逻车"}, headers=headers
        ).status_code
        == 201
    )
    track = [{"tracker": "T-CAR", "time": (T + timedelta(seconds=10 * n)).isoformat(),
              "lon": 109.09 if n < 2 else 109.1, "lat": 21.55} for n in range(6)]  # fmt: skip
    track.append({"tracker": "T-CAR", "time": T.isoformat(), "lon": 109.1, "lat": 95})
    body = client.post("/api/v1/positions", json=track, headers=headers).json()
    assert body["accepted"] == 6
    assert body["refused"] == [{"row": 6, "field": "lat", "reason": "95 is not a latitude"}]
    assert [(e["kind"], e["breach"], e["at"], e["grid"]) for e in body["events"]] == [
        ("enter", True, (T + timedelta(seconds=40)).isoformat(), "990105009003007")
    ]
    incident = session.get(Incident, body["events"][0]["incident_id"])
    assert (incident.source, incident.grid_code) == ("fence", "990105009003007")
    # The caller owns both the tracker and the fence: told once, with the grid head.
    told = session.execute(
        select(User.username, Notification.kind)
        .join(User, User.id == Notification.user_id)
        .where(Notification.kind.in_(("fence_breach", "fence_crossing")))
        .order_by(User.username)
    ).all()
    assert [tuple(row) for row in told] == [
        ("gridhead", "fence_breach"),
        ("operator", "fence_breach"),
    ]
    assert session.scalar(select(Tracker.last_seen_at).where(Tracker.code == "T-CAR")) is not None
    fences = client.get("/api/v1/fences", headers=headers).json()
    assert [f["id"] for f in fences["features"]] == ["T-HTTP"]
    sensors = client.get("/api/v1/sensors", headers=headers).json()
    assert len(sensors["features"]) >= 300


def test_fence_changes_reach_the_running_index(client, session):
    headers = auth(session, "operator")
    client.post("/api/v1/trackers", json={"code": "T-CAR2"}, headers=headers)
    save_fence(
        session, code="T-LATE", name="后加围栏", rule="watch", geom=box(110.0, 22.0, 110.01, 22.01)
    )
    track = [{"tracker": "T-CAR2", "time": (T + timedelta(seconds=10 * n)).isoformat(),
              "lon": 109.99 if n < 1 else 110.005, "lat": 22.005} for n in range(5)]  # fmt: skip
    events = client.post("/api/v1/positions", json=track, headers=headers).json()["events"]
    assert [(e["kind"], e["breach"]) for e in events] == [("enter", False)]


def test_a_fence_category_no_incident_can_have_is_refused(client, session):
    headers = auth(session, "operator")
    fence = {
        "code": "T-CAT",
        "name": "禁入区",
        "rule": "no_entry",
        "geometry": box(109.095, 21.545, 109.105, 21.555).__geo_interface__,
    }
    for category, reason in (
        ("06", "06 是大类，请选择其下的小类"),
        ("nope", "未知的事件类别 nope"),
    ):
        response = client.post(
            "/api/v1/fences", json={**fence, "category_code": category}, headers=headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == f"字段 category_code：{reason}"
        assert [d["field"] for d in response.json()["errors"]] == ["category_code"]


def test_only_the_owner_or_an_admin_changes_a_tracker(client, session):
    mine = client.post(
        "/api/v1/trackers",
        json={"code": "T-OWN", "name": "巡逻车"},
        headers=auth(session, "operator"),
    )
    assert mine.status_code == 201
    tracker = session.scalar(select(Tracker).where(Tracker.code == "T-OWN"))
    owner = tracker.owner_id
    taken = client.post(
        "/api/v1/trackers",
        json={"code": "T-OWN", "name": "我的车"},
        headers=auth(session, "operator_nw"),
    )
    assert taken.status_code == 403
    assert taken.json()["detail"] == ("定位设备 T-OWN 已属于其他用户，只有其所有者或管理员可以修改")
    session.refresh(tracker)
    assert (tracker.name, tracker.owner_id) == ("巡逻车", owner)
    renamed = client.post(
        "/api/v1/trackers", json={"code": "T-OWN", "name": "二号车"}, headers=auth(session, "admin")
    )
    assert renamed.status_code == 201
    session.refresh(tracker)
    assert (tracker.name, tracker.owner_id) == ("二号车", owner)
    again = client.post(
        "/api/v1/trackers",
        json={"code": "T-OWN", "name": "一号车"},
        headers=auth(session, "operator"),
    )
    assert again.status_code == 201
    session.refresh(tracker)
    assert (tracker.name, tracker.owner_id) == ("一号车", owner)


def test_a_removed_fence_stops_producing_crossings(client, session):
    headers = auth(session, "operator")
    fence = {
        "code": "T-DEL",
        "name": "禁入区",
        "rule": "no_entry",
        "geometry": box(109.095, 21.545, 109.105, 21.555).__geo_interface__,
    }
    assert client.post("/api/v1/fences", json=fence, headers=headers).status_code == 201
    client.post("/api/v1/trackers", json={"code": "T-CAR3"}, headers=headers)
    fix = {"tracker": "T-CAR3", "lat": 21.55}
    outside = [{**fix, "time": (T + timedelta(seconds=10 * n)).isoformat(), "lon": 109.09}
               for n in range(2)]  # fmt: skip
    assert client.post("/api/v1/positions", json=outside, headers=headers).json()["events"] == []
    index = client.app.state.fence_index
    fence_id = session.scalar(select(Fence.id).where(Fence.code == "T-DEL"))
    assert fence_id in index  # the running index has it...
    refused = client.delete("/api/v1/fences/T-DEL", headers=auth(session, "gridhead"))
    assert refused.status_code == 403
    assert client.delete("/api/v1/fences/T-DEL", headers=headers).status_code == 204
    inside = [{**fix, "time": (T + timedelta(seconds=10 * n)).isoformat(), "lon": 109.1}
              for n in range(2, 8)]  # fmt: skip
    answer = client.post("/api/v1/positions", json=inside, headers=headers).json()
    assert (answer["accepted"], answer["events"]) == (6, [])
    assert fence_id not in index  # ...and dropped it at the next batch
    features = client.get("/api/v1/fences", headers=headers).json()["features"]
    assert "T-DEL" not in {f["id"] for f in features}
    for code in ("T-DEL", "T-NONE"):  # removed already, never existed
        gone = client.delete(f"/api/v1/fences/{code}", headers=headers)
        assert gone.status_code == 404
        assert gone.json()["detail"] == f"围栏 {code} 不存在"


def test_only_the_owner_or_an_admin_changes_or_removes_a_fence(client, session):
    fence = {
        "code": "T-MINE",
        "name": "水源地",
        "rule": "no_entry",
        "geometry": box(109.095, 21.545, 109.105, 21.555).__geo_interface__,
    }
    assert (
        client.post("/api/v1/fences", json=fence, headers=auth(session, "operator")).status_code
        == 201
    )
    owner = session.scalar(select(Fence.owner_id).where(Fence.code == "T-MINE"))
    other = auth(session, "operator_nw")
    for response in (
        client.post("/api/v1/fences", json={**fence, "name": "我的"}, headers=other),
        client.delete("/api/v1/fences/T-MINE", headers=other),
    ):
        assert response.status_code == 403
        assert response.json()["detail"] == (
            "围栏 T-MINE 属于其他用户，只有其所有者或管理员可以修改或删除"
        )
    changed = client.post(
        "/api/v1/fences", json={**fence, "name": "一级水源地"}, headers=auth(session, "admin")
    )
    assert changed.status_code == 201
    kept = session.execute(
        select(Fence.name, Fence.owner_id, Fence.is_active).where(Fence.code == "T-MINE")
    ).one()
    assert tuple(kept) == ("一级水源地", owner, True)
    assert (
        client.delete("/api/v1/fences/T-MINE", headers=auth(session, "operator")).status_code == 204
    )
    # Removed, its code is free: not someone else's (403) but gone (404); anyone may use it.
    assert client.delete("/api/v1/fences/T-MINE", headers=other).status_code == 404
    assert client.post("/api/v1/fences", json=fence, headers=other).status_code == 201
    assert session.scalar(select(Fence.owner_id).where(Fence.code == "T-MINE")) != owner


def small_batches(client, rows=5, size=64 * 1024):
    """The app's batch limits set low for a test (GRIDGOV_BATCH_MAX_ROWS / _BYTES)."""
    state = client.app.state
    state.settings = state.settings.model_copy(
        update={"batch_max_rows": rows, "batch_max_bytes": size}
    )


def stored(session, sensor="SN0006"):
    return session.execute(
        text(
            "SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id "
            "WHERE s.code = :code"
        ),
        {"code": sensor},
    ).scalar_one()


def bodies(rows):
    """The same rows as a JSON array, CSV and NDJSON, with their content types."""
    csv_body = "sensor,time,metric,value\n" + "".join(
        f"{r['sensor']},{r['time']},{r['metric']},{r['value']}\n" for r in rows
    )
    return [
        (json.dumps(rows), "application/json"),
        (csv_body, "text/csv"),
        ("\n".join(json.dumps(r) for r in rows) + "\n", "application/x-ndjson"),
    ]


def test_a_batch_over_the_row_limit_is_refused_whole(client, session):
    small_batches(client, rows=5)
    headers = auth(session, "operator")
    before = stored(session)
    for body, kind in bodies(readings(*[(m, 5) for m in range(6)])):
        refused = client.post(
            "/api/v1/readings", content=body, headers={**headers, "Content-Type": kind}
        )
        assert refused.status_code == 413, (kind, refused.text)
        assert "5" in refused.text
        assert stored(session) == before
    for body, kind in bodies(readings(*[(m, 5) for m in range(5)])):
        accepted = client.post(
            "/api/v1/readings", content=body, headers={**headers, "Content-Type": kind}
        )
        assert accepted.status_code == 200, (kind, accepted.text)
        assert accepted.json()["received"] == 5
    assert stored(session) == before + 5


def test_the_row_limit_is_met_while_the_body_streams_in(client, session):
    """Refused at the first row past the limit: what follows is never parsed."""
    small_batches(client, rows=5)
    rows = json.dumps(readings(*[(m, 5) for m in range(6)]))
    body = rows[:-1] + ", {broken"
    refused = client.post("/api/v1/readings", content=body, headers=auth(session, "operator"))
    assert refused.status_code == 413, refused.text


def test_positions_have_the_row_limit_too(client, session):
    small_batches(client, rows=3)
    rows = [{"tracker": "BOAT-1", "lon": 121.0, "lat": 31.0, "time": T.isoformat()}] * 4
    refused = client.post("/api/v1/positions", json=rows, headers=auth(session, "operator"))
    assert refused.status_code == 413 and "3" in refused.text


def test_a_body_over_the_byte_limit_is_refused(client, session):
    small_batches(client, rows=1_000_000, size=2048)
    headers = auth(session, "operator")
    rows = readings(*[(m, 5) for m in range(100)])
    for body, kind in bodies(rows):
        refused = client.post(
            "/api/v1/readings", content=body, headers={**headers, "Content-Type": kind}
        )
        assert refused.status_code == 413 and "2048" in refused.text

    def chunks():  # no Content-Length: counted as it streams
        yield json.dumps(rows).encode()

    streamed = client.post("/api/v1/readings", content=chunks(), headers=headers)
    assert streamed.status_code == 413 and "2048" in streamed.text


def test_bodies_that_are_no_batch_name_the_body(client, session):
    headers = auth(session, "operator")
    for body, kind in [
        (b"[" * 100_000, "application/json"),
        (b'[{"sensor": "SN0006", "metric": "\xff\xfe"}]', "application/json"),
        (b"sensor,time\n\xff\xfe,1\n", "text/csv"),
        (b'{"sensor": "\xff"}\n', "application/x-ndjson"),
        (b"[1, 2]", "application/json"),
        (b'{"rows": 3}', "application/json"),
        (b"[{]", "application/json"),
    ]:
        refused = client.post(
            "/api/v1/readings", content=body, headers={**headers, "Content-Type": kind}
        )
        assert refused.status_code == 422, (body[:20], refused.text)
        assert "body" in refused.text


def test_batch_bodies_in_their_other_shapes(client, session):
    headers = auth(session, "operator")
    wrapped = client.post(
        "/api/v1/readings",
        json={"source": {"by": "x"}, "readings": readings((0, 5)), "more": [1, {"a": 2}]},
        headers=headers,
    )
    assert wrapped.status_code == 200 and wrapped.json()["written"] == 1, wrapped.text
    empty = client.post("/api/v1/readings", content=b"", headers=headers)
    assert empty.status_code == 200 and empty.json()["received"] == 0
    with_bom = '\ufeffsensor,time,metric,"value"\r\n' + (
        f'SN0006,{(T + timedelta(minutes=1)).isoformat()},methane,"6"\r\n'
    )
    csv_answer = client.post(
        "/api/v1/readings",
        content=with_bom.encode(),
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert csv_answer.status_code == 200 and csv_answer.json()["written"] == 1, csv_answer.text


def test_alerts_are_paged_and_filtered(client, session):
    sensor = session.scalar(select(Sensor).where(Sensor.code == "SN0006"))
    rule = session.scalar(select(SensorRule).where(SensorRule.sensor_kind == sensor.kind))
    day = datetime(2026, 3, 1, tzinfo=UTC)
    for n in range(5):  # cleared: 1-2, 3-4, 5-6, 7-8, 9-10 March
        start = day + timedelta(days=2 * n)
        session.add(Alert(sensor_id=sensor.id, rule_id=rule.id, opened_at=start,
                          cleared_at=start + timedelta(days=1), readings=[]))  # fmt: skip
    session.add(Alert(sensor_id=sensor.id, rule_id=rule.id, opened_at=day + timedelta(days=11),
                      cleared_at=day + timedelta(days=11), withdrawn_at=day + timedelta(days=12),
                      withdrawn_reason="unsupported", readings=[]))  # fmt: skip
    session.add(Alert(sensor_id=sensor.id, rule_id=rule.id, opened_at=day + timedelta(days=20),
                      readings=[]))  # fmt: skip
    session.flush()
    headers = auth(session, "operator")

    def get(**params):
        answer = client.get("/api/v1/alerts", params={"sensor": "SN0006", **params},
                            headers=headers)  # fmt: skip
        assert answer.status_code == 200, answer.text
        return answer

    first = get(limit=3)
    assert first.headers["X-Total-Count"] == "7" and len(first.json()) == 3
    assert first.json()[0]["cleared_at"] is None  # the open one first
    seen = [a["id"] for a in first.json()]
    following = first.headers["Link"]
    while following:
        url = following.split(">")[0].lstrip("<")
        page = client.get(url, headers=headers)
        seen += [a["id"] for a in page.json()]
        following = page.headers.get("Link", "")
    assert len(seen) == len(set(seen)) == 7
    assert [len(get(status=s).json()) for s in ("open", "cleared", "withdrawn")] == [1, 5, 1]
    withdrawn = get(status="withdrawn").json()[0]
    assert withdrawn["withdrawn_reason"] == "unsupported" and withdrawn["rule"] == rule.name
    march_3_to_7 = get(**{"from": "2026-03-03T12:00:00Z", "to": "2026-03-07T00:00:00Z"})
    assert [a["opened_at"][:10] for a in march_3_to_7.json()] == ["2026-03-05", "2026-03-03"]
    assert get(rule=rule.id + 100000).headers["X-Total-Count"] == "0"
    assert client.get("/api/v1/alerts", params={"status": "maybe"},
                      headers=headers).status_code == 422  # fmt: skip


def test_times_without_an_offset_are_the_citys_in_every_body_format(client, session):
    """GRIDGOV_TIMEZONE (Asia/Shanghai, +08:00) for readings and positions, as for history."""
    headers = auth(session, "operator")
    local = T.astimezone(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
    for minute, (body, kind) in enumerate(
        bodies([{"sensor": "SN0006", "metric": "methane", "time": "", "value": 4}])
    ):
        naive = (local + timedelta(minutes=minute)).isoformat()
        body = body.replace('"time": ""', f'"time": "{naive}"').replace(",,", f",{naive},")
        answer = client.post(
            "/api/v1/readings", content=body, headers={**headers, "Content-Type": kind}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["written"] == 1
    times = session.scalars(
        text(
            "SELECT r.at FROM readings r JOIN sensors s ON s.id = r.sensor_id"
            " WHERE s.code = 'SN0006' AND r.at >= :start ORDER BY r.at"
        ),
        {"start": T - timedelta(hours=10)},
    ).all()
    assert times == [T + timedelta(minutes=m) for m in range(3)]
    assert client.post(
        "/api/v1/trackers", json={"code": "T-TZ", "name": "巡逻车"}, headers=headers
    ).is_success
    fix = {"tracker": "T-TZ", "time": local.isoformat(), "lon": 109.1, "lat": 21.55}
    assert client.post("/api/v1/positions", json=[fix], headers=headers).json()["accepted"] == 1
    seen = session.scalar(select(Tracker.last_seen_at).where(Tracker.code == "T-TZ"))
    assert seen == T
