"""Reference tables from the CLI: dry runs unless --commit, every bad row named, no traceback."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gridgov.cli import app
from gridgov.config import get_settings
from gridgov.db import make_session_factory, session_scope
from gridgov.departments.models import Department
from gridgov.responsibilities.models import Category
from gridgov.supplies.models import Item

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch, database_url, demo_generation_id):
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", database_url)
    monkeypatch.setenv("GRIDGOV_LANG", "en")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def cleanup(engine):
    yield
    with session_scope(make_session_factory(engine)) as session:
        for model, column in ((Department, Department.code), (Item, Item.code)):
            session.query(model).filter(column.like("T-%")).delete()
        session.query(Category).filter(Category.code.like("T%")).delete()


def exists(engine, model, column, value):
    with session_scope(make_session_factory(engine)) as session:
        return session.scalar(select(column).where(column == value)) is not None


def test_departments_refuse_an_area_that_does_not_exist(cli_env, engine, tmp_path, cleanup):
    path = tmp_path / "departments.csv"
    path.write_bytes(
        "部门编码,部门名称,层级,区域编码\nT-1,测试局,district,990102\nT-2,错误局,district,999999\n".encode(
            "gbk"
        )
    )
    result = runner.invoke(app, ["import", "departments", str(path), "--commit"])
    assert result.exit_code == 1
    assert "row 3: area_code 999999 is no area" in result.output
    assert not exists(engine, Department, Department.code, "T-1")


def test_departments_dry_run_then_commit(cli_env, engine, tmp_path, cleanup):
    path = tmp_path / "departments.csv"
    path.write_text("code,name,level,area_code\nT-1,测试局,district,990102\n", encoding="utf-8")
    dry = runner.invoke(app, ["import", "departments", str(path)])
    assert dry.exit_code == 0 and "dry run" in dry.output
    assert not exists(engine, Department, Department.code, "T-1")
    assert runner.invoke(app, ["import", "departments", str(path), "--commit"]).exit_code == 0
    assert exists(engine, Department, Department.code, "T-1")


def test_items_dry_run_then_commit(cli_env, engine, tmp_path, cleanup):
    path = tmp_path / "items.csv"
    path.write_text("code,name_zh,name_en,unit_zh,unit_en\nT-x,测试,Test,个,piece\n")
    dry = runner.invoke(app, ["import", "items", str(path)])
    assert dry.exit_code == 0 and "1 items are valid; dry run" in dry.output
    assert not exists(engine, Item, Item.code, "T-x")
    assert runner.invoke(app, ["import", "items", str(path), "--commit"]).exit_code == 0
    assert exists(engine, Item, Item.code, "T-x")


@pytest.mark.parametrize(
    "content,reason",
    [
        ("code,name_zh\nT-x,测试\n", "missing column(s) name_en, unit_zh, unit_en"),
        ("code,name_zh,name_en,unit_zh,unit_en\nT-x,,Test,个,piece\n", "row 2: name_zh is empty"),
        (
            "code,name_zh,name_en,unit_zh,unit_en\nT-x,a,b,c,d\nT-x,a,b,c,d\n",
            "row 3: code T-x appears twice",
        ),
    ],
)
def test_bad_item_files_are_one_line_naming_the_problem(cli_env, tmp_path, content, reason):
    path = tmp_path / "items.csv"
    path.write_text(content)
    result = runner.invoke(app, ["import", "items", str(path), "--commit"])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert reason in result.output and "nothing written" in result.output


def test_categories_name_an_unknown_parent_and_a_bad_flag(cli_env, engine, tmp_path, cleanup):
    path = tmp_path / "categories.csv"
    path.write_text(
        "code,parent_code,name_zh,name_en,urgent\nT1,,测试,Test,no\nT101,T9,子类,Sub,maybe\n"
    )
    result = runner.invoke(app, ["import", "categories", str(path), "--commit"])
    assert result.exit_code == 1
    assert "row 3: parent_code T9 is no category" in result.output
    assert "row 3: urgent 'maybe' is not true or false" in result.output
    assert not exists(engine, Category, Category.code, "T1")
