"""A lost or replaced register key: the sealed values cannot be opened, and a fresh key
would hash every ID number differently, so imports would add everyone again. The service,
the CLI and the API refuse with a message naming what to restore; never a traceback."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gridgov.cli import app
from gridgov.config import get_settings
from gridgov.db import session_scope
from gridgov.register.models import Person
from gridgov.register.protect import KeyMismatch, RegisterKeys, check_keys
from tests.conftest import auth
from tests.register_files import ALLOWANCE_COLUMNS, KEYS, REGISTER_SECRET, allowance_list
from tests.test_register_reading import OLD, register  # noqa: F401  (the fixture)

OTHER_KEYS = RegisterKeys.from_secret("another register key, not the one it was sealed with")
runner = CliRunner()


def test_the_key_that_sealed_the_register_passes_and_another_is_refused(session, register):  # noqa: F811
    check_keys(session, KEYS)
    with pytest.raises(KeyMismatch) as refused:
        check_keys(session, OTHER_KEYS)
    assert refused.value.params["setting"] == "GRIDGOV_REGISTER_KEY"


def test_an_empty_register_takes_any_key(session):
    assert session.scalar(select(func.count()).select_from(Person)) == 0
    check_keys(session, OTHER_KEYS)


def test_a_sealed_read_with_the_wrong_key_is_a_503_naming_the_key(app_client, session, register):  # noqa: F811
    api = app_client(register_key="another register key, not the one it was sealed with")
    person = session.scalar(select(Person.id).where(Person.id_hash == KEYS.id_hash(OLD)))
    answer = api.get(
        f"/api/v1/register/people/{person}?reason=走访核对&lang=en",
        headers=auth(session, "gridhead"),
    )
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["code"] == "register.key_mismatch"
    assert "GRIDGOV_REGISTER_KEY" in body["detail"] and "Traceback" not in answer.text
    right = app_client(register_key=REGISTER_SECRET).get(
        f"/api/v1/register/people/{person}?reason=走访核对", headers=auth(session, "gridhead")
    )
    assert right.status_code == 200


def test_an_import_with_a_new_key_stops_before_matching(
    monkeypatch, database_url, committed, tmp_path
):
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", database_url)
    monkeypatch.setenv("GRIDGOV_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("GRIDGOV_REGISTER_KEY", REGISTER_SECRET)
    get_settings.cache_clear()
    row = ["王建国", OLD, "男", "1940-03-12", "东澜区青柳路1号", "城市低保", "2024-01-01", ""]
    path = allowance_list(tmp_path / "低保.csv", [row])
    command = ["import", "register", str(path), "--source", "民政局", "--columns",
               str(ALLOWANCE_COLUMNS), "--lang", "en"]  # fmt: skip
    try:
        first = runner.invoke(app, [*command, "--commit"])
        assert first.exit_code == 0, first.output
        monkeypatch.setenv("GRIDGOV_REGISTER_KEY", "a fresh key made after the old one was lost")
        get_settings.cache_clear()
        again = runner.invoke(app, [*command, "--commit"])
    finally:
        get_settings.cache_clear()
    assert again.exit_code != 0
    [line] = again.output.strip().splitlines()
    assert "GRIDGOV_REGISTER_KEY" in line and "Traceback" not in again.output
    with session_scope(committed) as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 1
