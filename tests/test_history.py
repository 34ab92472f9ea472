"""A city's incident history in: original times, no notifications, no escalation, and the
evaluation of 10,000 past incidents checked against figures worked out by hand."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gridgov.cache import GridIndexCache
from gridgov.cli import app
from gridgov.config import PROJECT_ROOT, get_settings
from gridgov.evaluation.service import department_figures
from gridgov.incidents.escalation import EscalationRun, escalate_one
from gridgov.incidents.history import import_history, read_history_file
from gridgov.incidents.models import Incident, IncidentEvent
from gridgov.notifications.models import Notification
from gridgov.tables import RowsRefused

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
BASE = datetime(2025, 1, 1, tzinfo=SHANGHAI)
HEADER = ["工单编号", "类别编码", "经度", "纬度", "上报时间", "派遣时间", "受理时间", "办结时间",
          "结案时间", "处置部门", "满意度", "描述"]  # fmt: skip


def city_sla_hours(category: str) -> float:
    """The city-level time limit of a category, read straight from the demo list."""
    path = PROJECT_ROOT / "geodata/demo_city/responsibilities.csv"
    with path.open(encoding="utf-8-sig") as fh:
        for row in csv.reader(fh):
            if row[0] == category and row[1] == "市" and not row[2]:
                return float(row[4])
    raise AssertionError(category)


def local(at: datetime) -> str:
    """As a hotline export writes times: local, no offset."""
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def history_rows(n: int) -> list[list[str]]:
    """Even rows: the city management bureau accepts in 2 h, one in four resolved late,
    rated 5. Odd rows: the housing bureau accepts in 6 h, half resolved late, rated 3."""
    sla = city_sla_hours("0102")
    rows = []
    for i in range(n):
        reported = BASE + timedelta(minutes=10 * i)
        dispatched = reported + timedelta(minutes=30)
        if i % 2 == 0:
            department, accept_h, late, rating = "990100-CG", 2, i % 8 == 0, 5
        else:
            department, accept_h, late, rating = "990100-ZJ", 6, i % 4 == 3, 3
        resolved = dispatched + timedelta(hours=sla + 1 if late else sla - 1)
        lon, lat = 109.1 + (i % 7) * 0.0003, 21.55 + (i % 5) * 0.0003
        rows.append(
            [f"H{i:06d}", "0102", str(lon), str(lat), local(reported), local(dispatched),
             local(dispatched + timedelta(hours=accept_h)), local(resolved),
             local(resolved + timedelta(hours=1)), department, str(rating), "占道经营"]
        )  # fmt: skip
    return rows


def write(tmp_path, rows, encoding="utf-8"):
    path = tmp_path / "history.csv"
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows([HEADER, *rows])
    return path


def run(session, path):
    index = GridIndexCache().get(session)
    rows = read_history_file(path)
    return import_history(session, rows=rows, index=index, timezone=SHANGHAI, now=NOW)


def test_ten_thousand_past_incidents_evaluate_as_worked_out_by_hand(session, tmp_path):
    notifications_before = session.scalar(select(func.count()).select_from(Notification))
    result = run(session, write(tmp_path, history_rows(10_000), encoding="gbk"))
    assert (result.imported, result.already_imported) == (10_000, 0)
    figures = department_figures(
        session, start=BASE, end=BASE + timedelta(days=90), departments=["990100-CG", "990100-ZJ"]
    )
    cg, zj = figures["990100-CG"], figures["990100-ZJ"]
    assert (cg.assigned, cg.accepted, cg.resolved, cg.reopened) == (5000, 5000, 5000, 0)
    assert (zj.assigned, zj.accepted, zj.resolved, zj.reopened) == (5000, 5000, 5000, 0)
    assert (cg.median_accept_hours, zj.median_accept_hours) == (2.0, 6.0)
    assert (cg.resolved_within_sla, zj.resolved_within_sla) == (3750, 2500)  # 1/4 and 1/2 late
    assert (cg.rating_mean, zj.rating_mean) == (5.0, 3.0)
    # 0.5 x 0.75 + 0.2 x 1 + 0.3 x (5-1)/4 and 0.5 x 0.5 + 0.2 x 1 + 0.3 x (3-1)/4
    assert cg.effectiveness == pytest.approx(0.875)
    assert zj.effectiveness == pytest.approx(0.6)
    # History told nobody and was not flagged as duplicating itself.
    assert session.scalar(select(func.count()).select_from(Notification)) == notifications_before
    flagged = select(func.count()).where(
        Incident.source == "history", Incident.possible_duplicate_of.is_not(None)
    )
    assert session.scalar(flagged) == 0


def test_original_times_are_kept_and_deadlines_come_from_them(session, tmp_path):
    run(session, write(tmp_path, history_rows(2)))
    incident = session.scalar(select(Incident).where(Incident.idempotency_key == "history:H000000"))
    dispatched = BASE + timedelta(minutes=30)
    assert incident.status == "closed" and incident.reported_at == BASE
    assert incident.deadline_at == dispatched + timedelta(hours=city_sla_hours("0102"))
    assert (incident.department_code, incident.level, incident.rating) == ("990100-CG", "city", 5)
    actions = session.execute(
        select(IncidentEvent.action, IncidentEvent.at)
        .where(IncidentEvent.incident_id == incident.id)
        .order_by(IncidentEvent.at)
    ).all()
    assert [a for a, _ in actions] == ["report", "dispatch", "accept", "resolve", "close"]
    assert actions[1].at == dispatched


def test_an_open_past_incident_is_not_escalated(session, tmp_path):
    row = history_rows(1)[0]
    row[6:9] = ["", "", ""]  # dispatched long ago, never accepted
    row[10] = ""
    run(session, write(tmp_path, [row]))
    incident = session.scalar(select(Incident).where(Incident.idempotency_key == "history:H000000"))
    assert incident.status == "dispatched" and incident.deadline_at < NOW
    run_ = EscalationRun()
    while escalate_one(session, now=datetime.now(UTC), run=run_):
        pass
    assert incident.id not in run_.escalated + run_.overdue_at_top
    session.refresh(incident)
    assert (incident.status, incident.level) == ("dispatched", "city")


def test_a_second_import_of_the_same_file_adds_nothing(session, tmp_path):
    path = write(tmp_path, history_rows(3))
    assert run(session, path).imported == 3
    again = run(session, path)
    assert (again.imported, again.already_imported) == (0, 3)


def test_every_bad_row_is_named_and_nothing_is_written(session, tmp_path):
    rows = history_rows(6)
    rows[0][1] = "01"  # a major class
    rows[1][4] = "yesterday"
    rows[2][7] = rows[2][4]  # resolved before it was accepted
    rows[3][2], rows[3][3] = "100.0", "10.0"  # outside every grid
    rows[4][10] = "9"
    rows[5][5] = "2030-01-01 00:00:00"  # in the future
    with pytest.raises(RowsRefused) as refused:
        run(session, write(tmp_path, rows))
    found = {(p.row, p.column) for p in refused.value.problems}
    assert {(2, "category"), (3, "reported_at"), (4, "resolved_at"), (5, "lon"), (6, "rating"),
            (7, "dispatched_at")} <= found  # fmt: skip
    assert session.scalar(select(func.count()).where(Incident.source == "history")) == 0


def test_cli_dry_run_then_commit(monkeypatch, database_url, committed, tmp_path):
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", database_url)
    monkeypatch.setenv("GRIDGOV_LANG", "en")
    get_settings.cache_clear()
    path = write(tmp_path, history_rows(4))
    runner = CliRunner()
    try:
        dry = runner.invoke(app, ["import", "incidents", str(path)])
        assert dry.exit_code == 0, dry.output
        assert "4 incidents are valid; 0 imported before, skipped; dry run" in dry.output
        done = runner.invoke(app, ["import", "incidents", str(path), "--commit"])
        assert done.exit_code == 0 and "wrote 4 incidents" in done.output
        again = runner.invoke(app, ["import", "incidents", str(path), "--commit"])
        assert "wrote 0 incidents; 4 imported before, skipped" in again.output
    finally:
        get_settings.cache_clear()  # the committed fixture truncates the incidents written


def test_the_cli_names_bad_rows_in_the_language_of_the_run(
    monkeypatch, database_url, demo_generation_id, tmp_path
):
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", database_url)
    monkeypatch.delenv("GRIDGOV_LANG", raising=False)
    get_settings.cache_clear()
    rows = history_rows(2)
    rows[0][1] = "01"  # a major class
    rows[1][4] = "yesterday"
    path = write(tmp_path, rows)
    try:
        zh = CliRunner().invoke(app, ["import", "incidents", str(path)])
        en = CliRunner().invoke(app, ["import", "incidents", str(path), "--lang", "en"])
    finally:
        get_settings.cache_clear()
    assert zh.exit_code == en.exit_code == 1
    assert "第 2 行：category：01 是大类：请写小类" in zh.output
    assert "第 3 行：reported_at：'yesterday' 不是时间" in zh.output
    assert "被拒绝（3 个问题），未写入任何内容" in zh.output
    assert "row 2: category: 01 is a major class" in en.output
    assert "row 3: reported_at: 'yesterday' is no time" in en.output
