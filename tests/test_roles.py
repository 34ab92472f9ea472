"""The role table, row by row: every (role, action) pair, in scope and out of scope."""

from __future__ import annotations

import itertools

import pytest

from gridgov.users.roles import PERMISSIONS, Action, Actor, Role, Scope, Target, allowed, scopes_for

ACTORS = {
    Role.ADMIN: Actor(user_id=1, role=Role.ADMIN),
    Role.OPERATOR: Actor(user_id=2, role=Role.OPERATOR, area_code="D1"),
    Role.HANDLER: Actor(user_id=3, role=Role.HANDLER, department_code="DEP"),
    Role.GRID_HEAD: Actor(user_id=4, role=Role.GRID_HEAD, grid_code="G1"),
    Role.EMERGENCY: Actor(user_id=5, role=Role.EMERGENCY, area_code="D1"),
}
# A target inside every scope of every actor above, and one outside all of them.
INSIDE = Target(
    area_codes=frozenset({"C", "D1", "S1", "N1"}),
    department_code="DEP",
    summoned=frozenset({"DEP"}),
    grid_code="G1",
    reporter_id=4,
)
OUTSIDE = Target(
    area_codes=frozenset({"C", "D2", "S9", "N9"}),
    department_code="OTHER",
    summoned=frozenset({"OTHER"}),
    grid_code="G9",
    reporter_id=99,
)
# One target per scope: inside that scope only.
ONLY = {
    Scope.AREA: Target(area_codes=frozenset({"C", "D1"})),
    Scope.DEPARTMENT: Target(department_code="DEP"),
    Scope.SUMMONED: Target(summoned=frozenset({"DEP"})),
    Scope.GRID: Target(grid_code="G1"),
    Scope.OWN: Target(reporter_id=4),
}

EXPECTED_ROWS = {
    Role.OPERATOR: {
        Action.REPORT: {Scope.ANY}, Action.READ: {Scope.AREA}, Action.DISPATCH: {Scope.AREA},
        Action.CLOSE: {Scope.AREA}, Action.REOPEN: {Scope.AREA}, Action.WHISTLE: {Scope.AREA},
        Action.EVALUATE: {Scope.ANY}, Action.RATE_DEPARTMENT: {Scope.AREA},
        Action.SEARCH_SUPPLIES: {Scope.ANY}, Action.RESERVE: {Scope.AREA},
        Action.INGEST: {Scope.OWN, Scope.AREA}, Action.FENCES: {Scope.ANY},
        Action.REGISTER_VISIT: {Scope.ANY}, Action.REGISTER: {Scope.AREA},
    },
    Role.HANDLER: {
        Action.READ: {Scope.DEPARTMENT, Scope.SUMMONED}, Action.ACCEPT: {Scope.DEPARTMENT},
        Action.REJECT: {Scope.DEPARTMENT}, Action.RESOLVE: {Scope.DEPARTMENT},
        Action.WHISTLE: {Scope.DEPARTMENT}, Action.CHECK_IN: {Scope.SUMMONED},
        Action.EVALUATE: {Scope.ANY}, Action.SEARCH_SUPPLIES: {Scope.ANY},
        Action.REGISTER_VISIT: {Scope.ANY}, Action.REGISTER: {Scope.DEPARTMENT},
        Action.REGISTER_IMPORT: {Scope.DEPARTMENT},
    },
    Role.GRID_HEAD: {
        Action.REPORT: {Scope.ANY}, Action.READ: {Scope.OWN, Scope.GRID},
        Action.CLOSE: {Scope.OWN}, Action.REOPEN: {Scope.OWN}, Action.RATE: {Scope.OWN},
        Action.EVALUATE: {Scope.ANY}, Action.REGISTER: {Scope.GRID},
        Action.PATROL: {Scope.OWN},
    },
    Role.EMERGENCY: {
        Action.REPORT: {Scope.ANY}, Action.READ: {Scope.AREA}, Action.EVALUATE: {Scope.ANY},
        Action.SEARCH_SUPPLIES: {Scope.ANY}, Action.RESERVE: {Scope.AREA},
        Action.REGISTER: {Scope.AREA},
    },
    Role.ADMIN: {action: {Scope.ANY} for action in Action},
}  # fmt: skip


def test_table_is_the_documented_one():
    table = {(role, action): set(scopes) for (role, action), scopes in PERMISSIONS.items()}
    expected = {
        (role, action): scopes
        for role, rows in EXPECTED_ROWS.items()
        for action, scopes in rows.items()
    }
    assert table == expected


@pytest.mark.parametrize(("role", "action"), list(itertools.product(Role, Action)))
def test_every_role_and_action(role, action):
    actor = ACTORS[role]
    scopes = scopes_for(role, action)
    if not scopes:
        # Refused everywhere, even on a target inside every scope.
        assert not allowed(actor, action)
        assert not allowed(actor, action, INSIDE)
        return
    assert allowed(actor, action)
    assert allowed(actor, action, INSIDE)
    assert allowed(actor, action, OUTSIDE) == (Scope.ANY in scopes)
    for scope, target in ONLY.items():
        if scope is Scope.OWN:  # the actor's own report (or tracker)
            target = Target(reporter_id=actor.user_id)
        if Scope.ANY in scopes:
            assert allowed(actor, action, target)
        else:
            assert allowed(actor, action, target) == (scope in scopes), scope


def test_a_scope_without_its_value_never_matches():
    lost = Actor(user_id=9, role=Role.OPERATOR, area_code=None)
    assert not allowed(lost, Action.READ, INSIDE)
    handler = Actor(user_id=9, role=Role.HANDLER, department_code=None)
    assert not allowed(handler, Action.ACCEPT, Target(department_code=None))
