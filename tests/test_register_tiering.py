"""Household tiers in the database: stored by the grassroots load, after a department import
and after its undo; the grid head's red and yellow list; the map layer's counts with small
counts hidden; visit-due reminders, each once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.boundaries.index import GridIndex
from gridgov.errors import OutOfScope
from gridgov.notifications.models import Notification
from gridgov.register.batches import undo_batch
from gridgov.register.grassroots import load_grassroots
from gridgov.register.models import Household, HouseholdVisit, Person
from gridgov.register.reading import reader_of
from gridgov.register.service import import_register
from gridgov.register.tier_views import remind_due_visits, tier_counts, tier_list
from gridgov.register.tiering import retier
from gridgov.register.vocabulary import load_tags, tags_file
from tests.conftest import GEODATA
from tests.register_files import (
    ALLOWANCE_COLUMNS,
    HEAD_GRID,
    KEYS,
    allowance_list,
    id_number,
    write_grassroots,
)
from tests.test_register_reading import department_user, other_grid, user

TODAY = date(2026, 12, 5)
NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
TZ = "Asia/Shanghai"
OLD = id_number("990105", "19400312", "011")  # 86, lives alone: red
SEVERE = id_number("990105", "19700101", "022")  # disability grade 1, no carer: red
POOR = id_number("990105", "19800101", "031")  # allowance: yellow
CHILD = id_number("990105", "20150101", "041")  # left behind: yellow
PLAIN = [id_number("990105", f"19{60 + n}0101", f"{n}51") for n in range(4)]
ELSEWHERE = [id_number("990102", f"19{60 + n}0101", f"{n}61") for n in range(7)]
# Houses of the grid head's grid along the street at 21.55°N, 100 m apart (H7 170 m north).
STREET = {f"H{n}": (109.0950 + n * 0.001, 21.55) for n in range(1, 7)} | {"H7": (109.0975, 21.5515)}


def tier_files(folder: Path, other: tuple[float, float]) -> Path:
    """Seven households in the grid head's grid (2 red, 2 yellow, 3 green) and seven at
    ``other``, a point in a grid of another district (2 yellow, 5 green)."""
    lon, lat = other
    houses = [
        [house, f"青柳路{house[1:]}号", "", "", "", str(x), str(y), "residential", "owned"]
        for house, (x, y) in STREET.items()
    ] + [
        [f"E{n}", f"东澜路{n}号", "", "", "", str(lon), str(lat), "residential", "owned"]
        for n in range(7)
    ]
    households = [[f"F{house[1:]}", house] for house in STREET] + [
        [f"G{n}", f"E{n}"] for n in range(7)
    ]
    people = [
        [OLD, "王建国", "男", "1940-03-12", "", "F1", "户主"],
        [SEVERE, "李秀英", "女", "1970-01-01", "", "F2", "户主"],
        [POOR, "张伟", "男", "1980-01-01", "", "F3", "户主"],
        [PLAIN[0], "赵强", "男", "1960-01-01", "", "F4", "户主"],
        [CHILD, "刘小明", "男", "2015-01-01", "", "F5", "孙子女"],
        [PLAIN[1], "周平", "男", "1961-01-01", "", "F6", "户主"],
        [PLAIN[2], "吴兵", "男", "1962-01-01", "", "F7", "户主"],
    ] + [
        [number, f"陈{n}", "男", f"19{60 + n}-01-01", "", f"G{n}", "户主"]
        for n, number in enumerate(ELSEWHERE)
    ]
    tags = [
        [OLD, "living_alone", "", "", "2020-01-01", ""],
        [SEVERE, "disability", "physical", "1", "2005-01-01", ""],
        [SEVERE, "no_carer", "", "", "2020-01-01", ""],
        [POOR, "allowance", "urban", "", "2022-01-01", ""],
        [CHILD, "left_behind_child", "", "", "2023-01-01", ""],
        [ELSEWHERE[0], "allowance", "urban", "", "2022-01-01", ""],
        [ELSEWHERE[1], "chronic_illness", "diabetes", "", "2022-01-01", ""],
    ]
    return write_grassroots(
        folder, {"houses": houses, "households": households, "people": people, "tags": tags}
    )


@pytest.fixture
def tiered(session: Session, demo_generation, tmp_path: Path) -> dict[str, object]:
    """tier_files loaded (and so tiered) in the test's transaction."""
    code, lon, lat = other_grid(session)
    load = load_grassroots(
        session,
        keys=KEYS,
        folder=tier_files(tmp_path / "register", (lon, lat)),
        index=GridIndex.build(session, generation=demo_generation),
        tags=load_tags(tags_file(GEODATA)),
        today=TODAY,
        now=NOW,
        geodata_dir=GEODATA,
    )
    assert load.problems == []
    return {"other": code}


