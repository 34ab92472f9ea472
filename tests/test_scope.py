"""Scope, row by row: every id-addressed read and every action, called by users in scope and
out of it, across two districts of the demo city (南湾区 990105 and 东澜区 990102).

The rule: a thing outside the caller's scope is refused with 403 whether it is read or acted
on; 404 only when it does not exist. Row problems of batches (positions, readings) name the
field instead. The table in docs/SECURITY.md lists the same operations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.fences.models import Tracker
from gridgov.fences.service import save_fence
from gridgov.incidents import actions
from gridgov.incidents.models import Incident
from gridgov.incidents.reporting import report_incident
from gridgov.notifications.service import notify
from gridgov.supplies import reservations
from gridgov.supplies.models import Stockpile
from gridgov.supplies.stock import import_stock
from gridgov.users.models import User
from tests.conftest import auth
from tests.supplies import add_items, stock_row

NW, EAST = "990105", "990102"
AT_NW = (109.1, 21.55)  # 青柳社区第7网格, 南湾区
AT_EAST = (109.162286, 21.585679)  # 港文社区, 东澜区 (sensor SN0001)
NOW = datetime.now(UTC)


@dataclass
class World:
    """One of each thing in each district, made in the test's transaction."""

    incident: dict[str, int]  # district -> incident id
    reservation: dict[str, int]  # district -> reservation id
    notification: int  # operator_nw's
    session: Session


def _user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None, username
    return found


@pytest.fixture
def world(session: Session) -> World:
    # The demo city has one district operator; add the other district's users.
    for username, role, scope in (
        ("op_east", "operator", {"area_code": EAST}),
        ("em_nw", "emergency", {"area_code": NW}),
        ("em_east", "emergency", {"area_code": EAST}),
        ("handler_east", "handler", {"department_code": "990102-CG"}),
    ):
        session.add(
            User(username=username, password_hash="-", display_name=username, role=role, **scope)
        )
    session.flush()
    users = {
        name: _user(session, name)
        for name in ("admin", "operator", "operator_nw", "op_east", "gridhead", "handler_jw")
    }
    incidents = {}
    for district, (lon, lat), reporter in ((NW, AT_NW, "gridhead"), (EAST, AT_EAST, "admin")):
        made = report_incident(
            session, reporter_id=users[reporter].id, lon=lon, lat=lat, category_code="0102"
        ).incident
        assert made.district_code == district and made.status == "dispatched"
        incidents[district] = made.id
    # 990105009-ZF is summoned to the 南湾区 incident (it may read it and check in).
    actions.whistle(
        session,
        incident_id=incidents[NW],
        actor=users["handler_jw"],
        department_codes=["990105009-ZF"],
    )
    add_items(session, "test_tent")
    import_stock(
        session,
        rows=[
            stock_row("T-NW", (AT_NW[0] + 0.001, AT_NW[1]), "test_tent", 100),
            stock_row("T-EAST", (AT_EAST[0] + 0.001, AT_EAST[1]), "test_tent", 100),
        ],
    )
    for code, district in (("T-NW", NW), ("T-EAST", EAST)):
        stockpile = session.scalar(select(Stockpile).where(Stockpile.code == code))
        assert stockpile is not None and stockpile.district_code == district
    reserved = {
        district: reservations.reserve(
            session, actor=users["admin"], wants=[reservations.Want(code, "test_tent", 5)]
        ).id
        for code, district in (("T-NW", NW), ("T-EAST", EAST))
    }
    session.add(Tracker(code="T-CAR-NW", owner_id=users["operator_nw"].id))
    session.add(Tracker(code="T-CAR-EAST", owner_id=users["op_east"].id))
    save_fence(
        session,
        code="T-FENCE-EAST",
        name="东澜区禁入区",
        rule="no_entry",
        geom=box(*AT_EAST, AT_EAST[0] + 0.01, AT_EAST[1] + 0.01),
        owner_id=users["op_east"].id,
    )
    [note] = notify(
        session, kind="test", title="for operator_nw", user_ids=[users["operator_nw"].id]
    )
    session.flush()
    return World(incidents, reserved, note.id, session)


