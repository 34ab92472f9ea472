"""Household tiers: the default rules, a rules file a city edits, bad rules files, visit
reminders, and the tiers of the demo population. No database."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

import pandas as pd
import pytest

from gridgov.register.tiers import (
    Member,
    Reason,
    Tag,
    household_tier,
    load_levels,
    load_rules,
    parse_levels,
    visit_due,
)
from gridgov.tables import RowsRefused
from tests.conftest import GEODATA

CONFIG = GEODATA / "register"
DAY = date(2026, 12, 1)


@pytest.fixture(scope="module")
def rules():
    return load_rules(CONFIG / "tiers.csv", tags_path=CONFIG / "tags.csv")


def aged(years: int, ref: str = "p", **kw) -> Member:
    return Member(ref, date(DAY.year - years, 1, 1), **kw)


def tier_of(rules, *members: Member) -> str:
    return household_tier(rules, members, on=DAY).tier


def test_elderly_living_alone_is_red_with_the_rule_and_the_member(rules):
    grandma = aged(78, "grandma", sex="female", tags=(Tag("living_alone"),))
    result = household_tier(rules, [grandma], on=DAY)
    assert result.tier == "red"
    assert result.reason == Reason("elderly_living_alone", "red", "grandma")


def test_sixty_is_elderly_and_fifty_nine_is_not(rules):
    alone = (Tag("living_alone"),)
    assert tier_of(rules, Member("a", date(1966, 12, 1), tags=alone)) == "red"  # 60 today
    assert tier_of(rules, Member("b", date(1966, 12, 2), tags=alone)) == "green"  # 59


def test_severe_disability_without_a_carer_is_red_only_when_both_hold(rules):
    def disabled(grade: int, carer: bool) -> Member:
        tags = (Tag("disability", kind="physical", grade=grade),)
        return aged(40, tags=tags if carer else (*tags, Tag("no_carer")))

    assert tier_of(rules, disabled(1, carer=False)) == "red"
    assert tier_of(rules, disabled(2, carer=False)) == "red"
    assert tier_of(rules, disabled(3, carer=False)) == "green"
    assert tier_of(rules, disabled(1, carer=True)) == "green"
    # The grade and no carer must be the same person's.
    assert tier_of(rules, disabled(1, carer=True), aged(30, "q", tags=(Tag("no_carer"),))) == (
        "green"
    )


@pytest.mark.parametrize("key", ["allowance", "chronic_illness", "left_behind_child"])
def test_yellow_tags(rules, key):
    result = household_tier(rules, [aged(40, "head"), aged(9, "kid", tags=(Tag(key),))], on=DAY)
    assert (result.tier, result.reason.rule, result.reason.member) == ("yellow", key, "kid")


def test_tags_count_only_while_valid(rules):
    ended = Tag("allowance", valid_from=date(2024, 1, 1), valid_to=date(2026, 11, 30))
    starts = Tag("allowance", valid_from=date(2026, 12, 2))
    assert tier_of(rules, aged(40, tags=(ended,))) == "green"
    assert tier_of(rules, aged(40, tags=(starts,))) == "green"
    today = Tag("allowance", valid_from=date(2024, 1, 1), valid_to=DAY)
    assert tier_of(rules, aged(40, tags=(today,))) == "yellow"


def test_red_wins_and_every_reason_is_kept_worst_first(rules):
    members = [
        aged(35, "mum", tags=(Tag("allowance"),)),
        aged(82, "granddad", tags=(Tag("living_alone"), Tag("chronic_illness"))),
    ]
    result = household_tier(rules, members, on=DAY)
    assert result.tier == "red"
    assert result.reasons == (
        Reason("elderly_living_alone", "red", "granddad"),
        Reason("allowance", "yellow", "mum"),
        Reason("chronic_illness", "yellow", "granddad"),
    )


def test_no_members_or_no_facts_is_green(rules):
    assert household_tier(rules, [], on=DAY).reason is None
    assert tier_of(rules, Member("unknown")) == "green"


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_city_edits_the_rules_file(tmp_path):
    path = write(
        tmp_path,
        "tiers.csv",
        "rule,tier,when,name_zh,name_en\n"
        'oldest_alone,red,"age ≥ 80, household.size = 1",高龄独居,Aged 80+ alone\n'
        'veteran_elderly,yellow,"tag = veteran，age >= 70",老年退役军人,Elderly veteran\n'
        'visually_impaired,yellow,"disability.kind = visual|multiple",视力残疾,Visual\n'
        'boys,yellow,"sex = male, relation = child|grandchild, age < 6",男童,Boys\n',
    )
    rules = load_rules(path, tags_path=CONFIG / "tags.csv")
    assert [r.key for r in rules] == [
        "oldest_alone",
        "veteran_elderly",
        "visually_impaired",
        "boys",
    ]
    assert tier_of(rules, aged(81)) == "red"
    assert tier_of(rules, aged(81), aged(50, "son")) == "green"
    assert tier_of(rules, aged(75, tags=(Tag("living_alone"),))) == "green"  # rule replaced
    assert tier_of(rules, aged(72, tags=(Tag("veteran"),)), aged(70, "w")) == "yellow"
    assert tier_of(rules, aged(40, tags=(Tag("disability", kind="visual", grade=4),))) == "yellow"
    assert tier_of(rules, aged(40, tags=(Tag("disability", kind="hearing", grade=4),))) == "green"
    assert tier_of(rules, aged(40), aged(3, "k", sex="male", relation="child")) == "yellow"
    assert tier_of(rules, aged(40), aged(3, "k", sex="female", relation="child")) == "green"
    assert rules[0].name("en") == "Aged 80+ alone" and rules[0].name("zh") == "高龄独居"


def test_a_new_tag_from_the_tags_file_may_be_used(tmp_path):
    tags = (CONFIG / "tags.csv").read_text(encoding="utf-8") + "dementia,认知障碍,Dementia,\n"
    rules = write(
        tmp_path, "r.csv", "rule,tier,when,name_zh\ndementia,red,tag = dementia,认知障碍\n"
    )
    loaded = load_rules(rules, tags_path=write(tmp_path, "tags.csv", tags))
    assert tier_of(loaded, aged(70, tags=(Tag("dementia"),))) == "red"
    with pytest.raises(RowsRefused, match="unknown tag dementia"):
        load_rules(rules, tags_path=CONFIG / "tags.csv")


def test_a_bad_rules_file_is_refused_with_every_problem_by_row(tmp_path):
    path = write(
        tmp_path,
        "tiers.csv",
        "rule,tier,when,name_zh\n"
        "a,orange,tag = allowance,甲\n"
        "b,red,tag = alowance,乙\n"
        "c,red,age >= sixty,丙\n"
        "d,red,sex > male,丁\n"
        "a,yellow,height > 3,戊\n"
        "f,red,,\n"
        "g,red,age 60,己\n"
        "h,red,sex = other,庚\n",
    )
    with pytest.raises(RowsRefused) as refused:
        load_rules(path, tags_path=CONFIG / "tags.csv")
    found = {(p.row, p.column) for p in refused.value.problems}
    assert found == {
        (2, "tier"), (3, "when"), (4, "when"), (5, "when"), (6, "rule"), (6, "when"),
        (7, "when"), (7, "name_zh"), (8, "when"), (9, "when"),
    }  # fmt: skip
    reasons = " | ".join(str(p) for p in refused.value.problems)
    assert "unknown tag alowance" in reasons and "whole number" in reasons
    assert "a appears twice" in reasons and "unknown subject 'height'" in reasons


def test_visits_are_due_monthly_for_red_and_quarterly_for_yellow():
    levels = load_levels(CONFIG / "tier_levels.csv")
    red, yellow, green = levels["red"], levels["yellow"], levels["green"]
    last = date(2026, 10, 31)
    assert visit_due(red, last_visit=last, assigned_on=date(2026, 1, 5)) == date(2026, 11, 30)
    assert visit_due(yellow, last_visit=last, assigned_on=date(2026, 1, 5)) == date(2027, 1, 31)
    assert visit_due(green, last_visit=last, assigned_on=date(2026, 1, 5)) is None
    assert visit_due(red, last_visit=None, assigned_on=date(2026, 11, 20)) == date(2026, 11, 20)


def test_a_city_sets_its_own_intervals_and_a_bad_levels_file_is_refused():
    rows = [
        {"tier": "red", "colour": "#ff0000", "visit_every_months": "2"},
        {"tier": "yellow", "colour": "#ffff00", "visit_every_months": "6"},
        {"tier": "green", "colour": "#00ff00", "visit_every_months": "12"},
    ]
    levels = parse_levels(rows)
    assert visit_due(levels["green"], last_visit=date(2026, 2, 1), assigned_on=DAY) == date(
        2027, 2, 1
    )
    bad = [
        {"tier": "red", "colour": "red", "visit_every_months": "0"},
        {"tier": "red", "colour": "#ffff00", "visit_every_months": "x"},
    ]
    with pytest.raises(RowsRefused) as refused:
        parse_levels(bad)
    found = {(p.row, p.column) for p in refused.value.problems}
    assert found == {(2, "colour"), (2, "visit_every_months"), (3, "tier"),
                     (3, "visit_every_months"), (1, "tier")}  # fmt: skip


def demo_households() -> dict[str, list[Member]]:
    """The demo register's households as the rules see them."""
    folder = GEODATA / "demo_city" / "register"
    people = pd.read_csv(folder / "people.csv", dtype=str, keep_default_na=False)
    tags = pd.read_csv(folder / "tags.csv", dtype=str, keep_default_na=False)
    tags_of = defaultdict(list)
    for row in tags.itertuples():
        tags_of[row.id_number].append(
            Tag(
                row.tag,
                kind=row.kind,
                grade=int(row.grade) if row.grade else None,
                valid_from=date.fromisoformat(row.valid_from) if row.valid_from else None,
                valid_to=date.fromisoformat(row.valid_to) if row.valid_to else None,
            )
        )
    households = defaultdict(list)
    for p in people.itertuples():
        member = Member(p.id_number, date.fromisoformat(p.birth_date), p.sex, p.relation,
                        tuple(tags_of[p.id_number]))  # fmt: skip
        households[p.household_code].append(member)
    return households


def test_the_demo_population_has_every_tier_for_a_reason(rules):
    households = demo_households()
    results = {code: household_tier(rules, members, on=DAY) for code, members in households.items()}
    counts = Counter(r.tier for r in results.values())
    assert sum(counts.values()) == 20_000
    # Roughly one household in ten red (elderly alone), one in five yellow; most green.
    assert 0.05 < counts["red"] / 20_000 < 0.15
    assert 0.10 < counts["yellow"] / 20_000 < 0.30
    assert counts["green"] > counts["red"] + counts["yellow"]
    by_rule = Counter(r.reason.rule for r in results.values() if r.reason)
    assert set(by_rule) == {
        "elderly_living_alone", "severe_disability_no_carer", "allowance", "chronic_illness",
        "left_behind_child",
    }  # fmt: skip
    for code, result in results.items():
        if result.reason:
            members = {m.ref for m in households[code]}
            assert result.reason.member in members
