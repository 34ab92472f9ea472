"""The tiers and the month's coverage from the command line, on committed data: the
grassroots load tiers the households, an import and its undo retier them, and
``gridgov register coverage`` prints the figures worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from typer.testing import CliRunner

from gridgov.cli import app
from gridgov.config import get_settings
from gridgov.db import session_scope
from gridgov.register.daily import run_daily
from gridgov.register.models import House, Household, HouseholdVisit, PatrolPass
from gridgov.users.models import User
from tests.register_files import ALLOWANCE_COLUMNS, HEAD_GRID, allowance_list
from tests.test_register_cli import cli_env  # noqa: F401  (the fixture)
from tests.test_register_reading import other_grid
from tests.test_register_tiering import PLAIN, tier_files

runner = CliRunner()


def tier_of(sessions, code: str) -> str | None:
    with session_scope(sessions) as session:
        return session.scalar(select(Household.tier).where(Household.code == code))


def test_tiers_follow_load_import_and_undo_and_coverage_is_printed(cli_env, tmp_path):  # noqa: F811
    with session_scope(cli_env) as session:
        _, lon, lat = other_grid(session)
    folder = tier_files(tmp_path / "register", (lon, lat))
    loaded = runner.invoke(app, ["register", "load", str(folder)])
    assert loaded.exit_code == 0, loaded.output
    assert (tier_of(cli_env, "F1"), tier_of(cli_env, "F4")) == ("red", "green")
    retiered = runner.invoke(app, ["register", "retier", "--lang", "en"])
    assert retiered.output == "0 households changed tier\n"
    # The daily job: 4 red and yellow households of the grid head's grid, never visited, are
    # due from the day they got their tier; a second run reminds nobody again.
    assert run_daily(cli_env, settings=get_settings())["reminded"] == 4
    assert run_daily(cli_env, settings=get_settings())["reminded"] == 0

    path = allowance_list(
        tmp_path / "低保.csv",
        [["赵强", PLAIN[0], "男", "1960-01-01", "青柳路4号", "城市低保", "2026-11-01", ""]],
    )
    command = ["import", "register", str(path), "--source", "民政局", "--columns",
               str(ALLOWANCE_COLUMNS), "--commit"]  # fmt: skip
    assert runner.invoke(app, command).exit_code == 0
    assert tier_of(cli_env, "F4") == "yellow"
    history = runner.invoke(app, ["register", "batches"])
    batch = history.output.splitlines()[0].split("\t")[0]
    assert runner.invoke(app, ["register", "undo", batch]).exit_code == 0
    assert tier_of(cli_env, "F4") == "green"

    with session_scope(cli_env) as session:
        head = session.scalar(select(User.id).where(User.username == "gridhead"))
        houses = dict(session.execute(select(House.code, House.id)).all())
        f5 = session.scalar(select(Household.id).where(Household.code == "F5"))
        assert head is not None and f5 is not None
        at = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
        session.add_all(
            PatrolPass(user_id=head, entity="house", entity_id=houses[h], grid_code=HEAD_GRID,
                       passed_on=at.date(), passed_at=at, distance_m=5.0)
            for h in ("H2", "H3")
        )  # fmt: skip
        session.add(
            HouseholdVisit(household_id=f5, grid_code=HEAD_GRID, user_id=head, client_id="c1",
                           visited_at=datetime(2026, 12, 10, 2, 0, tzinfo=UTC))
        )  # fmt: skip
    shown = runner.invoke(
        app, ["register", "coverage", "--grid", HEAD_GRID, "--month", "2026-12", "--lang", "en"]
    )
    assert shown.exit_code == 0, shown.output
    # H2, H3 passed and H5 visited: 3 of 7 houses; red F1 (H1) unseen, F2 (H2) passed.
    assert shown.output.splitlines() == [
        f"{HEAD_GRID}: houses visited 3/7 (43%), red households 2, not seen 1",
        "  F1\t青柳路1号",
    ]
    area = runner.invoke(app, ["register", "coverage", "--area", "990105", "--month", "2026-12"])
    assert area.exit_code == 0 and area.output.startswith(f"{HEAD_GRID}：已走访房屋 3/7")

    bad = runner.invoke(app, ["register", "coverage", "--grid", HEAD_GRID, "--month", "2026-13"])
    assert bad.exit_code == 1 and bad.output.count("\n") == 1 and "2026-13" in bad.output
    neither = runner.invoke(app, ["register", "coverage", "--month", "2026-12", "--lang", "en"])
    assert neither.exit_code == 1 and "one of the two" in neither.output
    assert "Traceback" not in neither.output
