"""Who may read what in the register: one table, checked by pure functions.

A row is (reader, what, reach). The reader is a role, or a handler of one kind of
department (``handler:MZ``: civil affairs, ``handler:CL``: the disabled persons'
federation, ``handler:GA``: public security, ``handler:SJ``: market regulation). What is
read: ``people`` (name, sex, birth date, household, masked ID and phone), ``id_number`` and
``phone`` in clear, each tag (``tag:allowance``; ``tag:*`` for all), ``places`` (houses,
enterprises, things) and ``aggregates`` (counts). The reach says where: ``grid`` (the
reader's grid), ``area`` (the reader's area, or the department's, and below), ``city``, or
``tagged`` (people carrying a tag the reader may read there). No row: never.
docs/PRIVACY.md shows the table; tests/test_register_access.py checks it row by row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Reach(StrEnum):
    """Where a reader may read something."""

    GRID = "grid"
    AREA = "area"
    CITY = "city"
    TAGGED = "tagged"


PEOPLE, ID_NUMBER, PHONE, PLACES, AGGREGATES = (
    "people",
    "id_number",
    "phone",
    "places",
    "aggregates",
)
ANY_TAG = "tag:*"
R = Reach

READ_TABLE: tuple[tuple[str, str, Reach], ...] = (
    # A system administrator runs the service, not the register: places and counts only.
    ("admin", PLACES, R.CITY),
    ("admin", AGGREGATES, R.CITY),
    # Command centres and emergency teams: places and counts of their area, nobody by name.
    ("operator", PLACES, R.AREA),
    ("operator", AGGREGATES, R.AREA),
    ("emergency", PLACES, R.AREA),
    ("emergency", AGGREGATES, R.AREA),
    # A grid head visits every household of the grid: everyone there, every tag, the phones.
    ("grid_head", PEOPLE, R.GRID),
    ("grid_head", PHONE, R.GRID),
    ("grid_head", ANY_TAG, R.GRID),
    ("grid_head", PLACES, R.GRID),
    ("grid_head", AGGREGATES, R.GRID),
    # Civil affairs (民政): the tags it pays or cares for, in its area, and those people.
    ("handler:MZ", "tag:allowance", R.AREA),
    ("handler:MZ", "tag:special_care", R.AREA),
    ("handler:MZ", "tag:living_alone", R.AREA),
    ("handler:MZ", "tag:left_behind_child", R.AREA),
    ("handler:MZ", "tag:no_carer", R.AREA),
    ("handler:MZ", PEOPLE, R.TAGGED),
    ("handler:MZ", ID_NUMBER, R.TAGGED),
    ("handler:MZ", PHONE, R.TAGGED),
    ("handler:MZ", AGGREGATES, R.AREA),
    # The disabled persons' federation (残联): disability, and the people who carry it.
    ("handler:CL", "tag:disability", R.AREA),
    ("handler:CL", PEOPLE, R.TAGGED),
    ("handler:CL", ID_NUMBER, R.TAGGED),
    ("handler:CL", PHONE, R.TAGGED),
    ("handler:CL", AGGREGATES, R.AREA),
    # Public security (公安) keeps the household register: the people of its area.
    ("handler:GA", PEOPLE, R.AREA),
    ("handler:GA", ID_NUMBER, R.AREA),
    ("handler:GA", "tag:rental_tenant", R.AREA),
    ("handler:GA", AGGREGATES, R.AREA),
    # Market regulation (市场监管): enterprises and shops of its area.
    ("handler:SJ", PLACES, R.AREA),
    ("handler:SJ", AGGREGATES, R.AREA),
)
_TABLE = {(reader, what): reach for reader, what, reach in READ_TABLE}


@dataclass(frozen=True)
class Reader:
    """Who reads: the role, the department kind of a handler, and where they stand.

    ``area_code`` is the user's area, or for a handler the area their department serves."""

    user_id: int
    role: str
    department_kind: str | None = None
    area_code: str | None = None
    grid_code: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The reader column values this reader answers to, most specific first."""
        if self.role == "handler" and self.department_kind:
            return (f"handler:{self.department_kind}", self.role)
        return (self.role,)


@dataclass(frozen=True)
class Where:
    """Where a record lies: its grid and the areas above it (none: the whole city)."""

    grid_code: str | None = None
    area_codes: frozenset[str] = frozenset()


def reach_of(reader: Reader, what: str) -> Reach | None:
    """The reach of ``reader`` for ``what`` (a tag also answers to ``tag:*``), or None.

    >>> mz = Reader(1, "handler", "MZ", "990100")
    >>> reach_of(mz, "tag:allowance"), reach_of(mz, "tag:disability")
    (<Reach.AREA: 'area'>, None)
    """
    for name in reader.names:
        if (name, what) in _TABLE:
            return _TABLE[(name, what)]
        if what.startswith("tag:") and (name, ANY_TAG) in _TABLE:
            return _TABLE[(name, ANY_TAG)]
    return None


def _covers(reader: Reader, reach: Reach, where: Where) -> bool:
    match reach:
        case Reach.CITY:
            return True
        case Reach.GRID:
            return reader.grid_code is not None and reader.grid_code == where.grid_code
        case Reach.AREA:
            return reader.area_code is not None and reader.area_code in where.area_codes
    return False


def readable_tags(reader: Reader, where: Where, tags: Iterable[str]) -> list[str]:
    """Which of ``tags`` the reader may see on a person lying at ``where``."""
    found = []
    for tag in tags:
        reach = reach_of(reader, f"tag:{tag}")
        if reach is not None and reach is not Reach.TAGGED and _covers(reader, reach, where):
            found.append(tag)
    return found


def may_read(reader: Reader, what: str, where: Where, tags: Iterable[str] = ()) -> bool:
    """May ``reader`` read ``what`` about a record at ``where`` whose person carries ``tags``?

    >>> head = Reader(7, "grid_head", grid_code="G1")
    >>> may_read(head, "people", Where("G1")), may_read(head, "id_number", Where("G1"))
    (True, False)
    >>> mz = Reader(2, "handler", "MZ", "D1")
    >>> here = Where("G1", frozenset({"C", "D1"}))
    >>> may_read(mz, "people", here, ["allowance"]), may_read(mz, "people", here, ["veteran"])
    (True, False)
    """
    reach = reach_of(reader, what)
    if reach is None:
        return False
    if reach is Reach.TAGGED:
        return bool(readable_tags(reader, where, tags))
    return _covers(reader, reach, where)


def may_read_anywhere(reader: Reader, what: str) -> bool:
    """Whether the table has any row for ``reader`` and ``what``."""
    return reach_of(reader, what) is not None


def sees_people(reader: Reader) -> bool:
    """Whether the reader may read anyone by name somewhere."""
    return may_read_anywhere(reader, PEOPLE)
