"""Doorstep visits (入户走访): a visit counts once, corrections are written with provenance,
a later department list raises a conflict instead of overwriting them, the grid head
settles it (keep or take), and only the grid head of the grid visits or settles."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.errors import FieldError, OutOfScope
from gridgov.register.access import Reader
from gridgov.register.batches import undo_batch
from gridgov.register.conflicts import open_conflicts, settle_conflict
from gridgov.register.doorstep import Correction, VisitWindow, record_visit
from gridgov.register.models import (
    House,
    Household,
    HouseholdVisit,
    Person,
    PersonTag,
    RegisterConflict,
)
from gridgov.register.reading import reader_of
from gridgov.register.removal import remove_person
from gridgov.register.service import import_register
from gridgov.register.vocabulary import load_tags, tags_file
from gridgov.users.service import create_user
from tests.conftest import GEODATA
from tests.register_files import ALLOWANCE_COLUMNS, HEAD_GRID, KEYS, allowance_list
from tests.test_register_reading import (  # noqa: F401  (register: the fixture)
    CHILD,
    DISABLED,
    NOW,
    OLD,
    TODAY,
    person_id,
    register,
    user,
)

VISITED = NOW - timedelta(hours=1)
TAGS = load_tags(tags_file(GEODATA))


def head(session: Session) -> Reader:
    return reader_of(session, user(session, "gridhead"))


def household_of(session: Session, number: str) -> int:
    found = session.scalar(
        select(Person.household_id).where(Person.id == person_id(session, number))
    )
    assert found is not None
    return found


def visit(session: Session, reader: Reader, household_id: int, client_id: str = "v1", **given):
    values = {"visited_at": VISITED, "now": NOW, "position": (109.1, 21.55), "accuracy_m": 8.0}
    return record_visit(
        session,
        reader=reader,
        keys=KEYS,
        tags=TAGS,
        household_id=household_id,
        client_id=client_id,
        **(values | given),
    )


def import_allowance(
    session: Session,
    tmp_path: Path,
    name: str,
    now: datetime = NOW,
    as_of: datetime | None = None,
):
    """Civil affairs' list with 王建国 (as ``name``) on the allowance, drawn at ``as_of``."""
    path = allowance_list(
        tmp_path / f"{name}.csv",
        [[name, OLD, "男", "1940-03-12", "青柳路1号1栋1单元101室", "城市低保", "2022-01-01", ""]],
    )
    return import_register(
        session, keys=KEYS, path=path, columns_path=ALLOWANCE_COLUMNS, source="民政局",
        geodata_dir=GEODATA, today=TODAY, now=now, commit=True, as_of=as_of,
    )  # fmt: skip


def test_a_visit_counts_once_and_a_resend_changes_nothing(session, register):  # noqa: F811
    old = person_id(session, OLD)
    home = household_of(session, OLD)
    first = visit(
        session, head(session), home,
        confirmed=[f"person:{old}:sex", f"tag:{old}:allowance"],
        corrections=[Correction("person", old, "name", "王建华")],
    )  # fmt: skip
    assert first.created and first.changed_households == (home,)
    again = visit(
        session, head(session), home,
        corrections=[Correction("person", old, "name", "别的名字")],
    )  # fmt: skip
    assert not again.created and again.visit.id == first.visit.id
    assert again.changed_households == ()
    assert session.get(Person, old).name == "王建华"
    assert session.scalar(select(func.count()).select_from(HouseholdVisit)) == 1
    assert first.visit.confirmed == [f"person:{old}:sex", f"tag:{old}:allowance"]
    assert session.get(Household, home).last_visit_at == VISITED


