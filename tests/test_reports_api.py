"""Filling forms over HTTP and on the command line: the file out, every refusal a clear 4xx."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook
from typer.testing import CliRunner

from tests.conftest import auth
from tests.reports import HOME, OTHER, STREET, plant

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook_bytes(*cells: tuple[str, str]) -> bytes:
    book = Workbook()
    for coordinate, value in cells:
        book.active[coordinate] = value
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def post(client, session, user="operator", *, data=None, files=None, **form):
    form = {"area": HOME, "period": "2026-11", **form}
    return client.post("/api/v1/reports/fill", data=form, files=files, headers=auth(session, user))


def test_a_shipped_template_is_filled_and_downloaded(client, session):
    plant(session, HOME, "0102", to="closed", rating=4)
    plant(session, OTHER, "0102")
    listed = client.get("/api/v1/reports/templates", headers=auth(session, "operator")).json()
    assert "事件统计表.xlsx" in [t["name"] for t in listed]
    answer = post(client, session, area=STREET, template_name="事件统计表.xlsx")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == XLSX
    assert "filename*=UTF-8''" in answer.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(answer.content))["按类别"]
    assert sheet["A5"].value == "市容环境" and sheet["B5"].value == 2 and sheet["F5"].value == 1


def test_an_uploaded_template_with_a_placeholder_in_text(client, session):
    plant(session, HOME, "0601")
    template = workbook_bytes(
        ("A1", "{{area_name}}：上报 {{上报事件数}} 件"), ("A2", "{{安全隐患事件数}}")
    )
    answer = post(client, session, files={"template": ("表.xlsx", template, XLSX)})
    assert answer.status_code == 200, answer.text
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet["A1"].value.endswith("：上报 1 件") and sheet["A2"].value == 1


def test_unknown_indicators_are_listed_by_cell_with_suggestions(client, session):
    template = workbook_bytes(
        ("B2", "{{办结事件]数}}"), ("C7", "{{count(incident, stauts = closed)}}")
    )
    answer = post(client, session, files={"template": ("t.xlsx", template, XLSX)})
    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == "reports.template_refused"
    by_cell = {e["field"]: e for e in body["errors"]}
    assert set(by_cell) == {"Sheet!B2", "Sheet!C7"}
    assert "办结事件数" in by_cell["Sheet!B2"]["suggestions"]
    assert by_cell["Sheet!C7"]["type"] == "reports.unknown_field"
    assert "status" in by_cell["Sheet!C7"]["suggestions"]


def test_register_templates_fill_and_a_roster_needs_a_reader_of_people(client, session):
    answer = post(client, session, template_name="社区基本情况统计表.xlsx")
    assert answer.status_code == 200, answer.text
    sheet = load_workbook(io.BytesIO(answer.content))["基本情况"]
    assert sheet["B3"].value == 0 and sheet["B5"].value == 0  # no register rows planted
    roster = post(client, session, template_name="高龄津贴发放花名册.xlsx")
    assert roster.status_code == 403, roster.text
    assert roster.json()["code"] == "scope.register_people_role"  # operators: counts only


@pytest.mark.parametrize(
    ("content", "key"),
    [
        (b"PK\x03\x04 not really a zip", "reports.template_corrupt"),
        (b"hello", "reports.template_corrupt"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "reports.template_xls"),
    ],
)
def test_unreadable_files_are_refused_naming_why(client, session, content, key):
    answer = post(client, session, files={"template": ("t.xlsx", content, XLSX)})
    assert answer.status_code == 422
    assert answer.json()["errors"][0] == {
        "field": "template", "reason": answer.json()["errors"][0]["reason"], "type": key,
    }  # fmt: skip


def test_a_password_protected_workbook_is_refused_as_such(client, session):
    from msoffcrypto.format.ooxml import OOXMLFile

    plain, locked = io.BytesIO(workbook_bytes(("A1", "{{上报事件数}}"))), io.BytesIO()
    OOXMLFile(plain).encrypt("secret", locked)
    answer = post(client, session, files={"template": ("t.xlsx", locked.getvalue(), XLSX)})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["type"] == "reports.template_encrypted"


def test_scope_period_and_area_refusals(client, session):
    template = {"template_name": "事件统计表.xlsx"}
    # The grid head's scope is one grid: its community is out of reach.
    assert post(client, session, "gridhead", **template).status_code == 403
    assert post(client, session, "gridhead", area="990105009003007", **template).status_code == 200
    future = post(client, session, period="2999-12", **template)
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "period"
    assert post(client, session, period="2026-13", **template).status_code == 422
    unknown = post(client, session, area="123", **template)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "area"
    missing = post(client, session)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "template"
    named = post(client, session, template_name="../indicators.csv")
    assert named.status_code == 422 and named.json()["errors"][0]["field"] == "template_name"


@pytest.fixture
def cli_env(monkeypatch, database_url, demo_generation_id):
    from gridgov.config import get_settings

    monkeypatch.setenv("GRIDGOV_DATABASE_URL", database_url)
    monkeypatch.setenv("GRIDGOV_LANG", "en")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_command_fills_a_file_and_refuses_without_writing(cli_env, tmp_path):
    from gridgov.cli import app
    from gridgov.config import get_settings
    from gridgov.reports.service import templates_dir

    template = templates_dir(get_settings().geodata_dir) / "事件统计表.xlsx"
    out = tmp_path / "filled.xlsx"
    runner = CliRunner()
    args = ["--area", HOME, "--period", "2026-11", "-o", str(out)]
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(workbook_bytes(("A1", "{{no_such_figure}}")))
    refused = runner.invoke(app, ["report", "fill", str(bad), *args])
    assert refused.exit_code == 1
    assert (
        "Sheet!A1: Unknown indicator" in refused.output and "nothing was written" in refused.output
    )
    assert not out.exists()
    future = runner.invoke(app, ["report", "fill", str(template), *args[:2], "--period", "2999-01",
                                 "-o", str(out)])  # fmt: skip
    assert future.exit_code == 1 and "period: 2999-01 has not begun" in future.output
    done = runner.invoke(app, ["report", "fill", str(template), *args])
    assert done.exit_code == 0, done.output
    assert f"Wrote {out}" in done.output
    sheet = load_workbook(out)["按类别"]
    assert sheet["A5"].value == "City appearance and environment"  # --lang en: English names
    assert sheet["B5"].value == 0 and sheet["A2"].value == "报告期：2026-11"


GRID_HEADS_GRID = (109.1, 21.55)  # 青柳社区第7网格 990105009003007, the demo grid head's


def test_grid_heads_month_counted_from_what_the_system_knows(client, session):
    from datetime import UTC, datetime

    mine = {"reporter": "gridhead", "point": GRID_HEADS_GRID}
    plant(session, HOME, "0102", to="closed", rating=5, **mine)  # valid, on time
    plant(session, HOME, "0102", to="accepted", **mine)  # valid, not resolved
    plant(session, HOME, "0101", **mine)  # dispatched only: not confirmed yet
    plant(session, HOME, "0102", at=datetime(2026, 10, 3, tzinfo=UTC), **mine)  # October
    plant(session, HOME, "0601", to="resolved", point=GRID_HEADS_GRID)  # by the operator
    answer = client.get(
        "/api/v1/reports/grid-heads", params={"month": "2026-11"}, headers=auth(session, "operator")
    )
    assert answer.status_code == 200, answer.text
    [row] = [r for r in answer.json()["grid_heads"] if r["username"] == "gridhead"]
    assert row == {
        "username": "gridhead",
        "name": "青柳社区第7网格 网格长",
        "grid_code": "990105009003007",
        "grid_name": row["grid_name"],
        "reports_made": 3,
        "reports_valid": 2,
        "grid_incidents": 4,
        "grid_resolved_within_deadline": 2,
        "households_visited": 0,
        "red_households_due": 0,
        "red_visited_on_time": 0,
        "patrol_coverage": None,  # no house registered in the grid: no share
    }
    assert row["grid_name"].endswith("第7网格")
    own = client.get(
        "/api/v1/reports/grid-heads",
        params={"month": "2026-11", "format": "csv"},
        headers=auth(session, "gridhead"),
    )
    assert own.text.startswith("\ufeffusername,name,grid_code")
    assert own.text.count("\r\n") == 2  # the header and the grid head's own row
    handler = client.get(
        "/api/v1/reports/grid-heads",
        params={"month": "2026-11"},
        headers=auth(session, "handler_jw"),
    )
    assert handler.json()["grid_heads"] == []
    future = client.get(
        "/api/v1/reports/grid-heads", params={"month": "2999-01"}, headers=auth(session, "operator")
    )
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "period"


def test_grid_heads_on_the_command_line(cli_env):
    from gridgov.cli import app

    runner = CliRunner()
    table = runner.invoke(app, ["report", "grid-heads", "--month", "2026-11"])
    assert table.exit_code == 0, table.output
    assert table.output.splitlines()[0].startswith("Account")
    assert "gridhead" in table.output
    csv_out = runner.invoke(app, ["report", "grid-heads", "--month", "2026-11", "--csv"])
    assert csv_out.output.startswith("\ufeffusername,")
    bad = runner.invoke(app, ["report", "grid-heads", "--month", "2026-1x"])
    assert bad.exit_code == 1 and "month:" in bad.output
