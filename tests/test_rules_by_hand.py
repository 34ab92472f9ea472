"""The pure rule modules at their edges: a threshold itself, a gap of exactly the limit, a
run carried from one batch to the next (no database; the mutation check runs these)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from gridgov.boundaries.levels import Level
from gridgov.errors import FieldError
from gridgov.incidents.lifecycle import TransitionNotAllowed, transition
from gridgov.responsibilities.routing import Rule, assignment_from, pick_rule
from gridgov.sensors.rules import (
    EVIDENCE,
    RuleSpec,
    RunState,
    Sample,
    advance,
    breached,
    calm,
    calm_between,
    replay,
)
from gridgov.supplies.planning import Candidate, Plan, parse_demand, plan_supplies, running_totals

T0 = datetime(2026, 1, 1)


def at(minutes: float, value: float) -> Sample:
    return Sample(T0 + timedelta(minutes=minutes), value)


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        (RuleSpec("above", high=10.0), 10.0, False),  # the threshold itself is fine
        (RuleSpec("above", high=10.0), 10.01, True),
        (RuleSpec("below", low=4.0), 4.0, False),
        (RuleSpec("below", low=4.0), 3.99, True),
        (RuleSpec("outside", low=6.5, high=8.5), 6.5, False),
        (RuleSpec("outside", low=6.5, high=8.5), 8.5, False),
        (RuleSpec("outside", low=6.5, high=8.5), 8.51, True),
        (RuleSpec("outside", low=6.5, high=8.5), 6.49, True),
        (RuleSpec("outside", low=6.5), 100.0, False),  # no upper bound
        (RuleSpec("outside", high=8.5), -100.0, False),  # no lower bound
    ],
)
def test_thresholds_are_exclusive(rule, value, expected):
    assert breached(rule, at(0, value), None) is expected
    assert calm_between(rule, value, value) is not expected


@pytest.mark.parametrize(
    ("minutes", "change", "expected"),
    [
        (1.0, 2.0, False),  # exactly the limit, 2 per minute
        (1.0, 2.1, True),
        (0.5, 1.1, True),  # 2.2 per minute over half a minute
        (2.0, 4.0, False),  # per minute, not per reading
        (2.0, -4.2, True),  # a fall counts like a rise
        (0.0, 9.0, False),  # two readings at one time: no rate
    ],
)
def test_rates_are_per_minute_and_exclusive(minutes, change, expected):
    rule = RuleSpec("rate", max_rate_per_minute=2.0)
    assert breached(rule, at(minutes, 10.0 + change), at(0, 10.0)) is expected
    assert breached(rule, at(minutes, 10.0 + change), None) is False
    assert calm_between(rule, 10.0, 10.0) is False  # a rate depends on the order


def test_an_unknown_condition_is_named():
    with pytest.raises(ValueError, match="'sideways'"):
        breached(RuleSpec("sideways"), at(0, 1.0), None)


def test_calm_is_only_for_a_series_with_nothing_under_way():
    rule = RuleSpec("above", high=10.0)
    fine = [at(0, 4.0), at(1, 5.0)]
    assert calm(rule, fine, RunState()) is True
    assert calm(rule, fine, RunState(is_open=True)) is False
    assert calm(rule, fine, RunState(run_length=1)) is False
    assert calm(rule, [], RunState()) is False
    assert calm(rule, [at(0, 4.0), at(1, 11.0)], RunState()) is False


def test_a_calm_batch_keeps_its_latest_reading():
    rule = RuleSpec("rate", max_rate_per_minute=2.0)
    latest = at(5, 4.0)
    _, state = advance(RuleSpec("above", high=10.0), [latest, at(1, 5.0)], RunState())
    assert state == RunState(previous=latest)
    # The next batch's rate is judged against it.
    out, _ = advance(rule, [at(6, 7.0)], state)
    assert [t.kind for t in out] == ["open"]


def test_a_run_goes_on_from_one_batch_to_the_next():
    rule = RuleSpec("above", high=10.0, sustain_count=3, sustain_minutes=2)
    out, state = advance(rule, [at(0, 11.0), at(1, 12.0)], RunState())
    assert out == []
    assert (state.is_open, state.run_length, state.run_started) == (False, 2, T0)
    assert state.run == (at(0, 11.0), at(1, 12.0)) and state.previous == at(1, 12.0)
    assert state.fine_since is None
    out, state = advance(rule, [at(2, 13.0)], state)
    assert [(t.kind, t.at, t.samples) for t in out] == [
        ("open", T0 + timedelta(minutes=2), (at(0, 11.0), at(1, 12.0), at(2, 13.0)))
    ]
    assert state.is_open and state.run_length == 3
    # Fine readings start the clock towards clearing; it carries over too.
    rule_clear = RuleSpec("above", high=10.0, clear_minutes=5)
    out, state = advance(rule_clear, [at(3, 5.0)], state)
    assert out == [] and state.is_open and state.fine_since == T0 + timedelta(minutes=3)
    assert (state.run, state.run_length, state.run_started) == ((), 0, None)
    out, state = advance(rule_clear, [at(8, 5.0)], state)
    assert [(t.kind, t.samples) for t in out] == [("clear", (at(8, 5.0),))]
    assert state.is_open is False and state.fine_since is None


def test_readings_are_taken_in_time_order():
    rule = RuleSpec("above", high=10.0, sustain_count=2, sustain_minutes=1)
    out, state = advance(rule, [at(2, 12.0), at(0, 4.0), at(1, 11.0)], RunState())
    assert [(t.kind, t.at) for t in out] == [("open", T0 + timedelta(minutes=2))]
    assert state.previous == at(2, 12.0)


def test_a_silence_of_exactly_the_gap_keeps_the_run():
    rule = RuleSpec("above", high=10.0, sustain_count=2, max_gap_minutes=10)
    assert [t.kind for t in replay(rule, [at(0, 11), at(10, 11)], open_at_start=False)] == ["open"]
    assert replay(rule, [at(0, 11), at(10.5, 11)], open_at_start=False) == []
    # After a break the run starts again from one: two more readings are needed.
    broken = [at(0, 11), at(11, 11), at(12, 11)]
    assert [t.at for t in replay(rule, broken, open_at_start=False)] == [T0 + timedelta(minutes=12)]


def test_an_alert_open_at_the_start_only_clears():
    rule = RuleSpec("above", high=10.0)
    assert [t.kind for t in replay(rule, [at(0, 4.0)], open_at_start=True)] == ["clear"]
    assert replay(rule, [at(0, 4.0)], open_at_start=False) == []


def test_the_evidence_is_the_last_twenty_readings():
    rule = RuleSpec("above", high=10.0, sustain_count=EVIDENCE + 5)
    series = [at(m, 11.0 + m) for m in range(EVIDENCE + 5)]
    [opened] = replay(rule, series, open_at_start=False)
    assert EVIDENCE == 20 and opened.samples == tuple(series[-20:])


def test_a_refused_move_says_what_and_from_where():
    with pytest.raises(TransitionNotAllowed, match="cannot accept an incident that is closed"):
        transition("closed", "accept")


CHAIN = {Level.CITY: "C", Level.DISTRICT: "D1", Level.STREET: "S1", Level.COMMUNITY: "K1"}


def test_the_deepest_area_wins_and_the_first_of_equals_stays():
    street = Level.STREET
    rules = [
        Rule("01", street, None, "city-wide", 48),
        Rule("01", street, "S1", "own street", 12),
        Rule("01", street, "S1", "same street again", 6),
        Rule("01", street, "D1", "district", 24),
        Rule("01", street, "S9", "another street", 1),  # not this incident's
        Rule("02", street, "S1", "another category", 1),
    ]
    picked = pick_rule(rules, category_code="01", level=street, chain=CHAIN)
    assert picked is not None and picked.department == "own street"
    # A rule for an area that is not in the chain is skipped, not the end of the search.
    later = [Rule("01", street, "S9", "elsewhere", 1), Rule("01", street, None, "city-wide", 48)]
    picked = pick_rule(later, category_code="01", level=street, chain=CHAIN)
    assert picked is not None and picked.department == "city-wide"
    assert pick_rule(later[:1], category_code="01", level=street, chain=CHAIN) is None


def test_an_assignment_carries_the_rule_it_came_from():
    rule = Rule("01", Level.DISTRICT, "D1", "CG", 24)
    got = assignment_from([rule], category_code="01", chain=CHAIN)
    assert got is not None and got.rule is rule
    assert (got.level, got.department, got.area_code, got.sla_hours) == (
        Level.DISTRICT, "CG", "D1", 24
    )  # fmt: skip
    assert assignment_from([rule], category_code="01", chain=CHAIN, above=Level.DISTRICT) is None


@pytest.mark.parametrize(
    ("values", "quantity", "field", "key", "params"),
    [
        ([], None, "item", "supplies.item_required", {}),
        (["tent:five"], None, "item", "supplies.item_format", {"value": "tent:five"}),
        (["帐篷:5"], None, "item", "supplies.item_format", {"value": "帐篷:5"}),
        (["tent:5x"], None, "item", "supplies.item_format", {"value": "tent:5x"}),
        (["tent"], None, "quantity", "supplies.quantity_required", {"item": "tent"}),
        (["tent:0"], None, "quantity", "supplies.quantity_positive", {"item": "tent"}),
        (["tent"], 0, "quantity", "supplies.quantity_positive", {"item": "tent"}),
        (["tent:1", "TENT:2"], None, "item", "supplies.item_twice", {"item": "tent"}),
    ],
)
def test_a_bad_demand_names_the_field_and_the_reason(values, quantity, field, key, params):
    with pytest.raises(FieldError) as refused:
        parse_demand(values, quantity)
    assert (refused.value.field, refused.value.key, refused.value.params) == (field, key, params)


def test_a_demand_is_read_case_blind_with_a_quantity_for_bare_items():
    assert parse_demand([" Tent:5 ", "water"], quantity=7) == {"tent": 5, "water": 7}
    assert parse_demand(["first_aid_kit:1"]) == {"first_aid_kit": 1}


def test_running_totals_reach_the_demand_exactly_and_break_ties_by_id():
    far, near_b, near_a = (Candidate(3, 50.0, {"a": 4}), Candidate(2, 10.0, {"a": 3}),
                           Candidate(1, 10.0, {"b": 9}))  # fmt: skip
    rows, covered_at = running_totals([far, near_b, near_a], "a", 7)
    assert [(c.stockpile_id, total) for c, total in rows] == [(1, 0), (2, 3), (3, 7)]
    assert covered_at == 2  # 7 reaches 7: covered there, not one later
    assert running_totals([far, near_b, near_a], "a", 3)[1] == 1
    assert running_totals([far], "a", 5)[1] is None


def test_a_plan_prefers_whole_items_then_the_larger_share_then_the_nearer():
    demand = {"tent": 10, "water": 100}
    near_half = Candidate(1, 100.0, {"tent": 5, "water": 50})  # no item whole, share 1.0
    far_tents = Candidate(2, 900.0, {"tent": 10})  # tents whole, share 1.0
    plan = plan_supplies([near_half, far_tents], demand)
    # The whole tents first; then the near one for the water it can give (50 of 100).
    assert [(p.candidate.stockpile_id, p.take) for p in plan.picks] == [
        (1, {"water": 50}),
        (2, {"tent": 10}),
    ]
    assert plan.shortfall == {"water": 50} and not plan.covered
    # Equal gains: the nearer goes first, and the farther is not needed.
    twin_far, twin_near = Candidate(5, 300.0, {"tent": 10}), Candidate(6, 200.0, {"tent": 10})
    plan = plan_supplies([twin_far, twin_near], {"tent": 10})
    assert [p.candidate.stockpile_id for p in plan.picks] == [6] and plan.covered
    # A larger share wins over a nearer smaller one when nothing is whole.
    small_near, big_far = Candidate(7, 10.0, {"tent": 2}), Candidate(8, 20.0, {"tent": 6})
    plan = plan_supplies([small_near, big_far], {"tent": 10})
    assert [(p.candidate.stockpile_id, p.take) for p in plan.picks] == [
        (7, {"tent": 2}),
        (8, {"tent": 6}),
    ]
    assert plan.shortfall == {"tent": 2}


def test_a_plan_ignores_nothing_wanted_and_stockpiles_with_nothing_useful():
    useless = Candidate(1, 1.0, {"rope": 50})
    plan = plan_supplies([useless], {"tent": 3, "water": 0})
    assert plan.picks == [] and plan.shortfall == {"tent": 3}
    assert plan_supplies([useless], {"tent": 0}) == Plan()


def test_the_share_is_a_fraction_of_each_items_demand():
    # Tents 10 and water 1,000 wanted. Z gives half of each (share 1.0) and goes first; X
    # (tents) and Y (water) then each cover one item whole with a share of 0.5: the nearer,
    # X, goes next. Counting water by the litre instead of by its share would start with Y.
    x, y = Candidate(1, 100.0, {"tent": 6}), Candidate(2, 200.0, {"water": 600})
    z = Candidate(3, 300.0, {"tent": 5, "water": 500})
    plan = plan_supplies([x, y, z], {"tent": 10, "water": 1000})
    assert [(p.candidate.stockpile_id, p.take) for p in plan.picks] == [
        (1, {"tent": 5}),
        (2, {"water": 500}),
        (3, {"tent": 5, "water": 500}),
    ]


def test_an_item_a_stockpile_lacks_covers_nothing():
    # A has all the water but no tent; B has the tent and most of the water. B covers one
    # item whole with the larger share and goes first; A tops up the water.
    a, b = Candidate(1, 100.0, {"water": 10}), Candidate(2, 900.0, {"tent": 1, "water": 9})
    plan = plan_supplies([a, b], {"tent": 1, "water": 10})
    assert [(p.candidate.stockpile_id, p.take) for p in plan.picks] == [
        (1, {"water": 1}),
        (2, {"tent": 1, "water": 9}),
    ]


def test_a_demand_of_one_is_planned():
    plan = plan_supplies([Candidate(1, 1.0, {"tent": 1})], {"tent": 1})
    assert [p.take for p in plan.picks] == [{"tent": 1}] and plan.covered