def test_corrections_are_written_with_the_visit_as_their_source(session, register):  # noqa: F811
    reader = head(session)
    mother, child = person_id(session, DISABLED), person_id(session, CHILD)
    home = household_of(session, DISABLED)
    house = session.scalar(select(Household.house_id).where(Household.id == home))
    recorded = visit(
        session, reader, home,
        corrections=[
            Correction("person", mother, "phone", "139 0000 1111"),
            Correction("person", child, "relation", "孙子女"),
            Correction("house", house, "tenure", "owned"),
            Correction("tag", child, "left_behind_child", {}),
            Correction("tag", mother, "disability", None),
        ],
    )  # fmt: skip
    v = recorded.visit
    person = session.get(Person, mother)
    assert person is not None and person.phone_sealed is not None
    assert KEYS.open(person.phone_sealed, field="phone") == "13900001111"
    assert person.provenance["phone"] == {
        "source": "visit", "visit": v.id, "at": VISITED.isoformat(), "by": reader.user_id,
        "confirmed_at": VISITED.isoformat(), "confirmed_by": reader.user_id,
    }  # fmt: skip
    assert "13900001111" not in str(v.corrected)  # the visit keeps the phone sealed
    assert session.get(Person, child).relation == "grandchild"
    assert session.get(House, house).tenure == "owned"
    added = session.scalar(select(PersonTag).where(PersonTag.person_id == child))
    assert added is not None
    assert (added.tag, added.source, added.valid_from, added.confirmed_by) == (
        "left_behind_child", "visit", VISITED.date(), reader.user_id
    )  # fmt: skip
    ended = session.scalar(select(PersonTag).where(PersonTag.person_id == mother))
    assert ended is not None and ended.valid_to == VISITED.date() - timedelta(days=1)
    assert [(c["entity"], c["field"]) for c in v.corrected] == [
        ("person", "phone"), ("person", "relation"), ("house", "tenure"),
        ("tag", "left_behind_child"), ("tag", "disability"),
    ]  # fmt: skip
    assert v.position is not None and v.accuracy_m == 8.0


def test_a_visit_that_changes_tags_retiers_the_household_at_once(session, register):  # noqa: F811
    lonely, disabled = household_of(session, OLD), household_of(session, DISABLED)
    assert session.get(Household, lonely).tier_rule == "elderly_living_alone"
    assert session.get(Household, disabled).tier == "green"  # grade 1, a carer not yet known
    visit(
        session, head(session), lonely, client_id="v-alone",
        corrections=[Correction("tag", person_id(session, OLD), "living_alone", None)],
    )  # fmt: skip
    visit(
        session, head(session), disabled, client_id="v-carer",
        corrections=[Correction("tag", person_id(session, DISABLED), "no_carer", {})],
    )  # fmt: skip
    moved = {h.id: (h.tier, h.tier_rule) for h in session.scalars(select(Household))}
    assert moved[lonely] == ("yellow", "allowance")
    assert moved[disabled] == ("red", "severe_disability_no_carer")


def test_a_late_visit_does_not_overwrite_what_a_later_visit_saw(session, register):  # noqa: F811
    old = person_id(session, OLD)
    home = household_of(session, OLD)
    later = VISITED + timedelta(minutes=30)
    visit(
        session, head(session), home, client_id="second", visited_at=later,
        corrections=[Correction("person", old, "name", "王建华")],
        confirmed=[f"tag:{old}:allowance"],
    )  # fmt: skip
    # The first visit, queued offline, arrives after the second one.
    late = visit(
        session, head(session), home, client_id="first", now=NOW + timedelta(minutes=5),
        corrections=[Correction("person", old, "name", "王建民"),
                     Correction("tag", old, "allowance", None)],
        confirmed=[f"person:{old}:name"],
    )  # fmt: skip
    assert late.created and late.changed_households == ()
    person = session.get(Person, old)
    assert person is not None and person.name == "王建华"
    assert person.provenance["name"]["confirmed_at"] == later.isoformat()  # not moved back
    allowance = session.scalar(
        select(PersonTag).where(PersonTag.person_id == old, PersonTag.tag == "allowance")
    )
    assert allowance is not None and allowance.valid_to is None
    assert allowance.confirmed_at == later
    assert late.visit.corrected == []
    assert [(c["field"], c["new"], c["source"]) for c in late.visit.superseded] == [
        ("name", "王建民", "visit"), ("allowance", None, "visit"),
    ]  # fmt: skip
    assert late.visit.superseded[0]["observed_at"] == later.isoformat()


