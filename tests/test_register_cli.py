"""The register from the command line: a department list's dry run and commit, history,
undo, and the demo city's own register files loaded once."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gridgov.cli import app
from gridgov.config import get_settings
from gridgov.db import session_scope
from gridgov.demo import load_demo_register
from gridgov.register.models import House, Household, Person, RegisterBatch
from tests.conftest import GEODATA
from tests.register_files import (
    ALLOWANCE_COLUMNS,
    HEAD_GRID,
    KEYS,
    allowance_list,
    id_number,
    write_grassroots,
)

runner = CliRunner()
WANG = id_number("990102", "19400312", "011")


@pytest.fixture
def cli_env(monkeypatch, database_url, committed, tmp_path):
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", database_url)
    monkeypatch.setenv("GRIDGOV_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield committed
    get_settings.cache_clear()


def people(sessions) -> int:
    with session_scope(sessions) as session:
        return session.scalar(select(func.count()).select_from(Person)) or 0


def test_a_department_list_dry_run_commit_history_and_undo(cli_env, tmp_path):
    path = allowance_list(
        tmp_path / "低保.csv",
        [
            ["王建国", WANG, "男", "1940-03-12", "东澜区青柳路1号", "城市低保", "2024-01-01", ""],
            ["李四", WANG[:-1] + ("1" if WANG[-1] != "1" else "2"), "男", "", "", "", "", ""],
        ],
    )
    command = ["import", "register", str(path), "--source", "民政局", "--columns",
               str(ALLOWANCE_COLUMNS), "--lang", "en"]  # fmt: skip
    dry = runner.invoke(app, command)
    assert dry.exit_code == 0, dry.output
    assert "rows=2 matched=0 new=1 ambiguous=0 invalid=1 duplicate=0" in dry.output
    assert "row 3: 身份证号码: not a valid ID number" in dry.output
    assert "dry run" in dry.output and people(cli_env) == 0
    assert (tmp_path / "var" / "register_key").stat().st_mode & 0o777 == 0o600

    done = runner.invoke(app, [*command, "--commit"])
    assert done.exit_code == 0 and "written" in done.output
    assert people(cli_env) == 1
    history = runner.invoke(app, ["register", "batches"])
    assert "民政局\t低保.csv" in history.output
    with session_scope(cli_env) as session:
        batch = session.scalar(select(RegisterBatch.id))
    undone = runner.invoke(app, ["register", "undo", str(batch), "--lang", "en"])
    assert undone.exit_code == 0 and "2 records removed" in undone.output
    assert people(cli_env) == 0
    again = runner.invoke(app, ["register", "undo", str(batch), "--lang", "en"])
    assert again.exit_code == 1 and "was undone already" in again.output


def test_a_missing_column_file_is_one_line_not_a_traceback(cli_env, tmp_path):
    path = allowance_list(tmp_path / "a.csv", [])
    result = runner.invoke(
        app, ["import", "register", str(path), "--source", "民政局", "--columns", "nope.csv"]
    )
    assert result.exit_code == 1 and result.output.startswith("错误：字段 columns：")
    assert result.output.count("\n") == 1 and "nope.csv" in result.output


def test_the_demo_register_is_loaded_once_when_its_files_are_there(committed, tmp_path):
    geodata = tmp_path / "geodata"
    (geodata / "register").mkdir(parents=True)
    for name in ("tags.csv", "tiers.csv", "tier_levels.csv"):
        shutil.copy(GEODATA / "register" / name, geodata / "register" / name)
    with session_scope(committed) as session:
        assert load_demo_register(session, geodata_dir=geodata, keys=KEYS) is None  # no files
    write_grassroots(
        geodata / "demo_city" / "register",
        {
            "houses": [["H1", "青柳路1号", "", "", "", "109.1", "21.55", "residential", "owned"]],
            "households": [["F1", "H1"]],
            "people": [[WANG, "王建国", "男", "1940-03-12", "", "F1", "户主"]],
            "tags": [[WANG, "living_alone", "", "", "", ""]],
        },
    )
    with session_scope(committed) as session:
        load = load_demo_register(session, geodata_dir=geodata, keys=KEYS)
        assert load is not None and load.counts["people"] == 1 and load.problems == []
    with session_scope(committed) as session:
        assert load_demo_register(session, geodata_dir=geodata, keys=KEYS) is None
        assert session.scalar(select(House.grid_code)) == HEAD_GRID  # by the active index
        assert session.scalar(select(func.count()).select_from(Person)) == 1
        # Tiered as it is loaded: an elderly man living alone makes a red household.
        assert session.execute(select(Household.tier, Household.tier_rule)).one() == (
            "red",
            "elderly_living_alone",
        )