Call = Callable[[TestClient, World, dict[str, str]], httpx.Response]  # headers: the caller
ALLOWED, REFUSED = "allowed", "refused"


@dataclass(frozen=True)
class Row:
    """One line of the table: an operation, who calls it, and whether it is in their scope."""

    operation: str
    user: str
    call: Call
    expected: str
    # How the answer says allowed or refused: 2xx / 403 unless a batch names a row.
    verdict: Callable[[httpx.Response], str] | None = None
    leak: bool = False  # found from outside (issue 12, item 7): fails on the old code


def by_status(response: httpx.Response) -> str:
    if 200 <= response.status_code < 300:
        return ALLOWED
    assert response.status_code == 403, (response.status_code, response.text)
    return REFUSED


def by_row(field: str) -> Callable[[httpx.Response], str]:
    """Batches judged row by row (positions): accepted, or refused naming ``field``."""

    def verdict(response: httpx.Response) -> str:
        assert response.status_code == 200, response.text
        body = response.json()
        if body["accepted"] == 1:
            return ALLOWED
        assert [p["field"] for p in body["refused"]] == [field], body
        return REFUSED

    return verdict


def by_batch(field: str) -> Callable[[httpx.Response], str]:
    """Batches taken whole (readings): written, or refused (422) naming ``field``."""

    def verdict(response: httpx.Response) -> str:
        if response.status_code == 200:
            return ALLOWED
        assert response.status_code == 422 and field in response.text, response.text
        return REFUSED

    return verdict


def in_list(path: str, district: str, key: str = "items") -> Call:
    """A list answer: allowed when the district's incident is in it."""

    def call(client: TestClient, w: World, headers: dict[str, str]) -> httpx.Response:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        ids = {item["id"] for item in response.json()[key]}
        return httpx.Response(200 if w.incident[district] in ids else 403)

    return call


def get(path: Callable[[World], str]) -> Call:
    return lambda client, w, headers: client.get(path(w), headers=headers)


def post(path: Callable[[World], str], body: Callable[[World], Any] | None = None) -> Call:
    return lambda client, w, headers: client.post(
        path(w), json=body(w) if body else {}, headers=headers
    )


def incident(district: str, tail: str = "") -> Callable[[World], str]:
    return lambda w: f"/api/v1/incidents/{w.incident[district]}{tail}"


def reservation(district: str, tail: str = "") -> Callable[[World], str]:
    return lambda w: f"/api/v1/supplies/reservations/{w.reservation[district]}{tail}"


def dispatch_to(district: str, department: str) -> Call:
    return post(incident(district, "/dispatch"), lambda w: {"department_code": department})


def whistle_to(district: str, *departments: str) -> Call:
    return post(incident(district, "/whistle"), lambda w: {"department_codes": list(departments)})


def resolved_then(district: str, move: str, **body: Any) -> Call:
    """The incident accepted and resolved by its department first, then ``move``."""

    def call(client: TestClient, w: World, headers: dict[str, str]) -> httpx.Response:
        jw = auth(w.session, "handler_jw")
        assert client.post(incident(district, "/accept")(w), json={}, headers=jw).status_code == 200
        resolved = client.post(
            incident(district, "/resolve")(w), data={"note": "已处理"}, headers=jw
        )
        assert resolved.status_code == 200, resolved.text
        return client.post(incident(district, f"/{move}")(w), json=body, headers=headers)

    return call


def accepted_then(district: str, move: str) -> Call:
    def call(client: TestClient, w: World, headers: dict[str, str]) -> httpx.Response:
        jw = auth(w.session, "handler_jw")
        assert client.post(incident(district, "/accept")(w), json={}, headers=jw).status_code == 200
        return client.post(
            incident(district, f"/{move}")(w), data={"note": "已处理"}, headers=headers
        )

    return call