def test_a_list_drawn_after_the_visit_wins_one_without_a_date_does_not(
    session,
    register,  # noqa: F811
    tmp_path,
):
    old = person_id(session, OLD)
    home = household_of(session, OLD)
    drawn = VISITED + timedelta(minutes=20)  # the list was drawn after the grid head's visit,
    import_allowance(session, tmp_path, "王建中", as_of=drawn)  # and imported before it arrived
    late = visit(
        session, head(session), home, client_id="late", now=NOW + timedelta(minutes=5),
        corrections=[Correction("person", old, "name", "王建华")],
    )  # fmt: skip
    assert session.get(Person, old).name == "王建中"
    assert [(c["field"], c["source"], c["observed_at"]) for c in late.visit.superseded] == [
        ("name", "民政局", drawn.isoformat())
    ]
    import_allowance(session, tmp_path, "王建国", now=NOW + timedelta(minutes=6))  # no date
    undated = visit(
        session, head(session), home, client_id="undated", now=NOW + timedelta(minutes=7),
        corrections=[Correction("person", old, "name", "王建华")],
    )  # fmt: skip
    assert session.get(Person, old).name == "王建华" and undated.visit.superseded == []


def test_a_correction_to_the_value_it_has_is_a_confirmation(session, register):  # noqa: F811
    old = person_id(session, OLD)
    recorded = visit(
        session, head(session), household_of(session, OLD),
        corrections=[Correction("person", old, "phone", "13812345678"),
                     Correction("tag", old, "allowance", {"kind": "urban"})],
    )  # fmt: skip
    assert recorded.changed_households == () and recorded.visit.corrected == []
    assert recorded.visit.confirmed == [f"person:{old}:phone", f"tag:{old}:allowance"]


def test_a_later_department_list_raises_a_conflict_then_keep_and_take(
    session,
    register,  # noqa: F811
    tmp_path,
):
    old = person_id(session, OLD)
    reader = head(session)
    visit(session, reader, household_of(session, OLD),
          corrections=[Correction("person", old, "name", "王建华")])  # fmt: skip
    stale = import_allowance(session, tmp_path, "王建国")
    assert [(c.field, c.old, c.new) for c in stale.plan.conflicts] == [("name", "王建华", "王建国")]
    assert session.get(Person, old).name == "王建华"
    [listed] = open_conflicts(session, reader=reader, keys=KEYS, grid_code=HEAD_GRID)
    assert (listed.field, listed.current, listed.proposed, listed.source, listed.person_id) == (
        "name", "王建华", "王建国", "民政局", old
    )  # fmt: skip

    later = NOW + timedelta(minutes=5)
    kept = settle_conflict(
        session, reader=reader, conflict_id=listed.id, decision="keep", now=later
    )
    assert kept.conflict.status == "kept" and kept.changed_households == ()
    person = session.get(Person, old)
    assert person is not None and person.name == "王建华"
    assert person.provenance["name"]["confirmed_at"] == later.isoformat()
    assert open_conflicts(session, reader=reader, keys=KEYS, grid_code=HEAD_GRID) == []
    with pytest.raises(FieldError) as twice:
        settle_conflict(session, reader=reader, conflict_id=listed.id, decision="take", now=later)
    assert twice.value.key == "register.conflict.settled"

    again = import_allowance(session, tmp_path, "王建国", now=later)
    [second] = open_conflicts(session, reader=reader, keys=KEYS, grid_code=HEAD_GRID)
    taken = settle_conflict(
        session, reader=reader, conflict_id=second.id, decision="take", now=later
    )
    assert taken.changed_households == (household_of(session, OLD),)
    assert person.name == "王建国"
    assert person.provenance["name"] == {
        "source": "民政局", "batch": again.batch.id, "at": later.isoformat(),
        "by": reader.user_id, "settled": second.id,
        "confirmed_at": later.isoformat(), "confirmed_by": reader.user_id,
    }  # fmt: skip
    assert again.batch is not None
    undo_batch(session, batch_id=again.batch.id, user_id=None, now=later)
    assert person.name == "王建华"  # the value taken goes with its batch


