"""Reading the register: the grassroots' files loaded into grids, a grid's households as
each reader may see them (masking), the access log, small-count suppression, removing a
person, and the register following a new boundary generation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gridgov.boundaries.follow import follow_boundaries
from gridgov.boundaries.generations import activate_generation, create_generation
from gridgov.boundaries.index import GridIndex
from gridgov.departments.models import Department
from gridgov.errors import FieldError, OutOfScope
from gridgov.register.aggregates import tag_counts_by_grid
from gridgov.register.grassroots import load_grassroots
from gridgov.register.models import House, Person, PersonTag, RegisterAccess, RegisterChange, Thing
from gridgov.register.reading import households_of_grid, person_record, places, reader_of
from gridgov.register.removal import remove_person
from gridgov.register.vocabulary import load_tags, tags_file
from gridgov.users.models import User
from gridgov.users.service import create_user
from tests import shapes
from tests.conftest import GEODATA
from tests.register_files import HEAD_GRID, KEYS, id_number, write_grassroots
from tests.statements import statements
from tests.test_import import import_tiny_city

TODAY = date(2026, 12, 5)
NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
OLD = id_number("990105", "19400312", "011")  # lives alone, on the allowance
DISABLED = id_number("990105", "19700101", "022")
CHILD = id_number("990105", "20150101", "031")
ELSEWHERE = id_number("990102", "19800101", "041")


def other_grid(session: Session) -> tuple[str, float, float]:
    """A grid of another district, with a point inside it."""
    code, lon, lat = session.execute(
        text(
            "SELECT g.code, ST_X(p), ST_Y(p) FROM grids g"
            " JOIN boundary_generations b ON b.id = g.generation_id AND b.is_active,"
            " ST_PointOnSurface(g.geom) p WHERE g.code LIKE '990102%' ORDER BY g.code LIMIT 1"
        )
    ).one()
    return code, lon, lat


@pytest.fixture
def register(session: Session, demo_generation, tmp_path: Path) -> dict[str, object]:
    """Three households in the grid head's grid, one elsewhere, a hydrant."""
    code, lon, lat = other_grid(session)
    folder = write_grassroots(
        tmp_path / "register",
        {
            "houses": [
                ["H1", "青柳路1号", "1", "1", "101", "109.1", "21.55", "residential", "owned"],
                ["H2", "青柳路2号", "", "", "", "109.1", "21.55", "residential", "rented"],
                ["H3", "东澜路9号", "", "", "", str(lon), str(lat), "shop", "owned"],
            ],
            "households": [["F1", "H1"], ["F2", "H2"], ["F3", "H3"]],
            "people": [
                [OLD, "王建国", "男", "1940-03-12", "13812345678", "F1", "户主"],
                [DISABLED, "李秀英", "女", "1970-01-01", "", "F2", "户主"],
                [CHILD, "李小明", "男", "2015-01-01", "", "F2", "子女"],
                [ELSEWHERE, "陈东", "男", "1980-01-01", "", "F3", "户主"],
            ],
            "tags": [
                [OLD, "living_alone", "", "", "2020-01-01", ""],
                [OLD, "allowance", "urban", "", "2022-01-01", ""],
                [DISABLED, "disability", "physical", "1", "2005-01-01", ""],
                [ELSEWHERE, "allowance", "urban", "", "2022-01-01", ""],
            ],
            "things": [["T1", "hydrant", "消火栓1", "109.1", "21.55"]],
        },
    )
    index = GridIndex.build(session, generation=demo_generation)
    load = load_grassroots(
        session,
        keys=KEYS,
        folder=folder,
        index=index,
        tags=load_tags(tags_file(GEODATA)),
        today=TODAY,
        now=NOW,
    )
    assert load.problems == []
    return {"other": code, "load": load}


def user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def department_user(session: Session, kind: str, area: str = "990100") -> User:
    """A handler of a department of that kind (民政 MZ, 残联 CL ...) serving ``area``."""
    code = f"{area}-{kind}"
    if session.scalar(select(Department).where(Department.code == code)) is None:
        session.add(Department(code=code, name=code, level="city", area_code=area, role=kind))
        session.flush()
    return create_user(
        session, username=f"h_{kind}_{area}", password="not-used-here-0", role="handler",
        display_name=code, department_code=code,
    )  # fmt: skip


def person_id(session: Session, number: str) -> int:
    found = session.scalar(select(Person.id).where(Person.id_hash == KEYS.id_hash(number)))
    assert found is not None
    return found


def test_houses_and_things_are_placed_in_the_grid_their_position_falls_in(session, register):
    codes = dict(session.execute(select(House.code, House.grid_code)).all())
    assert codes == {"H1": HEAD_GRID, "H2": HEAD_GRID, "H3": register["other"]}
    house = session.scalar(select(House).where(House.code == "H1"))
    assert house is not None and (house.community_code, house.city_code) == (
        "990105009003",
        "990100",
    )
    assert register["load"].counts == {
        "houses": 3, "households": 3, "people": 4, "tags": 4, "enterprises": 0, "things": 1
    }  # fmt: skip


