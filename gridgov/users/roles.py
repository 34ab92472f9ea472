"""What each role may read and do: one table, checked by one pure function.

Every permission is a (role, action) row naming the scopes in which it holds; any one of
them suffices. Rows absent from the table are refused. The table is asked about the very
thing acted on (an incident, a stockpile, a sensor, a tracker, a department named in a
move), never only about the role: an area scope reaches the user's area and everything
below it, nothing beside it. A thing outside the caller's scope is refused with 403 whether
it is read or acted on (ids are sequential and codes are listed, so a 404 would hide
nothing); 404 only when it does not exist. docs/SECURITY.md has the operation-by-operation
table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """A user's role; its scope is an area, a department or a grid."""

    ADMIN = "admin"
    OPERATOR = "operator"  # command centre, scoped to a city or district (area_code)
    HANDLER = "handler"  # one department (department_code)
    GRID_HEAD = "grid_head"  # one grid (grid_code)
    EMERGENCY = "emergency"  # emergency team, scoped to an area (area_code)


class Action(StrEnum):
    """Things a user can try to do."""

    REPORT = "report"
    READ = "read"
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    REJECT = "reject"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    RATE = "rate"
    WHISTLE = "whistle"
    CHECK_IN = "check_in"
    EVALUATE = "evaluate"  # read the department scorecards
    RATE_DEPARTMENT = "rate_department"  # a street rates the departments that served it
    MANAGE = "manage"  # users, boundaries, reference data
    SEARCH_SUPPLIES = "search_supplies"  # find stockpiles and coverage
    RESERVE = "reserve"  # reserve, release and fulfil stock
    INGEST = "ingest"  # post sensor readings and tracker positions
    FENCES = "fences"  # define fences, trackers and sensors; read alerts
    REGISTER_VISIT = "register_visit"  # register a unit's visit to communities (调研报备)
    REGISTER = "register"  # read the register (what and where: register/access.py's table)
    REGISTER_IMPORT = "register_import"  # import a department's list into the register
    PATROL = "patrol"  # register one's own phone as a patrol tracker and post its positions


class Scope(StrEnum):
    """Where a permission holds."""

    ANY = "any"
    AREA = "area"  # the target lies in the user's area
    DEPARTMENT = "department"  # the target is assigned to the user's department
    SUMMONED = "summoned"  # the user's department was whistled in on the target
    GRID = "grid"  # the target lies in the user's grid
    OWN = "own"  # the user reported (or owns) the target


