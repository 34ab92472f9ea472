"""The register over HTTP: each caller sees what the read table allows, a record needs a
reason and is logged, small counts are hidden, a department list is imported."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from gridgov.register.models import Person, RegisterAccess
from tests.conftest import auth
from tests.register_files import (
    ALLOWANCE_HEADER,
    HEAD_GRID,
    KEYS,
    REGISTER_SECRET,
    id_number,
)
from tests.test_register_reading import OLD, register  # noqa: F401  (the fixture)


@pytest.fixture
def api(app_client):
    return app_client(register_key=REGISTER_SECRET)


def test_a_grid_head_lists_their_households_masked(api, session, register):  # noqa: F811
    answer = api.get(
        f"/api/v1/register/households?grid={HEAD_GRID}", headers=auth(session, "gridhead")
    )
    assert answer.status_code == 200, answer.text
    [first, second] = answer.json()
    [old] = first["members"]
    assert old["name"] == "王建国" and old["id_number"] == OLD[:4] + "*" * 10 + OLD[-4:]
    assert (old["phone"], old["phone_clear"], old["id_number_clear"]) == (
        "13812345678",
        True,
        False,
    )
    assert [t["tag"] for t in old["tags"]] == ["allowance", "living_alone"]
    assert [m["relation"] for m in second["members"]] == ["head", "child"]

    elsewhere = api.get(
        f"/api/v1/register/households?grid={register['other']}", headers=auth(session, "gridhead")
    )
    assert elsewhere.status_code == 403
    assert elsewhere.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("username", ["operator", "handler_cg", "emergency"])
def test_those_who_may_not_read_people_are_refused(api, session, register, username):  # noqa: F811
    answer = api.get(
        f"/api/v1/register/households?grid={HEAD_GRID}", headers=auth(session, username)
    )
    assert answer.status_code == 403


def test_a_record_needs_a_reason_and_every_read_is_logged(api, session, register):  # noqa: F811
    person = session.scalar(select(Person.id).where(Person.id_hash == KEYS.id_hash(OLD)))
    headers = auth(session, "gridhead")
    missing = api.get(f"/api/v1/register/people/{person}", headers=headers)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"].endswith("reason")
    blank = api.get(f"/api/v1/register/people/{person}?reason=%20", headers=headers)
    assert blank.status_code == 422
    assert session.scalar(select(RegisterAccess.id)) is None
    answer = api.get(f"/api/v1/register/people/{person}?reason=走访核对", headers=headers)
    assert answer.status_code == 200
    assert answer.json()["provenance"]["name"]["source"] == "grassroots"
    [entry] = session.scalars(select(RegisterAccess)).all()
    assert (entry.person_id, entry.reason) == (person, "走访核对")
    refused = api.get(
        f"/api/v1/register/people/{person}?reason=x", headers=auth(session, "operator")
    )
    assert refused.status_code == 403
    assert len(session.scalars(select(RegisterAccess)).all()) == 1


def test_places_and_counts(api, session, register):  # noqa: F811
    headers = auth(session, "operator")
    houses = api.get(f"/api/v1/register/houses?grid={HEAD_GRID}", headers=headers)
    assert sorted(h["code"] for h in houses.json()) == ["H1", "H2"]
    things = api.get("/api/v1/register/things?bbox=109.09,21.54,109.11,21.56", headers=headers)
    assert [t["code"] for t in things.json()] == ["T1"]
    assert api.get("/api/v1/register/houses", headers=headers).status_code == 422
    counts = api.get("/api/v1/register/counts/tags?tag=allowance", headers=headers).json()
    assert counts["counts"] == {HEAD_GRID: None, register["other"]: None}
    mine = api.get("/api/v1/register/counts/tags?tag=allowance", headers=auth(session, "gridhead"))
    assert mine.json()["counts"] == {HEAD_GRID: 1}


def test_a_department_list_is_imported_dry_then_committed(api, session, register):  # noqa: F811
    wang = id_number("990102", "19400312", "011")
    body = ",".join(ALLOWANCE_HEADER) + f"\n1,王建国,{wang},男,1940-03-12,东澜区,城市低保,,\n"
    body += "2,李四,990102194003120110,男,,东澜区,城市低保,,\n"
    form = {"source": "民政局", "columns": "民政局_低保对象名单"}
    files = {"file": ("低保.csv", body.encode("gbk"), "text/csv")}
    headers = auth(session, "admin") | {"Accept-Language": "en"}
    dry = api.post("/api/v1/register/imports", data=form, files=files, headers=headers)
    assert dry.status_code == 200, dry.text
    assert dry.json()["counts"]["new"] == 1 and dry.json()["batch"] is None
    assert dry.json()["problems"][0]["column"] == "身份证号码"
    assert session.scalar(select(Person.id).where(Person.id_hash == KEYS.id_hash(wang))) is None
    done = api.post(
        "/api/v1/register/imports", data=form | {"commit": "true"}, files=files, headers=headers
    )
    assert done.json()["batch"] is not None
    assert session.scalar(select(Person.id).where(Person.id_hash == KEYS.id_hash(wang))) is not None
    refused = api.post(
        "/api/v1/register/imports", data=form, files=files, headers=auth(session, "gridhead")
    )
    assert refused.status_code == 403
    unknown = api.post(
        "/api/v1/register/imports", data=form | {"columns": "nope"}, files=files, headers=headers
    )
    assert unknown.status_code == 422