def sent_to(department: str, then: Call) -> Call:
    """The 南湾区 incident dispatched to ``department`` first (by an admin), then ``then``."""

    def call(client: TestClient, w: World, headers: dict[str, str]) -> httpx.Response:
        sent = dispatch_to(NW, department)(client, w, auth(w.session, "admin"))
        assert sent.status_code == 200, sent.text
        return then(client, w, headers)

    return call


def reserve_from(stockpile: str, district: str | None = None) -> Call:
    def body(w: World) -> dict[str, Any]:
        return {
            "lines": [{"stockpile": stockpile, "item": "test_tent", "quantity": 1}],
            "incident_id": w.incident[district] if district else None,
        }

    return post(lambda w: "/api/v1/supplies/reservations", body)


def positions_of(tracker: str) -> Call:
    rows = [
        {
            "tracker": tracker,
            "lon": AT_EAST[0],
            "lat": AT_EAST[1],
            "time": (NOW - timedelta(minutes=1)).isoformat(),
        }
    ]
    return post(lambda w: "/api/v1/positions", lambda w: rows)


def readings_of(sensor: str, metric: str) -> Call:
    rows = [
        {
            "sensor": sensor,
            "metric": metric,
            "value": 1.0,
            "time": (NOW - timedelta(minutes=1)).isoformat(),
        }
    ]
    return post(lambda w: "/api/v1/readings", lambda w: rows)


def rate(street: str, department: str) -> Call:
    body = {
        "street_code": street,
        "department_code": department,
        "period_start": "2026-04-01",
        "period_end": "2026-04-30",
        "score": 4,
    }
    return post(lambda w: "/api/v1/evaluation/street-ratings", lambda w: body)


def fence_change(code: str) -> Call:
    body = {
        "code": code,
        "name": "改",
        "rule": "watch",
        "geometry": box(*AT_EAST, AT_EAST[0] + 0.02, AT_EAST[1] + 0.02).__geo_interface__,
    }
    return post(lambda w: "/api/v1/fences", lambda w: body)


def tracker_change(code: str) -> Call:
    return post(lambda w: "/api/v1/trackers", lambda w: {"code": code, "name": "改"})


def delete(path: str) -> Call:
    return lambda client, w, headers: client.delete(path, headers=headers)


def mark_read(client: TestClient, w: World, headers: dict[str, str]) -> httpx.Response:
    return client.post(f"/api/v1/notifications/{w.notification}/read", headers=headers)