def test_only_the_grid_head_of_the_grid_visits_and_settles(session, register, tmp_path):  # noqa: F811
    home = household_of(session, OLD)
    neighbour = create_user(
        session, username="head_next_door", password="not-used-here-0", role="grid_head",
        display_name="x", grid_code="990105009003006",
    )  # fmt: skip
    readers = [
        reader_of(session, neighbour),
        reader_of(session, user(session, "admin")),
        reader_of(session, user(session, "operator")),
        reader_of(session, user(session, "handler_cg")),
    ]
    for reader in readers:
        with pytest.raises(OutOfScope):
            visit(session, reader, home, client_id=f"x{reader.user_id}")
        with pytest.raises(OutOfScope):
            open_conflicts(session, reader=reader, keys=KEYS, grid_code=HEAD_GRID)
    assert session.scalar(select(func.count()).select_from(HouseholdVisit)) == 0
    old = person_id(session, OLD)
    visit(session, head(session), home, corrections=[Correction("person", old, "name", "王建华")])
    import_allowance(session, tmp_path, "王建国")
    conflict = session.scalars(select(RegisterConflict)).one()
    for reader in readers:
        with pytest.raises(OutOfScope):
            settle_conflict(
                session, reader=reader, conflict_id=conflict.id, decision="keep", now=NOW
            )
    assert conflict.status == "open"


@pytest.mark.parametrize(
    ("given", "field", "key"),
    [
        ({"visited_at": NOW + timedelta(hours=1)}, "visited_at", "register.visit.future"),
        ({"visited_at": NOW - timedelta(days=8)}, "visited_at", "register.visit.too_old"),
        ({"visited_at": VISITED.replace(tzinfo=None)}, "visited_at", "register.visit.no_offset"),
        ({"client_id": " "}, "client_id", "register.visit.client_id"),
        ({"confirmed": ["person:1"]}, "confirmed.0", "register.visit.fact"),
        ({"confirmed": ["person:999999:name"]}, "confirmed.0", "register.visit.not_here"),
        ({"corrections": [Correction("person", 0, "name", "x")]}, "corrected.0.id", None),
        ({"corrections": [Correction("tag", 0, "nope", {})]}, "corrected.0.id", None),
        ({"corrections": [Correction("house", 0, "owner", "x")]}, "corrected.0.field", None),
    ],
)
def test_bad_visits_are_refused_naming_the_field_and_write_nothing(
    session,
    register,  # noqa: F811
    given,
    field,
    key,
):
    old = person_id(session, OLD)
    good = [Correction("person", old, "name", "王建华")]
    given = {"corrections": good} | given
    with pytest.raises(FieldError) as refused:
        visit(session, head(session), household_of(session, OLD), **given)
    assert refused.value.field == field
    assert key is None or refused.value.key == key
    assert session.scalar(select(func.count()).select_from(HouseholdVisit)) == 0
    session.expire_all()
    assert session.get(Person, old).name == "王建国"


@pytest.mark.parametrize(
    ("change", "field", "key"),
    [
        (Correction("person", 0, "sex", "unknown"), "corrected.0.value", "register.problem.value"),
        (Correction("person", 0, "birth_date", "2099-01-01"), "corrected.0.value", None),
        (Correction("person", 0, "phone", "12ab"), "corrected.0.value", "register.problem.phone"),
        (Correction("person", 0, "name", ""), "corrected.0.value", "register.visit.value"),
        (Correction("tag", 0, "disability", {"grade": "9"}), "corrected.0.value.grade", None),
        (Correction("tag", 0, "veteran", None), "corrected.0.field", "register.visit.no_tag"),
        (Correction("tag", 0, "unknown_tag", {}), "corrected.0.field", "register.problem.tag"),
    ],
)
def test_bad_values_are_refused_naming_the_field(session, register, change, field, key):  # noqa: F811
    old = person_id(session, OLD)
    change = Correction(change.entity, old, change.field, change.value)
    with pytest.raises(FieldError) as refused:
        visit(session, head(session), household_of(session, OLD), corrections=[change])
    assert refused.value.field == field
    assert key is None or refused.value.key == key