def tiers(session: Session) -> dict[str, tuple[str | None, str | None]]:
    return {
        code: (tier, rule)
        for code, tier, rule in session.execute(
            select(Household.code, Household.tier, Household.tier_rule)
        )
    }


def test_the_grassroots_load_stores_every_households_tier_and_rule(session, tiered):
    assert tiers(session) == {
        "F1": ("red", "elderly_living_alone"),
        "F2": ("red", "severe_disability_no_carer"),
        "F3": ("yellow", "allowance"),
        "F4": ("green", None),
        "F5": ("yellow", "left_behind_child"),
        "F6": ("green", None),
        "F7": ("green", None),
        "G0": ("yellow", "allowance"),
        "G1": ("yellow", "chronic_illness"),
    } | {f"G{n}": ("green", None) for n in range(2, 7)}
    assert session.scalar(select(func.min(Household.tier_at))) == NOW
    assert retier(session, today=TODAY, now=NOW, geodata_dir=GEODATA) == 0  # nothing moved


def test_an_import_retiers_the_households_it_touched_and_undo_puts_them_back(
    session, tiered, tmp_path
):
    # Civil affairs puts the man of F4 on the allowance: F4 turns yellow.
    path = allowance_list(
        tmp_path / "allowance-f4.csv",
        [["赵强", PLAIN[0], "男", "1960-01-01", "青柳路4号", "城市低保", "2026-11-01", ""]],
    )
    later = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    result = import_register(
        session, keys=KEYS, path=path, columns_path=ALLOWANCE_COLUMNS, source="民政局",
        geodata_dir=GEODATA, today=TODAY, now=later, commit=True,
    )  # fmt: skip
    assert result.batch is not None and result.plan.counts()["matched"] == 1
    assert tiers(session)["F4"] == ("yellow", "allowance")
    f4 = session.scalar(select(Household).where(Household.code == "F4"))
    assert f4 is not None and f4.tier_at == later
    assert tiers(session)["F6"] == ("green", None)

    undo_batch(session, batch_id=result.batch.id, user_id=None, now=later, geodata_dir=GEODATA)
    assert tiers(session)["F4"] == ("green", None)


def test_the_tier_moves_with_the_calendar_and_a_removed_person_no_longer_counts(session, tiered):
    # The child of F5 turns 18 one day: still left behind by the tag, the rule holds on.
    # A person removed from the register (moved away, died) stops making F1 red.
    old = session.scalar(select(Person).where(Person.id_hash == KEYS.id_hash(OLD)))
    assert old is not None
    old.removed_at = NOW
    assert retier(session, household_ids=[old.household_id], today=TODAY, now=NOW) == 1
    assert tiers(session)["F1"] == ("green", None)


def test_the_grid_heads_list_shows_red_then_yellow_with_reason_last_visit_and_due(session, tiered):
    head = user(session, "gridhead")
    f1 = session.scalar(select(Household).where(Household.code == "F1"))
    assert f1 is not None
    session.add(
        HouseholdVisit(
            household_id=f1.id, grid_code=HEAD_GRID, user_id=head.id, client_id="v-1",
            visited_at=datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
        )
    )  # fmt: skip
    session.flush()
    found = tier_list(
        session, reader=reader_of(session, head), grid_code=HEAD_GRID, today=TODAY,
        lang="en", timezone=TZ, geodata_dir=GEODATA,
    )  # fmt: skip
    assert [(e.household_code, e.tier, e.reason, e.next_due, e.overdue) for e in found] == [
        ("F2", "red", "Severe disability without a carer", date(2026, 12, 5), False),
        ("F1", "red", "Elderly person living alone", date(2026, 12, 20), False),
        ("F3", "yellow", "On the minimum living allowance", date(2026, 12, 5), False),
        ("F5", "yellow", "Left-behind child", date(2026, 12, 5), False),
    ]
    assert found[1].last_visit_at == datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    zh = tier_list(
        session, reader=reader_of(session, head), grid_code=HEAD_GRID,
        today=date(2027, 1, 1), lang="zh", timezone=TZ, geodata_dir=GEODATA,
    )  # fmt: skip
    assert [(e.reason, e.overdue) for e in zh][:2] == [
        ("重度残疾且无人照料", True),
        ("独居老人", True),
    ]