A, R = ALLOWED, REFUSED
ROWS = [
    # -- incidents: read (operators and emergency teams: their area; handlers: assigned or
    # summoned; grid heads: their own reports and their grid)
    Row("read incident", "operator", get(incident(EAST)), A),
    Row("read incident", "operator_nw", get(incident(NW)), A),
    Row("read incident", "operator_nw", get(incident(EAST)), R),
    Row("read incident", "op_east", get(incident(EAST)), A),
    Row("read incident", "op_east", get(incident(NW)), R),
    Row("read incident", "emergency", get(incident(EAST)), A),
    Row("read incident", "em_nw", get(incident(NW)), A),
    Row("read incident", "em_nw", get(incident(EAST)), R),
    Row("read incident", "handler_jw", get(incident(NW)), A),
    Row("read incident", "handler_zf", get(incident(NW)), A),  # summoned
    Row("read incident", "handler_cg", get(incident(NW)), R),
    Row("read incident", "handler_east", get(incident(NW)), R),
    Row("read incident", "gridhead", get(incident(NW)), A),
    Row("read incident", "gridhead", get(incident(EAST)), R),
    Row("list incidents", "operator_nw", in_list("/api/v1/incidents?limit=500", NW), A),
    Row("list incidents", "operator_nw", in_list("/api/v1/incidents?limit=500", EAST), R),
    Row("list incidents", "op_east", in_list("/api/v1/incidents?limit=500", EAST), A),
    Row("list incidents", "gridhead", in_list("/api/v1/incidents?limit=500", EAST), R),
    Row("map incidents", "operator_nw", in_list("/api/v1/map/incidents", NW, "features"), A),
    Row("map incidents", "operator_nw", in_list("/api/v1/map/incidents", EAST, "features"), R),
    # -- incidents: act
    Row("accept", "handler_jw", post(incident(NW, "/accept")), A),
    Row("accept", "handler_cg", post(incident(NW, "/accept")), R),
    Row("accept", "handler_zf", post(incident(NW, "/accept")), R),  # summoned, not assigned
    Row("accept", "operator_nw", post(incident(NW, "/accept")), R),  # not a handler's move
    Row("reject", "handler_jw", post(incident(NW, "/reject"), lambda w: {"reason": "否"}), A),
    Row("reject", "handler_east", post(incident(NW, "/reject"), lambda w: {"reason": "否"}), R),
    Row("resolve", "handler_jw", accepted_then(NW, "resolve"), A),
    Row("resolve", "handler_cg", accepted_then(NW, "resolve"), R),
    Row("close", "gridhead", resolved_then(NW, "close", rating=5), A),  # own report
    Row("close", "operator_nw", resolved_then(NW, "close"), A),
    Row("close", "op_east", resolved_then(NW, "close"), R),
    Row("close", "handler_jw", resolved_then(NW, "close"), R),
    Row("rate on close", "operator_nw", resolved_then(NW, "close", rating=5), R),  # not own
    Row("reopen", "gridhead", resolved_then(NW, "reopen", reason="还在"), A),
    Row("reopen", "op_east", resolved_then(NW, "reopen", reason="还在"), R),
    Row("check in", "handler_zf", post(incident(NW, "/check-in")), A),
    Row("check in", "handler_cg", post(incident(NW, "/check-in")), R),
    Row("dispatch", "operator_nw", dispatch_to(NW, "990105009-CG"), A),  # street, in district
    Row("dispatch", "operator_nw", dispatch_to(NW, "990105-CG"), A),  # the district's own
    Row("dispatch", "operator_nw", dispatch_to(NW, "990100-CG"), R, leak=True),  # the city's
    Row("dispatch", "operator_nw", dispatch_to(NW, "990102-CG"), R, leak=True),  # another's
    Row("dispatch", "operator_nw", dispatch_to(EAST, "990102-CG"), R),  # incident outside
    Row("dispatch", "op_east", dispatch_to(NW, "990105-CG"), R),
    Row("dispatch", "operator", dispatch_to(NW, "990100-CG"), A),  # the city's operator
    Row("dispatch", "operator", dispatch_to(NW, "990102-CG"), R),  # serves not the place
    Row("dispatch", "admin", dispatch_to(NW, "990100-CG"), A),
    Row("dispatch", "gridhead", dispatch_to(NW, "990105009-CG"), R),
    Row("whistle", "handler_jw", whistle_to(NW, "990105009-CG"), A),
    Row("whistle", "handler_jw", whistle_to(NW, "990105-CG", "990100-CG"), A),  # above: serve
    Row("whistle", "handler_jw", whistle_to(NW, "990102-CG"), R, leak=True),
    Row("whistle", "operator_nw", whistle_to(NW, "990105-CG"), A),
    Row("whistle", "operator_nw", whistle_to(NW, "990100-CG"), R, leak=True),
    Row("whistle", "operator_nw", whistle_to(NW, "990102-CG"), R, leak=True),
    Row("whistle", "operator_nw", whistle_to(EAST, "990102-CG"), R),
    Row("whistle", "handler_cg", whistle_to(NW, "990105009-ZF"), R),  # not assigned
    # A district department's handler summons up the chain (街乡吹哨) but not next door.
    Row("whistle", "handler_dcg", sent_to("990105-CG", whistle_to(NW, "990100-CG")), A),
    Row("whistle", "handler_dcg", sent_to("990105-CG", whistle_to(NW, "990102-CG")), R, leak=True),
    # -- supplies: stockpiles are searched city-wide; reservations within the RESERVE scope
    Row("read stockpile", "operator_nw", get(lambda w: "/api/v1/supplies/stockpiles/T-EAST"), A),
    Row("read stockpile", "handler_jw", get(lambda w: "/api/v1/supplies/stockpiles/T-EAST"), A),
    Row("read stockpile", "gridhead", get(lambda w: "/api/v1/supplies/stockpiles/T-EAST"), R),
    Row("read reservation", "operator_nw", get(reservation(NW)), A),
    Row("read reservation", "operator_nw", get(reservation(EAST)), R, leak=True),
    Row("read reservation", "op_east", get(reservation(EAST)), A),
    Row("read reservation", "op_east", get(reservation(NW)), R, leak=True),
    Row("read reservation", "em_nw", get(reservation(EAST)), R, leak=True),
    Row("read reservation", "emergency", get(reservation(EAST)), A),
    Row("read reservation", "operator", get(reservation(NW)), A),
    Row("read reservation", "handler_jw", get(reservation(NW)), R),
    Row("release reservation", "operator_nw", post(reservation(NW, "/release")), A),
    Row("release reservation", "operator_nw", post(reservation(EAST, "/release")), R),
    Row("fulfil reservation", "em_east", post(reservation(EAST, "/fulfil")), A),
    Row("fulfil reservation", "em_east", post(reservation(NW, "/fulfil")), R),
    Row("reserve", "operator_nw", reserve_from("T-NW"), A),
    Row("reserve", "operator_nw", reserve_from("T-EAST"), R),
    Row("reserve", "em_east", reserve_from("T-EAST"), A),
    Row("reserve", "em_east", reserve_from("T-NW"), R),
    Row("reserve for an incident", "operator_nw", reserve_from("T-NW", NW), A),
    Row("reserve for an incident", "operator_nw", reserve_from("T-NW", EAST), R),
    # -- sensors and trackers: readings of sensors in the area; positions of trackers one
    # owns or whose owner's area lies in one's own
    Row("post positions", "operator_nw", positions_of("T-CAR-NW"), A, by_row("tracker")),
    Row(
        "post positions", "operator_nw", positions_of("T-CAR-EAST"), R, by_row("tracker"), leak=True
    ),
    Row("post positions", "op_east", positions_of("T-CAR-EAST"), A, by_row("tracker")),
    Row("post positions", "op_east", positions_of("T-CAR-NW"), R, by_row("tracker")),
    Row("post positions", "operator", positions_of("T-CAR-EAST"), A, by_row("tracker")),
    Row("post positions", "admin", positions_of("T-CAR-NW"), A, by_row("tracker")),
    Row("post positions", "emergency", positions_of("T-CAR-NW"), R),  # no INGEST at all
    Row("post readings", "operator_nw", readings_of("SN0002", "tilt"), A, by_batch("sensor")),
    Row(
        "post readings", "operator_nw", readings_of("SN0001", "temperature"), R, by_batch("sensor")
    ),
    Row("post readings", "op_east", readings_of("SN0001", "temperature"), A, by_batch("sensor")),
    Row("post readings", "operator", readings_of("SN0001", "temperature"), A, by_batch("sensor")),
    Row("change tracker", "op_east", tracker_change("T-CAR-EAST"), A),
    Row("change tracker", "operator_nw", tracker_change("T-CAR-EAST"), R),
    Row("change tracker", "admin", tracker_change("T-CAR-EAST"), A),
    Row("change fence", "op_east", fence_change("T-FENCE-EAST"), A),
    Row("change fence", "operator", fence_change("T-FENCE-EAST"), R),  # owner or admin only
    Row("remove fence", "operator_nw", delete("/api/v1/fences/T-FENCE-EAST"), R),
    Row("remove fence", "admin", delete("/api/v1/fences/T-FENCE-EAST"), A),
    # -- evaluation: scorecards city-wide; a street's ratings by its area's operators
    Row(
        "read scorecards",
        "op_east",
        get(lambda w: "/api/v1/evaluation?from=2026-04-01&to=2026-04-30"),
        A,
    ),
    Row("rate department", "operator_nw", rate("990105009", "990105009-CG"), A),
    Row("rate department", "operator_nw", rate("990105009", "990105-CG"), A),  # serves it
    Row("rate department", "operator_nw", rate("990105009", "990102-CG"), R),  # serves not
    Row("rate department", "op_east", rate("990105009", "990105009-CG"), R),
    Row("rate department", "operator", rate("990105009", "990105009-CG"), A),
    Row("rate department", "gridhead", rate("990105009", "990105009-CG"), R),
    # -- notifications: one's own inbox; webhooks and their deliveries: admins
    Row("mark notification read", "operator_nw", mark_read, A),
    Row("mark notification read", "op_east", mark_read, R),
    Row("read dead letters", "admin", get(lambda w: "/api/v1/webhooks/dead-letters"), A),
    Row("read dead letters", "operator", get(lambda w: "/api/v1/webhooks/dead-letters"), R),
    # -- boundaries and departments: reference data, city-wide for every signed-in user
    Row("read grid", "op_east", get(lambda w: "/api/v1/grids/990105009003007"), A),
    Row("read area", "handler_east", get(lambda w: "/api/v1/areas/990105"), A),
    Row("list departments", "gridhead", get(lambda w: "/api/v1/departments?area=990102"), A),
]


