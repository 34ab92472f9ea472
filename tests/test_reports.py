"""Indicators over the database, and templates filled from them (帮我填)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gridgov.reports.definitions import Condition, DefinitionError, parse
from gridgov.reports.indicators import (
    SUPPRESSED,
    IndicatorError,
    checked,
    figure,
    figures_by_place,
    find_place,
    month_period,
    sub_places,
)
from gridgov.reports.rows import shift_formula
from tests.reports import HOME, NOW, OTHER, STREET, plant

# -- the grammar, without a database ------------------------------------------------------


def test_every_form_of_definition_parses():
    assert parse("count(incident)").conditions == ()
    both = parse("count(person, tag = disability, grade <= 2)")
    assert both.source == "person"
    assert both.conditions == (
        Condition("tag", "=", ("disability",)),
        Condition("grade", "<=", ("2",)),
    )
    assert parse("count(incident, category = 0601|0602)").conditions[0].values == ("0601", "0602")
    assert parse("count(household, any member tag = allowance)").conditions[0].field == (
        "any member tag"
    )
    assert parse("mean(incident.rating)").measure == "rating"
    distinct = parse("count(distinct visit.unit)")
    assert distinct.distinct and distinct.source == "visit" and distinct.measure == "unit"
    assert not parse("count(distinctive)").distinct


@pytest.mark.parametrize(
    "text", ["count incident", "count(incident,)", "total(incident)", "count(incident, = 3)", ""]
)
def test_a_broken_definition_is_refused_with_where(text):
    with pytest.raises(DefinitionError):
        parse(text)


def test_unknown_sources_and_fields_name_the_closest():
    with pytest.raises(IndicatorError) as unknown:
        checked("count(incidnet)")
    assert unknown.value.key == "reports.unknown_source"
    assert unknown.value.suggested[0] == "incident"
    with pytest.raises(IndicatorError) as field:
        checked("count(incident, stauts = closed)")
    assert field.value.key == "reports.unknown_field" and "status" in field.value.suggested
    with pytest.raises(IndicatorError) as register:
        checked("count(person, age >= 80)")
    assert register.value.key == "reports.source_unavailable"


def test_formulas_follow_inserted_rows():
    assert shift_formula("=SUM(C5:C5)", after=5, by=2) == "=SUM(C5:C7)"
    assert shift_formula("=SUM(C4:C9)", after=5, by=2) == "=SUM(C4:C11)"
    assert shift_formula("=C3*2", after=5, by=2) == "=C3*2"
    assert shift_formula('="C9"&C9', after=5, by=2) == '="C9"&C11'


# -- figures from the database ------------------------------------------------------------


def november():
    return month_period("2026-11", timezone="Asia/Shanghai", now=NOW)


def test_a_month_that_has_not_begun_is_refused():
    with pytest.raises(Exception) as future:
        month_period("2027-01", timezone="Asia/Shanghai", now=NOW)
    assert future.value.key == "reports.period_in_future"
    with pytest.raises(Exception) as bad:
        month_period("2026-13", timezone="Asia/Shanghai", now=NOW)
    assert bad.value.key == "reports.bad_period"


def test_incident_figures_for_a_community_a_street_and_a_grid(session):
    plant(session, HOME, "0102", to="closed", rating=4)
    plant(session, HOME, "0102", to="closed", rating=2, resolve_after_h=100)  # late
    plant(session, HOME, "0601", to="resolved")
    plant(session, HOME, "0101")  # still dispatched
    plant(session, OTHER, "0102", to="accepted")
    plant(session, HOME, "0102", at=datetime(2026, 10, 20, tzinfo=UTC))  # October: not counted
    period = november()
    home, street = find_place(session, code=HOME), find_place(session, code=STREET)

    def at(place, definition):
        return figure(session, definition=checked(definition), place=place, period=period)

    assert at(home, "count(incident)") == 4
    assert at(street, "count(incident)") == 5
    assert at(home, "count(incident, status = closed)") == 2
    assert at(home, "count(incident, category = 01)") == 3  # the class holds 0101 and 0102
    assert at(home, "count(incident, category = 0601)") == 1
    assert at(home, "count(incident, resolved within deadline)") == 2
    assert at(home, "mean(incident.rating)") == 3.0
    assert at(street, "count(incident, status != closed)") == 3
    grid = find_place(session, code=plant(session, HOME, "0103").grid_code)
    assert at(grid, "count(incident, category = 0103)") == 1
    by_place = figures_by_place(
        session,
        definition=checked("count(incident)"),
        places=sub_places(session, street),
        period=period,
    )
    assert by_place[HOME] == 5 and by_place[OTHER] == 1
    assert sum(v for v in by_place.values()) == 6


def test_small_counts_of_people_are_suppressed_unless_the_caller_may_see_them():
    from gridgov.reports.indicators import _shaped

    count = parse("count(incident)")
    assert _shaped(3, count, True, False) is SUPPRESSED
    assert _shaped(3, count, True, True) == 3
    assert _shaped(0, count, True, False) == 0  # nobody is no one's secret
    assert _shaped(3, count, False, False) == 3
