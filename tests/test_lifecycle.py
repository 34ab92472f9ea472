"""The transition table, on every (status, move) pair (no database)."""

from __future__ import annotations

import itertools

import pytest

from gridgov.incidents.lifecycle import (
    TRANSITIONS,
    Move,
    Status,
    TransitionNotAllowed,
    moves_from,
    transition,
)

EXPECTED = {
    ("reported", "dispatch"): "dispatched",
    ("rejected", "dispatch"): "dispatched",
    ("dispatched", "dispatch"): "dispatched",
    ("dispatched", "accept"): "accepted",
    ("dispatched", "reject"): "rejected",
    ("accepted", "resolve"): "resolved",
    ("resolved", "close"): "closed",
    ("resolved", "reopen"): "dispatched",
    ("reported", "escalate"): "dispatched",
    ("dispatched", "escalate"): "dispatched",
    ("accepted", "escalate"): "dispatched",
    ("rejected", "escalate"): "dispatched",
    ("dispatched", "whistle"): "dispatched",
    ("accepted", "whistle"): "accepted",
    ("dispatched", "check_in"): "dispatched",
    ("accepted", "check_in"): "accepted",
    ("resolved", "check_in"): "resolved",
}


@pytest.mark.parametrize(("status", "move"), list(itertools.product(Status, Move)))
def test_every_pair(status, move):
    expected = EXPECTED.get((status.value, move.value))
    if expected is None:
        with pytest.raises(TransitionNotAllowed) as refused:
            transition(status, move)
        assert refused.value.status is status and refused.value.move is move
    else:
        assert transition(status, move) is Status(expected)


def test_the_table_is_exactly_the_documented_one():
    assert {(s.value, m.value): n.value for (s, m), n in TRANSITIONS.items()} == EXPECTED


def test_closed_is_final():
    assert moves_from("closed") == []


def test_moves_from_lists_the_buttons():
    assert set(moves_from("dispatched")) == {
        Move.DISPATCH,
        Move.ACCEPT,
        Move.REJECT,
        Move.ESCALATE,
        Move.WHISTLE,
        Move.CHECK_IN,
    }


def test_unknown_status_or_move_is_an_error():
    with pytest.raises(ValueError):
        transition("lost", "accept")
    with pytest.raises(ValueError):
        transition("dispatched", "ignore")