A, S = Action, Scope
PERMISSIONS: dict[tuple[Role, Action], tuple[Scope, ...]] = {
    **{(Role.ADMIN, action): (S.ANY,) for action in Action},
    (Role.OPERATOR, A.REPORT): (S.ANY,),
    (Role.OPERATOR, A.READ): (S.AREA,),
    (Role.OPERATOR, A.DISPATCH): (S.AREA,),
    (Role.OPERATOR, A.CLOSE): (S.AREA,),
    (Role.OPERATOR, A.REOPEN): (S.AREA,),
    (Role.OPERATOR, A.WHISTLE): (S.AREA,),
    (Role.OPERATOR, A.EVALUATE): (S.ANY,),
    (Role.OPERATOR, A.RATE_DEPARTMENT): (S.AREA,),
    (Role.OPERATOR, A.SEARCH_SUPPLIES): (S.ANY,),
    (Role.OPERATOR, A.RESERVE): (S.AREA,),
    # Readings of sensors in the area; positions of own trackers and of trackers whose
    # owner's area lies in the operator's area.
    (Role.OPERATOR, A.INGEST): (S.OWN, S.AREA),
    (Role.OPERATOR, A.FENCES): (S.ANY,),
    (Role.OPERATOR, A.REGISTER_VISIT): (S.ANY,),
    (Role.OPERATOR, A.REGISTER): (S.AREA,),
    (Role.HANDLER, A.READ): (S.DEPARTMENT, S.SUMMONED),
    (Role.HANDLER, A.ACCEPT): (S.DEPARTMENT,),
    (Role.HANDLER, A.REJECT): (S.DEPARTMENT,),
    (Role.HANDLER, A.RESOLVE): (S.DEPARTMENT,),
    (Role.HANDLER, A.WHISTLE): (S.DEPARTMENT,),
    (Role.HANDLER, A.CHECK_IN): (S.SUMMONED,),
    (Role.HANDLER, A.EVALUATE): (S.ANY,),
    (Role.HANDLER, A.SEARCH_SUPPLIES): (S.ANY,),
    (Role.HANDLER, A.REGISTER_VISIT): (S.ANY,),
    (Role.HANDLER, A.REGISTER): (S.DEPARTMENT,),
    (Role.HANDLER, A.REGISTER_IMPORT): (S.DEPARTMENT,),
    (Role.GRID_HEAD, A.REPORT): (S.ANY,),
    (Role.GRID_HEAD, A.READ): (S.OWN, S.GRID),
    (Role.GRID_HEAD, A.CLOSE): (S.OWN,),
    (Role.GRID_HEAD, A.REOPEN): (S.OWN,),
    (Role.GRID_HEAD, A.RATE): (S.OWN,),
    (Role.GRID_HEAD, A.EVALUATE): (S.ANY,),
    (Role.GRID_HEAD, A.REGISTER): (S.GRID,),
    # A grid head's own phone on patrol: registered as a tracker, its positions posted.
    (Role.GRID_HEAD, A.PATROL): (S.OWN,),
    (Role.EMERGENCY, A.REPORT): (S.ANY,),
    (Role.EMERGENCY, A.READ): (S.AREA,),
    (Role.EMERGENCY, A.EVALUATE): (S.ANY,),
    (Role.EMERGENCY, A.SEARCH_SUPPLIES): (S.ANY,),
    (Role.EMERGENCY, A.RESERVE): (S.AREA,),
    (Role.EMERGENCY, A.REGISTER): (S.AREA,),
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: the role and its scope."""

    user_id: int
    role: Role
    area_code: str | None = None
    department_code: str | None = None
    grid_code: str | None = None


@dataclass(frozen=True)
class Target:
    """What is acted on, reduced to what the scopes look at."""

    area_codes: frozenset[str] = field(default_factory=frozenset)  # city down to community
    department_code: str | None = None
    summoned: frozenset[str] = field(default_factory=frozenset)
    grid_code: str | None = None
    reporter_id: int | None = None  # or the owner (of a tracker)


def scopes_for(role: Role, action: Action) -> tuple[Scope, ...]:
    """The scopes in which ``role`` may do ``action`` (empty: never)."""
    return PERMISSIONS.get((role, action), ())


def in_scope(actor: Actor, scope: Scope, target: Target) -> bool:
    """Whether ``target`` lies in ``actor``'s ``scope``."""
    match scope:
        case Scope.ANY:
            return True
        case Scope.AREA:
            return actor.area_code is not None and actor.area_code in target.area_codes
        case Scope.DEPARTMENT:
            return actor.department_code is not None and (
                actor.department_code == target.department_code
            )
        case Scope.SUMMONED:
            return actor.department_code is not None and actor.department_code in target.summoned
        case Scope.GRID:
            return actor.grid_code is not None and actor.grid_code == target.grid_code
        case Scope.OWN:
            return target.reporter_id == actor.user_id
    return False


def allowed(actor: Actor, action: Action, target: Target | None = None) -> bool:
    """May ``actor`` do ``action`` on ``target``? Without a target: may they do it anywhere?

    >>> head = Actor(user_id=7, role=Role.GRID_HEAD, grid_code="G1")
    >>> allowed(head, Action.READ, Target(grid_code="G1")), allowed(head, Action.ACCEPT)
    (True, False)
    """
    scopes = scopes_for(actor.role, action)
    if target is None:
        return bool(scopes)
    return any(in_scope(actor, scope, target) for scope in scopes)


def may_name_department(actor: Actor, chain: Sequence[str | None], department_area: str) -> bool:
    """May ``actor`` send an incident to (dispatch) or summon (whistle) a department that
    serves ``department_area``? ``chain`` is the incident's areas, city down to community.

    The department must serve the incident's place (one of its areas), and an actor scoped
    to an area may only name departments of that area or below it: a district's command
    centre sends to its district's departments, not to the city's or a neighbour's.
    Handlers (scoped to a department) may summon any department serving the place.

    >>> chain = ("C", "D1", "S1", "M1")
    >>> district = Actor(user_id=1, role=Role.OPERATOR, area_code="D1")
    >>> [may_name_department(district, chain, a) for a in ("S1", "D1", "C", "D2")]
    [True, True, False, False]
    >>> handler = Actor(user_id=2, role=Role.HANDLER, department_code="M1-JW")
    >>> [may_name_department(handler, chain, a) for a in ("C", "D2")]
    [True, False]
    """
    if department_area not in chain:
        return False
    if actor.role is Role.ADMIN or actor.area_code is None:
        return True
    place = list(chain)
    return actor.area_code in place and place.index(actor.area_code) <= place.index(department_area)