def test_a_grid_head_sees_the_households_of_their_grid_with_ids_masked(session, register):
    head = reader_of(session, user(session, "gridhead"))
    households = households_of_grid(
        session, reader=head, keys=KEYS, grid_code=HEAD_GRID, today=TODAY
    )
    assert [(h.code, [m.name for m in h.members]) for h in households] == [
        ("F1", ["王建国"]), ("F2", ["李秀英", "李小明"])
    ]  # fmt: skip
    old = households[0].members[0]
    assert old.id_number == OLD[:4] + "*" * 10 + OLD[-4:] and not old.id_number_clear
    assert (old.phone, old.phone_clear) == ("13812345678", True)
    assert [t.tag for t in old.tags] == ["allowance", "living_alone"]
    assert old.age == 86
    with pytest.raises(OutOfScope):
        households_of_grid(
            session, reader=head, keys=KEYS, grid_code=register["other"], today=TODAY
        )


def test_a_grids_households_are_two_statements(session, register, engine):
    head = reader_of(session, user(session, "gridhead"))
    with statements(engine) as seen:
        households = households_of_grid(
            session, reader=head, keys=KEYS, grid_code=HEAD_GRID, today=TODAY
        )
    assert sum(len(h.members) for h in households) == 3
    assert len(seen) == 2  # members with their houses, then every member's tags


def test_civil_affairs_sees_only_allowance_people_with_ids_and_no_other_tags(session, register):
    mz = reader_of(session, department_user(session, "MZ"))
    households = households_of_grid(session, reader=mz, keys=KEYS, grid_code=HEAD_GRID, today=TODAY)
    [[old]] = [h.members for h in households]
    assert (old.name, old.id_number, old.id_number_clear) == ("王建国", OLD, True)
    assert [t.tag for t in old.tags] == ["allowance", "living_alone"]
    other = households_of_grid(
        session, reader=mz, keys=KEYS, grid_code=register["other"], today=TODAY
    )
    assert [m.name for h in other for m in h.members] == ["陈东"]  # city-wide

    district_mz = reader_of(session, department_user(session, "MZ", area="990102"))
    mine = households_of_grid(
        session, reader=district_mz, keys=KEYS, grid_code=HEAD_GRID, today=TODAY
    )
    assert mine == []  # a district's civil affairs: not the people of another district


def test_the_disabled_persons_federation_sees_disability_only(session, register):
    cl = reader_of(session, department_user(session, "CL"))
    households = households_of_grid(session, reader=cl, keys=KEYS, grid_code=HEAD_GRID, today=TODAY)
    [[disabled]] = [h.members for h in households]
    assert disabled.name == "李秀英" and [t.tag for t in disabled.tags] == ["disability"]
    assert disabled.tags[0].details == {"kind": "physical", "grade": 1}


def test_operators_and_other_handlers_read_nobody(session, register):
    for username in ("operator", "handler_cg", "emergency", "admin"):
        someone = reader_of(session, user(session, username))
        with pytest.raises(OutOfScope):
            households_of_grid(session, reader=someone, keys=KEYS, grid_code=HEAD_GRID, today=TODAY)
        with pytest.raises(OutOfScope):
            person_record(
                session, reader=someone, keys=KEYS, person_id=person_id(session, OLD),
                reason="curious", today=TODAY,
            )  # fmt: skip
    assert session.scalar(select(func.count()).select_from(RegisterAccess)) == 0


def test_every_read_of_a_record_is_logged_with_who_and_why(session, register):
    head = user(session, "gridhead")
    old = person_id(session, OLD)
    with pytest.raises(FieldError) as blank:
        person_record(session, reader=reader_of(session, head), keys=KEYS, person_id=old,
                      reason="  ", today=TODAY)  # fmt: skip
    assert blank.value.field == "reason"
    view = person_record(
        session, reader=reader_of(session, head), keys=KEYS, person_id=old,
        reason="入户走访前核对", today=TODAY,
    )  # fmt: skip
    assert view.name == "王建国" and view.provenance["name"]["source"] == "grassroots"
    [entry] = session.scalars(select(RegisterAccess)).all()
    assert (entry.user_id, entry.person_id, entry.reason) == (head.id, old, "入户走访前核对")
    assert entry.shown == ["people", "tag:allowance", "tag:living_alone", "phone"]
    assert entry.at is not None


