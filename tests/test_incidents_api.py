"""Reporting and acting on incidents over HTTP, on the demo city."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from gridgov.boundaries.models import Grid
from gridgov.geo.crs import from_wgs84
from gridgov.incidents import actions
from gridgov.incidents.reporting import report_incident
from gridgov.users.models import User
from tests.conftest import auth
from tests.photos import image_bytes

HERE = {"lon": 109.1, "lat": 21.55}  # 青柳社区第7网格 990105009003007


def report(client, session, user="gridhead", files=None, headers=None, **fields):
    data = {"lon": HERE["lon"], "lat": HERE["lat"], "category": "0102", **fields}
    return client.post(
        "/api/v1/incidents",
        data=data,
        files=files,
        headers={**auth(session, user), **(headers or {})},
    )


def test_report_is_located_routed_and_given_a_deadline(client, session):
    response = report(client, session, description="小区门口暴露垃圾", accuracy_m=8)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "dispatched" and body["level"] == "community"
    assert body["grid"] == "990105009003007"
    assert body["department"] == {"code": "990105009003-JW", "name": "青柳社区居民委员会"}
    assert body["category"]["name"] == "暴露垃圾"
    assert body["deadline_at"] > body["reported_at"]
    assert [h["action"] for h in body["history"]] == ["report", "dispatch"]
    assert body["history"][1]["details"]["sla_hours"] == 24


def test_photos_are_stored_by_hash_and_served(client, session):
    files = [
        ("photos", ("a.jpg", image_bytes("JPEG"), "image/jpeg")),
        ("photos", ("b.png", image_bytes("PNG", colour="blue"), "image/png")),
        ("photos", ("c.webp", image_bytes("WEBP", colour="green"), "image/webp")),
    ]
    body = report(client, session, files=files).json()
    assert [p["content_type"] for p in body["photos"]] == ["image/jpeg", "image/png", "image/webp"]
    photo = client.get(body["photos"][0]["url"], headers=auth(session, "gridhead"))
    assert photo.status_code == 200 and photo.content == image_bytes("JPEG")
    # Each is stored once, under the SHA-256 of its bytes.
    media = client.app.state.settings.media_dir
    for _, (_, data, _) in files:
        digest = hashlib.sha256(data).hexdigest()
        [stored] = media.rglob(f"{digest}.*")
        assert stored.read_bytes() == data
        assert stored.parent == media / digest[:2] / digest[2:4]
    # Someone outside the incident's scope cannot fetch it, nor get a signed link to it.
    path = body["photos"][0]["url"].split("?")[0]
    assert client.get(path, headers=auth(session, "handler_ccg")).status_code == 403
    outsider = client.get(f"/api/v1/incidents/{body['id']}", headers=auth(session, "handler_ccg"))
    assert outsider.status_code in (403, 404) and "signature" not in outsider.text


@pytest.mark.parametrize(
    ("files", "field", "fragment"),
    [
        ([("photos", ("x.jpg", b"not an image at all", "image/jpeg"))], "photos[0]", "JPEG"),
        ([("photos", ("x.gif", image_bytes("GIF"), "image/gif"))], "photos[0]", "GIF"),
        ([("photos", ("x.jpg", image_bytes("JPEG", size=(3000, 3000)), "image/jpeg"))], None, None),
        ([("photos", (f"{i}.jpg", image_bytes(), "image/jpeg")) for i in range(6)], "photos", "5"),
        ([("photos", ("empty.jpg", b"", "image/jpeg"))], "photos[0]", "空"),
    ],
)
def test_bad_photos_are_refused_and_nothing_is_written(client, session, files, field, fragment):
    before = client.get("/api/v1/incidents", headers=auth(session, "admin")).json()["total"]
    response = report(client, session, files=files)
    if field is None:  # a big but valid image is fine
        assert response.status_code == 201
        return
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert fragment in response.json()["errors"][0]["reason"]
    after = client.get("/api/v1/incidents", headers=auth(session, "admin")).json()["total"]
    assert after == before


def test_oversized_photo_is_refused(client, session):
    client.app.state.settings.max_photo_bytes = 1000
    files = [
        (
            "photos",
            (
                "x.png",
                image_bytes("PNG", size=(400, 400), colour="white") + b"\0" * 2000,
                "image/png",
            ),
        )
    ]
    response = report(client, session, files=files)
    assert response.status_code == 422
    assert "1000" in response.json()["errors"][0]["reason"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"category": "9999"}, "category"),
        ({"category": "01"}, "category"),
        ({"description": "长" * 4001}, "description"),
        ({"lat": 95}, "lat"),
        ({"crs": "mars"}, "crs"),
        ({"accuracy_m": -3}, "accuracy_m"),
    ],
)
def test_bad_fields_are_422_naming_the_field(client, session, fields, field):
    response = report(client, session, **fields)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


def test_same_idempotency_key_returns_the_same_incident(client, session):
    photo = [("photos", ("a.jpg", image_bytes("JPEG"), "image/jpeg"))]
    first = report(client, session, files=photo, idempotency_key="phone-42-0001")
    again = report(client, session, files=photo, idempotency_key="phone-42-0001")
    by_header = report(client, session, files=photo, headers={"Idempotency-Key": "phone-42-0001"})
    assert first.status_code == 201 and again.status_code == 200 and by_header.status_code == 200
    assert first.json()["id"] == again.json()["id"] == by_header.json()["id"]
    other = report(client, session, idempotency_key="phone-42-0002")
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


@pytest.mark.parametrize(
    "change",
    [
        {"description": "another report"},
        {"category": "0101"},
        {"lon": HERE["lon"] + 0.001},
        {"files": [("photos", ("b.jpg", image_bytes("JPEG", colour="blue"), "image/jpeg"))]},
    ],
)
def test_an_idempotency_key_reused_for_another_report_is_refused(client, session, change):
    """422, as the IETF Idempotency-Key draft says: the key names one request, not a slot."""
    photo = [("photos", ("a.jpg", image_bytes("JPEG"), "image/jpeg"))]
    first = report(client, session, files=photo, idempotency_key="phone-42-0003")
    assert first.status_code == 201, first.text
    fields = {"files": photo, **change}
    reused = report(client, session, headers={"Idempotency-Key": "phone-42-0003"}, **fields)
    assert reused.status_code == 422, reused.text
    assert "idempotency_key" in reused.text and "幂等键" in reused.text
    total = client.get("/api/v1/incidents", headers=auth(session, "admin")).json()["total"]
    assert report(client, session, files=photo, idempotency_key="phone-42-0003").status_code == 200
    assert client.get("/api/v1/incidents", headers=auth(session, "admin")).json()["total"] == total


def test_position_outside_every_grid_is_refused_with_the_distance(client, session):
    response = report(client, session, lon=109.1, lat=21.0)
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["field"] == "position"
    assert body["distance_m"] > 30_000 and body["nearest_grid"]


def test_gps_circle_touching_a_grid_snaps_to_it(client, session):
    # South of the city: outside every grid, but the GPS circle reaches the nearest one.
    located = client.get("/api/v1/locate", params={"lon": 109.08, "lat": 21.3}).json()
    response = report(client, session, lon=109.08, lat=21.3, accuracy_m=located["distance_m"] + 50)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["snapped_to_nearest_grid"] is True
    assert body["grid"] == located["nearest_grid"]
    assert report(client, session, lon=109.08, lat=21.3, accuracy_m=5).status_code == 422


def test_gcj02_reports_land_in_the_same_grid(client, session):
    lon, lat = from_wgs84(HERE["lon"], HERE["lat"], "gcj02")
    body = report(client, session, lon=lon, lat=lat, crs="gcj02").json()
    assert body["grid"] == "990105009003007"
    assert body["position"]["lon"] == pytest.approx(HERE["lon"], abs=1e-6)


def test_nearby_reports_of_the_same_category_are_linked_not_merged(client, session):
    first = report(client, session).json()
    near = report(client, session, lon=HERE["lon"] + 0.0002).json()  # about 20 m
    other_kind = report(client, session, category="0201").json()
    far = report(client, session, lon=HERE["lon"] + 0.003).json()  # about 300 m
    assert near["possible_duplicate_of"] == first["id"] and near["id"] != first["id"]
    assert other_kind["possible_duplicate_of"] is None
    assert far["possible_duplicate_of"] is None


def test_duplicates_are_open_reports_of_the_last_24_hours(session):
    head = session.scalar(select(User).where(User.username == "gridhead"))
    t0 = datetime(2031, 5, 1, 8, tzinfo=UTC)

    def at(hours, lon=HERE["lon"]):
        when = t0 + timedelta(hours=hours)
        return report_incident(session, reporter_id=head.id, lon=lon, lat=HERE["lat"],
                               category_code="0102", now=when).incident  # fmt: skip

    first = at(0)
    assert first.possible_duplicate_of is None
    # Exactly 24 hours later still counts; a moment past 24 hours of every open one does not.
    assert at(24).possible_duplicate_of == first.id
    assert at(48, lon=HERE["lon"] + 0.0002).possible_duplicate_of is not None  # 20 m from 24 h
    assert at(72 + 1 / 3600).possible_duplicate_of is None
    # A resolved report is no longer open: a new one nearby is not its duplicate.
    handler = session.scalar(select(User).where(User.username == "handler_jw"))
    done = at(100)
    actions.accept(session, incident_id=done.id, actor=handler, now=t0 + timedelta(hours=101))
    actions.resolve(session, incident_id=done.id, actor=handler, note="ok",
                    now=t0 + timedelta(hours=102))  # fmt: skip
    assert at(103).possible_duplicate_of is None


def test_no_token_is_401_and_a_role_that_cannot_report_is_403(client, session):
    assert (
        client.post("/api/v1/incidents", data={"lon": 1, "lat": 1, "category": "0102"}).status_code
        == 401
    )
    assert report(client, session, user="handler_jw").status_code == 403
    bad_token = client.get("/api/v1/incidents", headers={"Authorization": "Bearer forged"})
    assert bad_token.status_code == 401


def act(client, session, user, incident_id, move, **body):
    return client.post(
        f"/api/v1/incidents/{incident_id}/{move}", json=body, headers=auth(session, user)
    )


def test_the_whole_loop_accept_resolve_close(client, session):
    incident = report(client, session).json()
    iid = incident["id"]
    assert act(client, session, "handler_zf", iid, "accept").status_code == 403  # not theirs
    accepted = act(client, session, "handler_jw", iid, "accept", note="马上处理")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    again = act(client, session, "handler_jw", iid, "accept")
    assert again.status_code == 409 and again.json()["incident_status"] == "accepted"
    resolved = client.post(
        f"/api/v1/incidents/{iid}/resolve",
        data={"note": "已清运"},
        files=[("photos", ("after.jpg", image_bytes(colour="green"), "image/jpeg"))],
        headers=auth(session, "handler_jw"),
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["photos"][0]["event_id"] is not None
    assert act(client, session, "handler_jw", iid, "close", rating=5).status_code == 403
    closed = act(client, session, "gridhead", iid, "close", rating=5, note="满意")
    assert closed.status_code == 200 and closed.json()["rating"] == 5
    history = closed.json()["history"]
    assert [(h["action"], h["from"], h["to"]) for h in history] == [
        ("report", None, "reported"),
        ("dispatch", "reported", "dispatched"),
        ("accept", "dispatched", "accepted"),
        ("resolve", "accepted", "resolved"),
        ("close", "resolved", "closed"),
    ]
    assert act(client, session, "gridhead", iid, "reopen", reason="again").status_code == 409


def test_the_history_names_who_acted_the_department_and_the_grid(client, session):
    body = report(client, session).json()
    assert body["grid_name"] == "青柳社区第7网格"
    accepted = act(client, session, "handler_jw", body["id"], "accept").json()
    named = [(h["action"], h["actor_name"], h["department_name"]) for h in accepted["history"]]
    assert named == [
        ("report", "青柳社区第7网格 网格长", None),
        ("dispatch", None, "青柳社区居民委员会"),
        ("accept", "青柳社区居委会", "青柳社区居民委员会"),
    ]
    assert accepted["history"][1]["department"] == "990105009003-JW"  # the code stays


def test_reject_goes_back_to_the_dispatcher_who_redispatches(client, session):
    iid = report(client, session).json()["id"]
    assert act(client, session, "handler_jw", iid, "reject", reason="").status_code == 422
    rejected = act(client, session, "handler_jw", iid, "reject", reason="不属于本社区职责")
    assert rejected.json()["status"] == "rejected" and rejected.json()["department"]["code"] is None
    assert (
        act(
            client, session, "gridhead", iid, "dispatch", department_code="990105009-CG"
        ).status_code
        == 403
    )
    sent = act(client, session, "operator_nw", iid, "dispatch", department_code="990105009-CG")
    assert sent.status_code == 200
    assert (sent.json()["status"], sent.json()["level"]) == ("dispatched", "street")
    assert act(client, session, "handler_cg", iid, "accept").status_code == 200


def test_reopen_sends_it_back_with_a_new_deadline(client, session):
    iid = report(client, session).json()["id"]
    act(client, session, "handler_jw", iid, "accept")
    client.post(
        f"/api/v1/incidents/{iid}/resolve",
        data={"note": "done"},
        headers=auth(session, "handler_jw"),
    )
    reopened = act(client, session, "gridhead", iid, "reopen", reason="垃圾还在")
    assert reopened.status_code == 200
    body = reopened.json()
    assert body["status"] == "dispatched" and body["reopen_count"] == 1
    assert body["department"]["code"] == "990105009003-JW"


def test_whistle_summons_departments_who_check_in(client, session):
    iid = report(client, session).json()["id"]
    whistled = act(
        client,
        session,
        "handler_jw",
        iid,
        "whistle",
        department_codes=["990105009-ZF", "990105009-CG"],
        due_hours=1,
    )
    assert whistled.status_code == 200
    assert {w["department"] for w in whistled.json()["whistles"]} == {
        "990105009-ZF",
        "990105009-CG",
    }
    # A summoned department may now read it and check in, once.
    assert (
        client.get(f"/api/v1/incidents/{iid}", headers=auth(session, "handler_zf")).status_code
        == 200
    )
    assert act(client, session, "handler_zf", iid, "check-in", note="已到场").status_code == 200
    assert act(client, session, "handler_zf", iid, "check-in").status_code == 422
    assert act(client, session, "handler_dcg", iid, "check-in").status_code == 403
    unknown = act(client, session, "handler_jw", iid, "whistle", department_codes=["nobody"])
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "department_codes"


def test_whistle_without_names_escalates_at_once(client, session):
    iid = report(client, session).json()["id"]
    body = act(client, session, "handler_jw", iid, "whistle", note="需要街道支援").json()
    assert (body["level"], body["department"]["code"]) == ("street", "990105009-CG")
    assert body["history"][-1]["action"] == "escalate"


def test_lists_are_filtered_by_scope_and_parameters(client, session):
    mine = report(client, session).json()
    report(client, session, category="0201")
    head = client.get("/api/v1/incidents", headers=auth(session, "gridhead")).json()
    assert head["total"] >= 2 and all(i["grid"] == "990105009003007" for i in head["items"])
    # A handler sees only what is assigned to their department.
    theirs = report(client, session).json()["id"]
    sent = act(client, session, "operator", theirs, "dispatch", department_code="990100-CG")
    assert sent.status_code == 200
    other = client.get("/api/v1/incidents", headers=auth(session, "handler_ccg")).json()
    assert [i["id"] for i in other["items"]] == [theirs]
    filtered = client.get(
        "/api/v1/incidents",
        params={"category": "0102", "status": "dispatched"},
        headers=auth(session, "operator"),
    ).json()
    assert mine["id"] in [i["id"] for i in filtered["items"]]
    assert {i["category"]["code"] for i in filtered["items"]} == {"0102"}
    geo = client.get(
        "/api/v1/incidents",
        params={"format": "geojson", "bbox": "109.09,21.54,109.11,21.56", "limit": 10},
        headers=auth(session, "operator"),
    ).json()
    assert geo["type"] == "FeatureCollection" and 1 <= geo["numberReturned"] <= 10
    assert mine["id"] in [f["id"] for f in geo["features"]]
    assert all(109.09 <= f["geometry"]["coordinates"][0] <= 109.11 for f in geo["features"])
    far = client.get(
        "/api/v1/incidents",
        params={"format": "geojson", "bbox": "109.2,21.7,109.21,21.71"},
        headers=auth(session, "operator"),
    ).json()
    assert far["features"] == []
    assert (
        client.get(
            "/api/v1/incidents", params={"limit": 501}, headers=auth(session, "operator")
        ).status_code
        == 422
    )


def test_reporter_me_lists_only_the_callers_own_reports(client, session):
    mine = report(client, session).json()
    theirs = report(client, session, user="operator").json()  # same grid, someone else
    head = client.get("/api/v1/incidents", headers=auth(session, "gridhead")).json()
    assert theirs["id"] in [i["id"] for i in head["items"]]
    own = client.get(
        "/api/v1/incidents", params={"reporter": "me"}, headers=auth(session, "gridhead")
    ).json()
    assert mine["id"] in [i["id"] for i in own["items"]]
    assert {i["reporter_id"] for i in own["items"]} == {mine["reporter_id"]}
    assert own["total"] == len(own["items"])
    bad = client.get(
        "/api/v1/incidents", params={"reporter": "you"}, headers=auth(session, "gridhead")
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "reporter"


def test_messages_follow_the_language(client, session):
    iid = report(client, session).json()["id"]
    act(client, session, "handler_jw", iid, "accept")
    zh = act(client, session, "handler_jw", iid, "accept").json()["detail"]
    en = client.post(
        f"/api/v1/incidents/{iid}/accept",
        json={},
        headers={**auth(session, "handler_jw"), "Accept-Language": "en"},
    ).json()["detail"]
    assert zh == "事件当前状态为“已受理”，不能执行“受理”"
    assert en == "cannot accept an incident that is accepted"


def test_sign_in_with_password(client):
    response = client.post(
        "/api/v1/auth/token", data={"username": "gridhead", "password": "gridgov-demo"}
    )
    assert response.status_code == 200
    token = response.json()["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["role"] == "grid_head" and me["grid_code"] == "990105009003007"
    wrong = client.post(
        "/api/v1/auth/token", data={"username": "gridhead", "password": "nope-nope"}
    )
    assert wrong.status_code == 401 and wrong.json()["detail"] == "用户名或密码错误"


def test_changes_reach_the_inboxes_of_those_concerned(client, session):
    iid = report(client, session).json()["id"]
    handler_inbox = client.get("/api/v1/notifications", headers=auth(session, "handler_jw")).json()
    assert any(
        n["data"].get("incident") == iid and n["data"]["action"] == "dispatch"
        for n in handler_inbox
    )
    act(client, session, "handler_jw", iid, "accept")
    client.post(
        f"/api/v1/incidents/{iid}/resolve",
        data={"note": "done"},
        headers=auth(session, "handler_jw"),
    )
    reporter_inbox = client.get("/api/v1/notifications", headers=auth(session, "gridhead")).json()
    assert any(
        n["data"].get("incident") == iid and n["data"]["action"] == "resolve"
        for n in reporter_inbox
    )


def test_photos_posted_to_someone_elses_incident_are_not_stored(client, session):
    iid = report(client, session).json()["id"]
    media = client.app.state.settings.media_dir
    before = sorted(p.name for p in media.rglob("*") if p.is_file()) if media.exists() else []
    refused = client.post(
        f"/api/v1/incidents/{iid}/resolve",
        data={"note": "not mine"},
        files=[("photos", ("x.png", image_bytes("PNG", colour="purple"), "image/png"))],
        headers=auth(session, "handler_ccg"),
    )
    assert refused.status_code == 403
    after = sorted(p.name for p in media.rglob("*") if p.is_file()) if media.exists() else []
    assert after == before


def test_the_departments_of_an_incidents_areas_nearest_level_first(client, session):
    chain = ["990100", "990105", "990105009", "990105009003"]  # city .. community
    answer = client.get(
        "/api/v1/departments",
        params=[("area", code) for code in chain],
        headers=auth(session, "handler_jw"),
    )
    assert answer.status_code == 200
    found = answer.json()
    levels = [d["level"] for d in found]
    order = ["community", "street", "district", "city"]
    assert levels == sorted(levels, key=order.index) and set(levels) == set(order)
    assert {d["area_code"] for d in found} <= set(chain)
    names = {d["code"]: d["name"] for d in found}
    assert names["990105009003-JW"] == "青柳社区居民委员会"
    assert names["990105009-CG"] == "乐银街道城市管理办公室"
    assert client.get("/api/v1/departments").status_code == 401


def test_the_list_filters_by_area_department_and_time(client, session):
    # A in 南湾区 990105 (community 990105009003) on 1 March 2031; B in 东澜区 990102 a day
    # later. Nothing else is reported in 2031.
    head = session.scalar(select(User).where(User.username == "gridhead"))
    east = session.scalar(
        select(func.ST_AsText(func.ST_PointOnSurface(Grid.geom)))
        .where(Grid.code.like("990102%"))
        .order_by(Grid.code)
        .limit(1)
    )
    east_lon, east_lat = (float(v) for v in east.removeprefix("POINT(").removesuffix(")").split())
    a_at, b_at = datetime(2031, 3, 1, 8, tzinfo=UTC), datetime(2031, 3, 2, 8, tzinfo=UTC)
    a = report_incident(session, reporter_id=head.id, lon=HERE["lon"], lat=HERE["lat"],
                        category_code="0102", now=a_at).incident  # fmt: skip
    b = report_incident(session, reporter_id=head.id, lon=east_lon, lat=east_lat,
                        category_code="0102", now=b_at).incident  # fmt: skip
    assert a.department_code != b.department_code

    def ids(**params):
        period = {"since": "2031-01-01T00:00:00Z", "until": "2032-01-01T00:00:00Z"}
        response = client.get(
            "/api/v1/incidents", params={**period, **params}, headers=auth(session, "operator")
        )
        assert response.status_code == 200, response.text
        return sorted(i["id"] for i in response.json()["items"])

    assert ids() == sorted([a.id, b.id])
    assert ids(area="990105") == ids(area="990105009003") == [a.id]
    assert ids(area="990102") == [b.id]
    assert ids(area="990104") == []  # 西屿区: neither
    assert ids(department=a.department_code) == [a.id]
    assert ids(department=b.department_code) == [b.id]
    # since is inclusive, until exclusive.
    assert ids(since=b_at.isoformat()) == [b.id]
    assert ids(until=b_at.isoformat()) == [a.id]
    assert ids(since=a_at.isoformat(), until=(a_at + timedelta(seconds=1)).isoformat()) == [a.id]


def test_a_report_queued_offline_keeps_when_it_was_seen(client, session):
    seen = datetime.now(UTC) - timedelta(hours=30)
    response = report(client, session, observed_at=seen.isoformat())
    assert response.status_code == 201, response.text
    body = response.json()
    assert datetime.fromisoformat(body["observed_at"]) == seen
    assert body["history"][0]["details"]["observed_at"] == seen.isoformat()
    # The department's time runs from the receipt, not from the sighting.
    reported = datetime.fromisoformat(body["reported_at"])
    deadline = datetime.fromisoformat(body["deadline_at"])
    assert deadline - reported == timedelta(hours=24)
    assert reported - seen > timedelta(hours=29)


def test_observed_at_without_an_offset_is_the_citys_time(client, session):
    local = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")) - timedelta(hours=2)
    response = report(client, session, observed_at=local.strftime("%Y-%m-%dT%H:%M:%S"))
    assert response.status_code == 201, response.text
    observed = datetime.fromisoformat(response.json()["observed_at"])
    assert observed == local.replace(microsecond=0)


@pytest.mark.parametrize(
    ("seen", "reason"),
    [
        (timedelta(days=8), "168 hours"),
        (timedelta(minutes=-10), "300 seconds"),
    ],
)
def test_observed_at_outside_the_window_is_refused(client, session, seen, reason):
    when = (datetime.now(UTC) - seen).isoformat()
    response = report(client, session, observed_at=when, headers={"Accept-Language": "en"})
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["field"] == "observed_at" and reason in error["reason"]


def test_observed_at_that_is_no_time_is_refused(client, session):
    response = report(client, session, observed_at="yesterday")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "observed_at"