def _id(row: Row) -> str:
    return f"{row.operation}-{row.user}-{row.expected}"


@pytest.mark.parametrize("row", ROWS, ids=[_id(r) for r in ROWS])
def test_scope_row(row: Row, client: TestClient, session: Session, world: World) -> None:
    response = row.call(client, world, auth(session, row.user))
    assert (row.verdict or by_status)(response) == row.expected


def test_every_leak_found_from_outside_is_a_row() -> None:
    leaks = {(r.operation, r.user) for r in ROWS if r.leak}
    assert {
        ("read reservation", "operator_nw"),
        ("dispatch", "operator_nw"),
        ("whistle", "operator_nw"),
        ("whistle", "handler_jw"),
        ("post positions", "operator_nw"),
    } <= leaks


def test_a_refused_department_changes_nothing(
    client: TestClient, session: Session, world: World
) -> None:
    before = session.get(Incident, world.incident[NW])
    assert before is not None
    department, deadline = before.department_code, before.deadline_at
    refused = client.post(
        f"/api/v1/incidents/{world.incident[NW]}/dispatch",
        json={"department_code": "990102-CG"},
        headers=auth(session, "operator_nw"),
    )
    assert refused.status_code == 403 and "990102-CG" in refused.text
    session.refresh(before)
    assert (before.department_code, before.deadline_at) == (department, deadline)


def test_a_reservation_for_no_incident_is_422_naming_the_field(
    client: TestClient, session: Session, world: World
) -> None:
    body = {"lines": [{"stockpile": "T-NW", "item": "test_tent", "quantity": 1}],
            "incident_id": 2_000_000_000}  # fmt: skip
    answer = client.post(
        "/api/v1/supplies/reservations", json=body, headers=auth(session, "operator_nw")
    )
    assert answer.status_code == 422 and "incident_id" in answer.text


@pytest.mark.parametrize(
    ("user", "offered", "not_offered"),
    [
        ("operator_nw", {"990105-CG", "990105009-CG"}, {"990100-CG", "990102-CG"}),
        ("operator", {"990100-CG", "990105-CG"}, {"990102-CG"}),
        ("handler_jw", {"990100-CG", "990105009-ZF"}, {"990102-CG"}),
    ],
)
def test_the_page_offers_only_departments_in_reach(
    client: TestClient,
    session: Session,
    world: World,
    user: str,
    offered: set[str],
    not_offered: set[str],
) -> None:
    detail = client.get(f"/api/v1/incidents/{world.incident[NW]}", headers=auth(session, user))
    reach = set(detail.json()["my_departments"])
    assert offered <= reach and not (not_offered & reach)
