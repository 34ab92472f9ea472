"""The register's sources (issue #15): people, households, houses, enterprises, things, tags.

Imported only when the register's models are installed (``gridgov.reports.sources`` asks
for ``build()``); without them every one of these sources answers "not available". People
and households lie where their house lies; enterprises, houses and things carry their own
chain of area codes. Removed people still count (the register keeps what aggregates need).
Tags count while valid at the end of the period. A household's tier is the one stored now
(``households.tier``, kept by the tiering rules); "visited in period" means a doorstep visit
(``household_visits``) in the period.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, cast, exists, func, or_, select

from gridgov.reports.sources import Field, Period, Source, _chain


def build() -> dict[str, Source]:
    """The register's sources, keyed by name; ImportError without the register's models
    (imported here, not at the top, so this module loads, and its doctests collect, in a
    build without them)."""
    models: Any = import_module("gridgov.register.models")
    return _sources(models)


def _sources(models: Any) -> dict[str, Source]:
    _houses = models.House.__table__
    _households = models.Household.__table__
    _people = models.Person.__table__
    _tags = models.PersonTag.__table__
    _enterprises = models.Enterprise.__table__
    _things = models.Thing.__table__
    _visits = models.HouseholdVisit.__table__

    def _valid(table: Any, period: Period) -> ColumnElement[bool]:
        day = period.as_of.date()
        return and_(
            or_(table.c.valid_from.is_(None), table.c.valid_from <= day),
            or_(table.c.valid_to.is_(None), table.c.valid_to >= day),
        )

    def _person_has(values: tuple[str, ...], period: Period) -> ColumnElement[bool]:
        tag = _tags.alias("t")
        return exists(
            select(tag.c.id).where(
                tag.c.person_id == _people.c.id, tag.c.tag.in_(values), _valid(tag, period)
            )
        )

    def _member_has(values: tuple[str, ...], period: Period) -> ColumnElement[bool]:
        member, tag = _people.alias("m"), _tags.alias("t")
        return exists(
            select(tag.c.id)
            .join(member, member.c.id == tag.c.person_id)
            .where(
                member.c.household_id == _households.c.id,
                tag.c.tag.in_(values),
                _valid(tag, period),
            )
        )

    def _age(period: Period) -> ColumnElement:
        return func.date_part("year", func.age(period.as_of.date(), _people.c.birth_date))

    def _disability_grade(period: Period) -> ColumnElement:
        tag = _tags.alias("g")
        return (
            select(cast(tag.c.details["grade"].astext, Integer))
            .where(tag.c.person_id == _people.c.id, tag.c.tag == "disability", _valid(tag, period))
            .limit(1)
            .scalar_subquery()
        )

    def _visited(period: Period, _: tuple[str, ...]) -> ColumnElement[bool]:
        return exists(
            select(_visits.c.id).where(
                _visits.c.household_id == _households.c.id,
                _visits.c.visited_at >= period.start,
                _visits.c.visited_at < period.end,
            )
        )

    placed_by_house = _chain(_houses)
    person = Source(
        name="person",
        rows=_people.join(_households, _households.c.id == _people.c.household_id).join(
            _houses, _houses.c.id == _households.c.house_id
        ),
        place=placed_by_house,
        fields={
            "sex": Field(_people.c.sex),
            "relation": Field(_people.c.relation),
            "age": Field(_age, numeric=True),
            "tag": Field(_people.c.id, test=_person_has),
            "grade": Field(_disability_grade, numeric=True),
        },
        personal=True,
    )
    household = Source(
        name="household",
        rows=_households.join(_houses, _houses.c.id == _households.c.house_id),
        place=placed_by_house,
        fields={
            "any member tag": Field(_households.c.id, test=_member_has),
            "tier": Field(_households.c.tier),
        },
        flags={r"visited in period": _visited},
        personal=True,
    )
    house = Source(
        name="house",
        rows=_houses,
        place=placed_by_house,
        fields={"use": Field(_houses.c.use), "tenure": Field(_houses.c.tenure)},
        flags={r"rented": lambda p, _: _houses.c.tenure == "rented"},
    )
    enterprise = Source(
        name="enterprise",
        rows=_enterprises,
        place=_chain(_enterprises),
        fields={
            "industry": Field(_enterprises.c.industry),
            "risk_class": Field(_enterprises.c.risk_class),
        },
    )
    thing = Source(
        name="thing",
        rows=_things,
        place=_chain(_things),
        fields={"kind": Field(_things.c.kind)},
    )
    tag = Source(
        name="tag",
        rows=_tags.join(_people, _people.c.id == _tags.c.person_id)
        .join(_households, _households.c.id == _people.c.household_id)
        .join(_houses, _houses.c.id == _households.c.house_id),
        place=placed_by_house,
        fields={
            "tag": Field(_tags.c.tag),
            "kind": Field(_tags.c.details["kind"].astext),
            "grade": Field(cast(_tags.c.details["grade"].astext, Integer), numeric=True),
        },
        flags={r"valid": lambda p, _: _valid(_tags, p)},
        personal=True,
    )
    return {s.name: s for s in (person, household, house, enterprise, thing, tag)}
