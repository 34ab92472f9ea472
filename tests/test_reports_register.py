"""The register's indicators (people by age, sex and tag; households; houses) over planted
rows. The register (issue #15) lands on its own branch: in a build without its models this
module is skipped whole, and runs as soon as the two meet."""

from datetime import date

import pytest

from gridgov.reports.indicators import checked, figure, find_place
from tests.reports import HOME
from tests.test_reports import november

models = pytest.importorskip("gridgov.register.models")
House, Household, Person, PersonTag = (
    models.House,
    models.Household,
    models.Person,
    models.PersonTag,
)


def test_register_indicators_count_by_hand(session):
    place = find_place(session, code=HOME)
    grid = HOME + "007"
    chain = dict(
        grid_code=grid,
        community_code=HOME,
        street_code=HOME[:9],
        district_code=HOME[:6],
        city_code="990100",
    )
    houses = [
        House(code=f"H{i}", address=f"addr {i}", tenure="rented" if i < 2 else "owned", **chain)
        for i in range(3)
    ]
    session.add_all(houses)
    session.flush()
    households = [Household(code=f"HH{i}", house_id=h.id) for i, h in enumerate(houses)]
    session.add_all(households)
    session.flush()
    births = [
        date(1930, 1, 1),
        date(1940, 6, 1),
        date(1950, 1, 1),
        date(1990, 1, 1),
        date(2020, 1, 1),
        date(1944, 12, 1),
    ]
    people = [
        Person(
            name=f"P{i}",
            sex="male" if i % 2 else "female",
            birth_date=b,
            household_id=households[i % 3].id,
            relation="head",
        )
        for i, b in enumerate(births)
    ]
    session.add_all(people)
    session.flush()
    session.add_all(
        [
            PersonTag(person_id=people[0].id, tag="allowance", source="x"),
            PersonTag(person_id=people[1].id, tag="disability", details={"grade": 1}, source="x"),
            PersonTag(person_id=people[2].id, tag="disability", details={"grade": 3}, source="x"),
            PersonTag(
                person_id=people[3].id, tag="allowance", source="x", valid_to=date(2026, 1, 1)
            ),
        ]
    )
    session.flush()

    def at(d, see=True):
        return figure(
            session, definition=checked(d), place=place, period=november(), may_see_people=see
        )

    assert at("count(person)") == 6
    assert at("count(person, age >= 80)") == 3  # 1930, 1940, 1944-12 (81 on 2026-11-30)
    assert at("count(person, age < 7)") == 1
    assert at("count(person, sex = male)") == 3
    assert at("count(person, tag = disability)") == 2
    assert at("count(person, tag = disability, grade <= 2)") == 1
    assert at("count(person, tag = allowance)") == 1  # the other expired
    assert at("count(household, any member tag = allowance)") == 1
    assert at("count(house)") == 3 and at("count(house, rented)") == 2
    assert str(at("count(person, tag = disability)", see=False)) == "<5"
    assert at("count(person)", see=False) == 6
