"""The responsibility list: routing rules (pure) and the import's validation (database)."""

from __future__ import annotations

import pandas as pd
import pytest

from gridgov.boundaries.levels import Level
from gridgov.responsibilities.routing import Rule, assignment_from, pick_rule
from gridgov.responsibilities.service import (
    ResponsibilityListError,
    read_responsibility_file,
    replace_rules,
    route,
    rules_for,
    validate_rules,
)
from tests.conftest import GEODATA

CHAIN = {Level.CITY: "C", Level.DISTRICT: "D1", Level.STREET: "S1", Level.COMMUNITY: "N1"}
RULES = [
    Rule("0102", Level.COMMUNITY, None, "JW", 24),
    Rule("0102", Level.STREET, None, "CG", 24),
    Rule("0102", Level.STREET, "D1", "ZF", 12),
    Rule("0102", Level.STREET, "S1", "S1-GA", 2),
    Rule("0102", Level.STREET, "D2", "XX", 1),
    Rule("0102", Level.CITY, None, "CG", 72),
    Rule("0301", Level.STREET, None, "ZF", 24),
    Rule("0301", Level.CITY, None, "ZJ", 72),
]


def test_the_most_specific_area_wins():
    assert pick_rule(RULES, category_code="0102", level=Level.STREET, chain=CHAIN).department == (
        "S1-GA"
    )
    other_street = {**CHAIN, Level.STREET: "S2"}
    assert (
        pick_rule(RULES, category_code="0102", level=Level.STREET, chain=other_street).department
        == "ZF"
    )
    other_district = {**CHAIN, Level.DISTRICT: "D3", Level.STREET: "S7"}
    assert (
        pick_rule(RULES, category_code="0102", level=Level.STREET, chain=other_district).department
        == "CG"
    )


def test_no_rule_at_a_level_is_none():
    assert pick_rule(RULES, category_code="0102", level=Level.DISTRICT, chain=CHAIN) is None
    assert pick_rule(RULES, category_code="9999", level=Level.CITY, chain=CHAIN) is None


def test_assignment_starts_at_the_lowest_level_with_a_rule_and_climbs():
    first = assignment_from(RULES, category_code="0102", chain=CHAIN)
    assert (first.level, first.department, first.area_code) == (Level.COMMUNITY, "JW", "N1")
    second = assignment_from(RULES, category_code="0102", chain=CHAIN, above=Level.COMMUNITY)
    assert (second.level, second.department, second.sla_hours) == (Level.STREET, "S1-GA", 2)
    # No district rule: the street escalates straight to the city.
    third = assignment_from(RULES, category_code="0102", chain=CHAIN, above=Level.STREET)
    assert (third.level, third.department) == (Level.CITY, "CG")
    assert assignment_from(RULES, category_code="0102", chain=CHAIN, above=Level.CITY) is None
    # Construction has no community rule: it starts at the street (小循环).
    assert assignment_from(RULES, category_code="0301", chain=CHAIN).level is Level.STREET


def demo_rows():
    return read_responsibility_file(GEODATA / "demo_city" / "responsibilities.csv")


def test_demo_list_is_valid_and_routes_by_role(session, demo_generation):
    rules = validate_rules(session, demo_rows())
    assert len(rules) == len(demo_rows())
    chain = {
        Level.CITY: "990100",
        Level.DISTRICT: "990105",
        Level.STREET: "990105009",
        Level.COMMUNITY: "990105009003",
    }
    assignment, department = route(session, category_code="0102", chain=chain)
    assert department.code == "990105009003-JW"
    assignment, department = route(
        session, category_code="0102", chain=chain, above=Level.COMMUNITY
    )
    assert department.code == "990105009-CG" and assignment.sla_hours == 24
    # 东澜区 (990102) overrides exposed rubbish at the street level.
    east = {
        Level.CITY: "990100",
        Level.DISTRICT: "990102",
        Level.STREET: "990102001",
        Level.COMMUNITY: "990102001001",
    }
    assignment, department = route(session, category_code="0102", chain=east, above=Level.COMMUNITY)
    assert department.code == "990102001-ZF" and assignment.sla_hours == 12


def row(category, level, area, department, hours):
    return {
        "category_code": category,
        "level": level,
        "area_code": area,
        "department": department,
        "sla_hours": hours,
    }


def problems_of(session, rows):
    with pytest.raises(ResponsibilityListError) as refused:
        validate_rules(session, rows)
    return [(p.line, p.field) for p in refused.value.problems], str(refused.value)


def test_every_bad_row_is_named(session, demo_generation):
    rows = demo_rows()
    bad = [
        row("9999", "街道", "", "ZF", "1"),
        row("01", "街道", "", "ZF", "1"),
        row("0102", "省", "", "ZF", "1"),
        row("0102", "街道", "", "NOPE", "1"),
        row("0102", "街道", "", "ZF", "-2"),
        row("0102", "区", "990105009", "CG", "5"),
        row("0102", "街道", "nowhere", "ZF", "5"),
    ]
    found, text = problems_of(session, rows + bad)
    first = len(rows) + 2
    assert (first, "category_code") in found and "9999" in text
    assert (first + 1, "category_code") in found and "major class" in text
    assert (first + 2, "level") in found
    assert (first + 3, "department") in found and "NOPE" in text
    assert (first + 4, "sla_hours") in found
    assert (first + 5, "area_code") in found and "below" in text
    assert (first + 6, "area_code") in found


def test_a_category_without_a_city_rule_is_refused(session, demo_generation):
    rows = [r for r in demo_rows() if not (r["category_code"] == "0201" and r["level"] == "市")]
    found, text = problems_of(session, rows)
    assert (None, "level") in found and "0201" in text


def test_a_role_that_no_department_at_the_level_has_is_refused(session, demo_generation):
    # Districts have a 水务局 (SW); streets have none.
    rows = [*demo_rows(), row("0102", "街道", "990105", "SW", "3")]
    found, _ = problems_of(session, rows)
    assert (len(rows) + 1, "department") in found


def test_duplicate_rules_are_refused(session, demo_generation):
    rows = demo_rows()
    found, text = problems_of(session, [*rows, rows[0]])
    assert (None, "rule") in found and "appears 2 times" in text


def test_spreadsheet_with_chinese_headers(tmp_path, session, demo_generation):
    table = pd.read_csv(
        GEODATA / "demo_city" / "responsibilities.csv", dtype=str, keep_default_na=False
    )
    path = tmp_path / "权责清单.xlsx"
    table.to_excel(path, index=False)
    rules = validate_rules(session, read_responsibility_file(path))
    replace_rules(session, rules=rules)
    assert {r.department for r in rules_for(session, category_code="0403")} == {"YJ"}


def test_unreadable_file_names_the_file(tmp_path):
    path = tmp_path / "list.xlsx"
    path.write_bytes(b"not a spreadsheet")
    with pytest.raises(ResponsibilityListError, match=r"list\.xlsx"):
        read_responsibility_file(path)


def test_missing_columns_are_named(tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("事项编码,层级\n0102,社区\n", encoding="utf-8")
    with pytest.raises(ResponsibilityListError) as refused:
        read_responsibility_file(path)
    assert {p.field for p in refused.value.problems} == {"department", "sla_hours"}
