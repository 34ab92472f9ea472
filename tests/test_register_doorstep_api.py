"""Doorstep visits over HTTP: the grid head records one (once), a department that may read
the person sees the correction at once and one that may not is refused; conflicts are
listed and settled; bad input is a problem naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gridgov.register.models import HouseholdVisit, Person
from gridgov.register.service import import_register
from tests.conftest import GEODATA, auth
from tests.register_files import (
    ALLOWANCE_COLUMNS,
    DISABILITY_COLUMNS,
    HEAD_GRID,
    KEYS,
    REGISTER_SECRET,
    allowance_list,
    write_csv,
)
from tests.test_register_reading import (  # noqa: F401  (register: the fixture)
    DISABLED,
    OLD,
    TODAY,
    person_id,
    register,
)

PROBLEM = "application/problem+json"


@pytest.fixture
def api(app_client):
    return app_client(register_key=REGISTER_SECRET)


def household_of(session, number: str) -> int:
    found = session.scalar(
        select(Person.household_id).where(Person.id == person_id(session, number))
    )
    assert found is not None
    return int(found)


def body(session, number: str, client_id: str = "phone-1", **given) -> dict:
    visited = datetime.now(UTC) - timedelta(minutes=3)
    return {
        "household_id": household_of(session, number),
        "client_id": client_id,
        "visited_at": visited.isoformat(),
        "lon": 109.1,
        "lat": 21.55,
        "accuracy_m": 9,
    } | given


def names_seen(api, session, username: str) -> list[str] | int:
    answer = api.get(
        f"/api/v1/register/households?grid={HEAD_GRID}", headers=auth(session, username)
    )
    if answer.status_code != 200:
        return int(answer.status_code)
    return sorted(m["name"] for h in answer.json() for m in h["members"])


def test_a_visit_is_recorded_once_and_its_correction_read_at_once(api, session, register):  # noqa: F811
    old = person_id(session, OLD)
    sent = body(
        session, OLD,
        confirmed=[f"tag:{old}:allowance"],
        corrected=[{"entity": "person", "id": old, "field": "name", "value": "王建华"}],
    )  # fmt: skip
    headers = auth(session, "gridhead")
    first = api.post("/api/v1/register/visits", json=sent, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["corrected"] == [{"entity": "person", "id": old, "field": "name"}]
    assert first.json()["changed"] == [household_of(session, OLD)]
    again = api.post("/api/v1/register/visits", json=sent, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert session.scalar(select(func.count()).select_from(HouseholdVisit)) == 1

    assert names_seen(api, session, "handler_mz") == ["王建华"]  # on the allowance: civil affairs
    assert "李秀英" in names_seen(api, session, "handler_cl")  # (disabled) and not 王建华
    assert "王建华" not in names_seen(api, session, "handler_cl")
    assert names_seen(api, session, "handler_cg") == 403


@pytest.mark.parametrize("username", ["admin", "handler_mz", "operator"])
def test_only_the_grid_head_records_a_visit(api, session, register, username):  # noqa: F811
    answer = api.post(
        "/api/v1/register/visits", json=body(session, OLD), headers=auth(session, username)
    )
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith(PROBLEM)
    conflicts = api.get(
        f"/api/v1/register/conflicts?grid={HEAD_GRID}", headers=auth(session, username)
    )
    assert conflicts.status_code == 403


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"household_id": 2**70}, "household_id"),
        ({"household_id": 9_000_000_000}, "household_id"),
        ({"note": "a\x00b"}, "note"),
        ({"client_id": "x" * 65}, "client_id"),
        ({"visited_at": "2026-13-40T99:00"}, "visited_at"),
        ({"visited_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()}, "visited_at"),
        ({"visited_at": (datetime.now(UTC) - timedelta(days=30)).isoformat()}, "visited_at"),
        ({"confirmed": ["person:x:name"]}, "confirmed.0"),
        ({"corrected": [{"entity": "person", "id": 2**64, "field": "name"}]}, "corrected.0.id"),
        ({"corrected": [{"entity": "car", "id": 1, "field": "name"}]}, "corrected.0.entity"),
        ({"lon": 200}, "lon"),
        ({"lat": None}, "lat"),
    ],
)
def test_bad_visits_are_problems_naming_the_field(api, session, register, given, field):  # noqa: F811
    answer = api.post(
        "/api/v1/register/visits",
        json=body(session, OLD) | given,
        headers=auth(session, "gridhead"),
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert any(e["field"].endswith(field) for e in answer.json()["errors"]), answer.json()
    assert session.scalar(select(func.count()).select_from(HouseholdVisit)) == 0


def test_conflicts_are_listed_and_settled(api, session, register, tmp_path: Path):  # noqa: F811
    old = person_id(session, OLD)
    headers = auth(session, "gridhead")
    sent = body(
        session,
        OLD,
        corrected=[{"entity": "person", "id": old, "field": "phone", "value": "13900001111"}],
    )
    assert api.post("/api/v1/register/visits", json=sent, headers=headers).status_code == 201
    path = allowance_list(
        tmp_path / "a.csv",
        [
            [
                "王建国",
                OLD,
                "男",
                "1940-03-12",
                "青柳路1号1栋1单元101室",
                "城市低保",
                "2022-01-01",
                "",
            ]
        ],
    )
    plan = import_register(
        session, keys=KEYS, path=path, columns_path=ALLOWANCE_COLUMNS, source="民政局",
        geodata_dir=GEODATA, today=TODAY, now=datetime.now(UTC), commit=True,
    ).plan  # fmt: skip
    assert plan.conflicts == []  # the list has no phone column: nothing to disagree on
    cl = [["王建国", OLD, "男", "肢体", "二级", "青柳路1号1栋1单元101室", "13812345678"]]
    disability = write_csv(
        tmp_path / "cl.csv",
        ["序号", "姓名", "公民身份号码", "性别", "残疾类别", "残疾等级", "现住址", "联系电话"],
        [["1", *row] for row in cl],
    )
    plan = import_register(
        session, keys=KEYS, path=disability, columns_path=DISABILITY_COLUMNS, source="残联",
        geodata_dir=GEODATA, today=TODAY, now=datetime.now(UTC), commit=True,
    ).plan  # fmt: skip
    assert [c.field for c in plan.conflicts] == ["phone"]

    listed = api.get(f"/api/v1/register/conflicts?grid={HEAD_GRID}", headers=headers)
    assert listed.status_code == 200, listed.text
    [conflict] = listed.json()
    assert (conflict["field"], conflict["current"], conflict["proposed"], conflict["source"]) == (
        "phone", "13900001111", "13812345678", "残联"
    )  # fmt: skip
    path_of = f"/api/v1/register/conflicts/{conflict['id']}/settle"
    refused = api.post(path_of, json={"decision": "keep"}, headers=auth(session, "handler_cl"))
    assert refused.status_code == 403
    wrong = api.post(path_of, json={"decision": "maybe"}, headers=headers)
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"].endswith("decision")
    taken = api.post(path_of, json={"decision": "take"}, headers=headers)
    assert taken.status_code == 200 and taken.json()["status"] == "taken"
    assert taken.json()["changed"] == [household_of(session, OLD)]
    person = session.get(Person, old)
    assert person is not None and person.phone_sealed is not None
    assert KEYS.open(person.phone_sealed, field="phone") == "13812345678"
    again = api.post(path_of, json={"decision": "keep"}, headers=headers)
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "conflict_id"
    assert api.get(f"/api/v1/register/conflicts?grid={HEAD_GRID}", headers=headers).json() == []

    for bad in ("99999999", str(2**70)):
        missing = api.post(
            f"/api/v1/register/conflicts/{bad}/settle", json={"decision": "keep"}, headers=headers
        )
        assert missing.status_code == 422
        assert missing.headers["content-type"].startswith(PROBLEM)


def test_the_tags_are_named_in_the_callers_language(api, session):
    headers = auth(session, "gridhead")
    zh = {k["key"]: k for k in api.get("/api/v1/register/tags", headers=headers).json()}
    assert zh["allowance"]["name"] == "低保" and zh["disability"]["details"] == ["kind", "grade"]
    en = api.get("/api/v1/register/tags", headers=headers | {"Accept-Language": "en"}).json()
    assert {k["key"]: k["name"] for k in en}["allowance"] == "minimum living allowance"
    assert api.get("/api/v1/register/tags").status_code == 401