def test_places_are_listed_within_the_readers_reach(session, register):
    head = reader_of(session, user(session, "gridhead"))
    assert {h["code"] for h in places(session, reader=head, kind="houses")} == {"H1", "H2"}
    operator = reader_of(session, user(session, "operator"))
    assert {h["code"] for h in places(session, reader=operator, kind="houses")} == {
        "H1",
        "H2",
        "H3",
    }
    box = (109.09, 21.54, 109.11, 21.56)
    [thing] = places(session, reader=operator, kind="things", bbox=box)
    assert (thing["code"], thing["kind"], thing["grid_code"]) == ("T1", "hydrant", HEAD_GRID)
    with pytest.raises(OutOfScope):
        places(session, reader=reader_of(session, user(session, "handler_cg")), kind="houses")


def test_small_counts_are_suppressed_unless_the_caller_may_see_the_people(session, register):
    operator = reader_of(session, user(session, "operator"))
    assert tag_counts_by_grid(session, reader=operator, tag="allowance") == {
        HEAD_GRID: None, register["other"]: None
    }  # fmt: skip
    head = reader_of(session, user(session, "gridhead"))
    assert tag_counts_by_grid(session, reader=head, tag="allowance") == {HEAD_GRID: 1}
    mz = reader_of(session, department_user(session, "MZ"))
    assert tag_counts_by_grid(session, reader=mz, tag="allowance") == {
        HEAD_GRID: 1, register["other"]: 1
    }  # fmt: skip
    assert tag_counts_by_grid(session, reader=mz, tag="disability") == {HEAD_GRID: None}
    house = session.scalar(select(House).where(House.code == "H1"))
    household = session.scalar(
        select(Person.household_id).where(Person.id_hash == KEYS.id_hash(OLD))
    )
    assert house is not None
    for n in range(4):  # five on the allowance in the grid: the count may leave the register
        extra = Person(name=f"甲{n}", sex="male", relation="other", household_id=household)
        session.add(extra)
        session.flush()
        session.add(PersonTag(person_id=extra.id, tag="allowance", source="test"))
    session.flush()
    assert tag_counts_by_grid(session, reader=operator, tag="allowance")[HEAD_GRID] == 5


def test_removing_a_person_keeps_only_what_the_counts_need(session, register, tmp_path):
    old = person_id(session, OLD)
    head = reader_of(session, user(session, "gridhead"))
    before = tag_counts_by_grid(session, reader=head, tag="allowance")
    session.add(RegisterChange(batch_id=register["load"].batch_id, entity="person", entity_id=old,
                               field="name", old="王建国", new="王建国"))  # fmt: skip
    remove_person(session, person_id=old, user_id=None, now=NOW)
    person = session.get(Person, old)
    assert person is not None
    assert (person.name, person.id_hash, person.id_sealed, person.phone_sealed, person.address) == (
        None, None, None, None, None
    )  # fmt: skip
    assert person.birth_date == date(1940, 1, 1) and person.sex == "male"
    assert "name" not in person.provenance
    assert tag_counts_by_grid(session, reader=head, tag="allowance") == before
    assert session.scalar(select(func.count()).select_from(RegisterChange).where(
        RegisterChange.entity_id == old, RegisterChange.entity == "person")) == 0  # fmt: skip
    households = households_of_grid(
        session, reader=head, keys=KEYS, grid_code=HEAD_GRID, today=TODAY
    )
    assert "王建国" not in [m.name for h in households for m in h.members]
    with pytest.raises(FieldError):
        person_record(session, reader=head, keys=KEYS, person_id=old, reason="x", today=TODAY)


def test_the_register_follows_a_newly_activated_generation(session, register):
    thing = Thing(code="T-tiny", kind="aed", name="AED")
    from geoalchemy2 import WKTElement

    thing.position = WKTElement(
        f"POINT({shapes.X0 + 1.5 * shapes.STEP} {shapes.Y0 + 0.5 * shapes.STEP})", srid=4326
    )
    session.add(thing)
    session.flush()
    tiny = create_generation(session, name="tiny")
    import_tiny_city(session, generation_id=tiny.id)
    activate_generation(session, generation_id=tiny.id)
    session.refresh(thing)
    assert (thing.grid_code, thing.community_code, thing.city_code) == (
        "G2",
        shapes.COMMUNITY,
        shapes.CITY,
    )
    house = session.scalar(select(House).where(House.code == "H1"))
    assert house is not None
    session.refresh(house)
    assert house.grid_code is None  # the demo city is not in the tiny generation


def test_following_a_generation_agrees_with_the_index(session, register, demo_generation):
    session.execute(text("UPDATE houses SET grid_code = 'wrong', city_code = NULL"))
    follow_boundaries(session, generation_id=demo_generation.id, tolerance_m=0)
    session.expire_all()
    codes = dict(session.execute(select(House.code, House.grid_code)).all())
    assert codes == {"H1": HEAD_GRID, "H2": HEAD_GRID, "H3": register["other"]}
    assert session.scalar(select(House.city_code).where(House.code == "H1")) == "990100"
