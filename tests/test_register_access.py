"""The register's read table, row by row, and as docs/PRIVACY.md shows it."""

from __future__ import annotations

import pytest

from gridgov.config import PROJECT_ROOT
from gridgov.register.access import (
    AGGREGATES,
    ID_NUMBER,
    PEOPLE,
    PHONE,
    PLACES,
    READ_TABLE,
    Reach,
    Reader,
    Where,
    may_read,
    reach_of,
)

PRIVACY = PROJECT_ROOT / "docs" / "PRIVACY.md"
HERE = Where("G1", frozenset({"C", "D1", "S1", "M1"}))  # grid G1 in community M1 of D1
NEXT_DOOR = Where("G9", frozenset({"C", "D2", "S9", "M9"}))
TAGS = ("living_alone", "disability", "allowance", "left_behind_child", "veteran",
        "rental_tenant", "special_care", "chronic_illness", "no_carer")  # fmt: skip
WHATS = (PEOPLE, ID_NUMBER, PHONE, PLACES, AGGREGATES, *(f"tag:{t}" for t in TAGS))
READERS = ("admin", "operator", "emergency", "grid_head", "handler", "handler:MZ",
           "handler:CL", "handler:GA", "handler:SJ", "handler:ZF")  # fmt: skip


def reader(name: str, area: str = "D1") -> Reader:
    """A reader of that table name standing in grid G1 / area ``area``."""
    role, _, kind = name.partition(":")
    return Reader(1, role, kind or None, area_code=area, grid_code="G1")


def _carried(what: str) -> list[str]:
    """Tags a person must carry for a TAGGED row to hold: one this reader reads."""
    return [what.removeprefix("tag:")] if what.startswith("tag:") else list(TAGS)


@pytest.mark.parametrize(("name", "what", "reach"), READ_TABLE, ids=lambda v: str(v))
def test_each_row_holds_within_its_reach_and_not_beyond(name, what, reach):
    inside = reader(name)
    assert reach_of(inside, what) is reach
    if reach is Reach.CITY:
        assert may_read(inside, what, NEXT_DOOR, TAGS)
        assert may_read(inside, what, Where(), TAGS)  # a record in no grid: the whole city's
    elif reach is Reach.GRID:
        assert may_read(inside, what, HERE, TAGS)
        assert not may_read(inside, what, NEXT_DOOR, TAGS)
        assert not may_read(reader(name, area="C"), what, Where("G2", HERE.area_codes), TAGS)
    elif reach is Reach.AREA:
        assert may_read(inside, what, HERE, TAGS)
        assert may_read(reader(name, area="C"), what, NEXT_DOOR, TAGS)  # a city department
        assert not may_read(inside, what, NEXT_DOOR, TAGS)
    else:  # TAGGED: only people carrying a tag the reader reads there
        assert may_read(inside, what, HERE, TAGS)
        assert not may_read(inside, what, HERE, ["veteran"])
        assert not may_read(inside, what, NEXT_DOOR, TAGS)


def test_every_pair_absent_from_the_table_is_refused():
    listed = {(name, what) for name, what, _ in READ_TABLE}
    for name in READERS:
        for what in WHATS:
            exact = (name, what) in listed or (
                what.startswith("tag:") and (name, "tag:*") in listed
            )
            generic = ":" in name and (name.split(":")[0], what) in listed
            if not (exact or generic):
                assert reach_of(reader(name), what) is None, (name, what)
                assert not may_read(reader(name), what, HERE, TAGS), (name, what)


def test_the_examples_of_the_issue():
    mz, head = reader("handler:MZ", area="C"), reader("grid_head")
    assert may_read(mz, "tag:allowance", NEXT_DOOR)  # civil affairs: allowance city-wide
    assert may_read(head, PEOPLE, HERE) and not may_read(head, PEOPLE, NEXT_DOOR)
    assert not any(may_read(reader("handler:ZF"), w, HERE, TAGS) for w in WHATS)
    operator = reader("operator", area="C")
    assert may_read(operator, AGGREGATES, HERE) and not may_read(operator, PEOPLE, HERE, TAGS)
    assert not may_read(head, ID_NUMBER, HERE)  # masked for grid heads
    assert not may_read(mz, "tag:disability", HERE)


def documented_table() -> set[tuple[str, str, str]]:
    text = PRIVACY.read_text()
    table = text.split("<!-- read-table:start -->")[1].split("<!-- read-table:end -->")[0]
    rows = [
        [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        for line in table.strip().splitlines()[2:]
    ]
    return {(reader_, what, reach) for reader_, what, reach, *_ in rows}


def test_privacy_md_shows_the_table_in_force():
    assert documented_table() == {(n, w, r.value) for n, w, r in READ_TABLE}