def test_the_visit_window_follows_the_settings(session, register):  # noqa: F811
    window = VisitWindow(max_age=timedelta(days=30))
    earlier = NOW - timedelta(days=20)
    recorded = visit(session, head(session), household_of(session, OLD), visited_at=earlier,
                     window=window)  # fmt: skip
    assert recorded.created and recorded.visit.visited_at == earlier


def test_removing_a_person_erases_what_visits_kept_of_them(session, register):  # noqa: F811
    old = person_id(session, OLD)
    recorded = visit(session, head(session), household_of(session, OLD),
                     corrections=[Correction("person", old, "name", "王建华")])  # fmt: skip
    late = visit(session, head(session), household_of(session, OLD), client_id="late",
                 visited_at=VISITED - timedelta(hours=1),
                 corrections=[Correction("person", old, "name", "王建民")])  # fmt: skip
    assert late.visit.superseded[0]["new"] == "王建民"
    remove_person(session, person_id=old, user_id=None, now=NOW)
    session.refresh(recorded.visit)
    session.refresh(late.visit)
    assert recorded.visit.corrected == [
        {"entity": "person", "id": old, "field": "name", "old": None, "new": None}
    ]
    assert "王建民" not in str(late.visit.superseded)
    assert late.visit.superseded[0]["new"] is None


def test_visit_dates_are_the_city_days(session, register):  # noqa: F811
    from zoneinfo import ZoneInfo

    late = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)  # already the 5th in Shanghai
    child = person_id(session, CHILD)
    visit(session, head(session), household_of(session, CHILD), visited_at=late,
          timezone=ZoneInfo("Asia/Shanghai"),
          corrections=[Correction("tag", child, "left_behind_child", {})])  # fmt: skip
    tag = session.scalar(select(PersonTag).where(PersonTag.person_id == child))
    assert tag is not None and tag.valid_from == date(2026, 12, 5)


def test_a_tag_confirmed_on_a_visit_conflicts_with_an_older_list(session, register, tmp_path):  # noqa: F811
    old = person_id(session, OLD)
    reader = head(session)
    visit(session, reader, household_of(session, OLD), confirmed=[f"tag:{old}:allowance"])
    path = allowance_list(
        tmp_path / "rural.csv",
        [
            [
                "王建国",
                OLD,
                "男",
                "1940-03-12",
                "青柳路1号1栋1单元101室",
                "农村低保",
                "2022-01-01",
                "",
            ]
        ],
    )
    batch = import_register(
        session, keys=KEYS, path=path, columns_path=ALLOWANCE_COLUMNS, source="民政局",
        geodata_dir=GEODATA, today=TODAY, now=NOW, commit=True,
    ).batch  # fmt: skip
    [listed] = open_conflicts(session, reader=reader, keys=KEYS, grid_code=HEAD_GRID)
    assert (listed.entity, listed.field, listed.current, listed.proposed, listed.person_id) == (
        "tag", "details", "kind=urban", "kind=rural", old
    )  # fmt: skip
    settle_conflict(session, reader=reader, conflict_id=listed.id, decision="take", now=NOW)
    tag = session.scalar(
        select(PersonTag).where(PersonTag.person_id == old, PersonTag.tag == "allowance")
    )
    assert tag is not None and batch is not None
    assert (tag.details, tag.source, tag.batch_id, tag.confirmed_by) == (
        {"kind": "rural"}, "民政局", batch.id, reader.user_id
    )  # fmt: skip