def test_the_list_is_refused_outside_the_grid_and_to_who_reads_people_only_by_tag(session, tiered):
    head = reader_of(session, user(session, "gridhead"))
    with pytest.raises(OutOfScope):
        tier_list(session, reader=head, grid_code=str(tiered["other"]), today=TODAY,
                  lang="zh", timezone=TZ)  # fmt: skip
    civil_affairs = reader_of(session, department_user(session, "MZ"))
    with pytest.raises(OutOfScope):
        tier_list(session, reader=civil_affairs, grid_code=HEAD_GRID, today=TODAY,
                  lang="zh", timezone=TZ)  # fmt: skip


def test_counts_per_grid_and_community_hide_small_numbers_from_who_may_not_see_people(
    session, tiered
):
    other = str(tiered["other"])
    operator = reader_of(session, user(session, "operator"))  # the whole city, no people
    by_grid = {c.code: c.counts for c in tier_counts(session, reader=operator, level="grid")}
    assert by_grid == {
        HEAD_GRID: {"red": None, "yellow": None, "green": None},  # 2, 2, 3: all hidden
        other: {"red": 0, "yellow": None, "green": 5},
    }
    by_community = {
        c.code: c.counts for c in tier_counts(session, reader=operator, level="community")
    }
    assert by_community["990105009003"] == {"red": None, "yellow": None, "green": None}

    head = reader_of(session, user(session, "gridhead"))  # sees the people of the grid
    assert [(c.code, c.counts) for c in tier_counts(session, reader=head, level="grid")] == [
        (HEAD_GRID, {"red": 2, "yellow": 2, "green": 3})
    ]
    assert tier_counts(session, reader=head, level="community") == []  # one grid is no community

    district = reader_of(session, user(session, "operator_nw"))  # 南湾区 only
    assert [c.code for c in tier_counts(session, reader=district, level="grid")] == [HEAD_GRID]


def test_visit_due_reminders_reach_the_grid_head_once(session, tiered):
    head = user(session, "gridhead")

    def inbox() -> list[Notification]:
        return list(
            session.scalars(
                select(Notification)
                .where(Notification.user_id == head.id, Notification.kind == "visit_due")
                .order_by(Notification.id)
            )
        )

    kwargs = {"timezone": TZ, "geodata_dir": GEODATA}
    assert remind_due_visits(session, today=date(2026, 12, 4), now=NOW, **kwargs) == 0
    assert remind_due_visits(session, today=TODAY, now=NOW, **kwargs) == 4  # never visited
    assert sorted(n.data["household_code"] for n in inbox()) == ["F1", "F2", "F3", "F5"]
    assert {n.data["due"] for n in inbox()} == {"2026-12-05"}
    assert remind_due_visits(session, today=TODAY, now=NOW, **kwargs) == 0  # re-run: nothing
    assert remind_due_visits(session, today=date(2026, 12, 31), now=NOW, **kwargs) == 0

    # F1 (red: monthly) is visited on 6 December: due again on 6 January, and reminded then.
    f1 = session.scalar(select(Household).where(Household.code == "F1"))
    assert f1 is not None
    f1.last_visit_at = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
    session.flush()
    assert remind_due_visits(session, today=date(2027, 1, 5), now=NOW, **kwargs) == 0
    assert remind_due_visits(session, today=date(2027, 1, 6), now=NOW, **kwargs) == 1
    assert remind_due_visits(session, today=date(2027, 1, 6), now=NOW, **kwargs) == 0
    last = inbox()[-1]
    assert (last.data["household_code"], last.data["due"]) == ("F1", "2027-01-06")
    assert "F1" in last.title and "2027-01-06" in last.title
    assert len(inbox()) == 5  # the yellow F3 (quarterly, never visited) once only
