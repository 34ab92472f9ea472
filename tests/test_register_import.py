"""Department imports: matching (ID, credit code, fallback, ambiguous), row problems,
provenance, conflicts with a later visit's confirmation, and undoing a batch."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.errors import FieldError
from gridgov.register.batches import list_batches, undo_batch
from gridgov.register.confirmations import confirm_field, confirm_tag
from gridgov.register.models import (
    Enterprise,
    Person,
    PersonTag,
    RegisterConflict,
)
from gridgov.register.service import ImportResult, import_register
from tests.conftest import GEODATA
from tests.register_files import (
    ALLOWANCE_COLUMNS,
    DISABILITY_COLUMNS,
    ENTERPRISE_COLUMNS,
    KEYS,
    allowance_list,
    credit_code,
    enterprise_list,
    id_number,
    write_csv,
)

TODAY = date(2026, 12, 5)
NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
WANG = id_number("990102", "19400312", "011")  # a man born 1940-03-12
LI = id_number("990102", "19520701", "022")  # a woman born 1952-07-01


def run(
    session: Session,
    path: Path,
    columns: Path = ALLOWANCE_COLUMNS,
    *,
    commit: bool = True,
    source: str = "民政局",
    as_of: datetime | None = None,
    now: datetime = NOW,
) -> ImportResult:
    return import_register(
        session,
        keys=KEYS,
        path=path,
        columns_path=columns,
        source=source,
        geodata_dir=GEODATA,
        today=TODAY,
        now=now,
        as_of=as_of,
        commit=commit,
    )


def person(session: Session, number: str) -> Person:
    found = session.scalar(select(Person).where(Person.id_hash == KEYS.id_hash(number)))
    assert found is not None
    return found


def first_list(tmp_path: Path, address: str = "东澜区青柳路1号") -> Path:
    return allowance_list(
        tmp_path / f"list-{address}.csv",
        [
            ["王建国", WANG, "男", "1940-03-12", address, "城市低保", "2024-01-01", ""],
            ["李秀英", LI, "女", "1952/7/1", "东澜区青柳路2号", "农村低保", "2023-05-01", ""],
        ],
    )


def test_a_list_creates_people_once_and_matches_them_by_id_number_after(session, tmp_path):
    result = run(session, first_list(tmp_path))
    assert result.plan.counts() == {
        "rows": 2, "matched": 0, "new": 2, "ambiguous": 0, "invalid": 0, "duplicate": 0,
        "changed": 0, "changes": 0, "conflicts": 0,
    }  # fmt: skip
    wang = person(session, WANG)
    assert (wang.name, wang.sex, wang.birth_date) == ("王建国", "male", date(1940, 3, 12))
    assert wang.id_sealed is not None and WANG.encode() not in wang.id_sealed
    assert KEYS.open(wang.id_sealed, field="id_number") == WANG
    tag = session.scalar(select(PersonTag).where(PersonTag.person_id == wang.id))
    assert tag is not None
    assert (tag.tag, tag.details, tag.valid_from, tag.source) == (
        "allowance", {"kind": "urban"}, date(2024, 1, 1), "民政局"
    )  # fmt: skip

    again = run(session, first_list(tmp_path, address="东澜区青柳路9号"), commit=False)
    assert (again.plan.matched, again.plan.new) == ([2, 3], [])
    [change] = again.plan.changes
    assert (change.row, change.field, change.old, change.new) == (
        2, "address", "东澜区青柳路1号", "东澜区青柳路9号"
    )  # fmt: skip
    assert session.scalar(select(func.count()).select_from(Person)) == 2


def test_every_field_keeps_its_source_batch_time_and_author(session, tmp_path):
    first = run(session, first_list(tmp_path))
    later = NOW + timedelta(days=3)
    second = run(session, first_list(tmp_path, "东澜区青柳路9号"), source="公安局", now=later)
    assert first.batch is not None and second.batch is not None
    provenance = person(session, WANG).provenance
    assert provenance["name"] == {
        "source": "民政局", "batch": first.batch.id, "at": NOW.isoformat(), "by": None
    }  # fmt: skip
    assert provenance["address"] == {
        "source": "公安局", "batch": second.batch.id, "at": later.isoformat(), "by": None
    }  # fmt: skip


def test_rows_with_problems_are_listed_by_row_and_column_and_never_written(session, tmp_path):
    bad_check = WANG[:-1] + ("0" if WANG[-1] != "0" else "1")
    path = allowance_list(
        tmp_path / "bad.csv",
        [
            ["甲", bad_check, "男", "", "地址", "城市低保", "", ""],
            ["乙", LI, "男", "", "地址", "城市低保", "", ""],  # the ID says a woman
            ["丙", "", "女", "1990-02-30", "地址", "城市低保", "", ""],
            ["丁", "", "女", "2099-01-01", "地址", "城市低保", "", ""],
            ["戊", id_number("990102", "19600101", "041"), "男", "", "地址", "城市低保",
             "2024-05-01", "2024-01-01"],
        ],
    )  # fmt: skip
    plan = run(session, path).plan
    assert [(p.row, p.column, p.reason) for p in plan.problems] == [
        (2, "身份证号码", "register.problem.id_number"),
        (3, "性别", "register.problem.sex_id"),
        (4, "出生日期", "register.problem.birth_date"),
        (5, "出生日期", "register.problem.birth_date"),
        (6, "保障终止日期", "register.problem.date_order"),
    ]
    assert plan.invalid == [2, 3, 4, 5, 6] and plan.new == []
    assert session.scalar(select(func.count()).select_from(Person)) == 0
    assert "row 2: 身份证号码: not a valid ID number" in str(plan.problems[0])


def test_unknown_tags_missing_columns_and_unknown_encodings_are_problems(session, tmp_path):
    columns = write_csv(
        tmp_path / "columns.csv",
        ["header", "field", "value"],
        [["姓名", "name", ""], ["身份证号码", "id_number", ""], ["标签", "tag", ""]],
    )
    tagged = write_csv(
        tmp_path / "tagged.csv", ["姓名", "身份证号码", "标签"], [["王建国", WANG, "alien"]]
    )
    [unknown] = run(session, tagged, columns).plan.problems
    assert (unknown.row, unknown.column, unknown.reason) == (2, "标签", "register.problem.tag")
    assert unknown.said("en").startswith("unknown tag alien")

    missing = write_csv(tmp_path / "missing.csv", ["姓名", "身份证号码"], [["王建国", WANG]])
    [problem] = run(session, missing, columns).plan.problems
    assert (problem.row, problem.column, problem.reason) == (
        1,
        "标签",
        "register.problem.missing_column",
    )

    garbled = tmp_path / "garbled.csv"
    garbled.write_bytes(b"\x81\xff\xfe\x00\x9f" * 50)
    [problem] = run(session, garbled).plan.problems
    assert (problem.row, problem.reason) == (1, "register.problem.encoding")
    assert session.scalar(select(func.count()).select_from(Person)) == 0


def test_the_same_number_twice_in_a_list_is_written_once(session, tmp_path):
    path = allowance_list(
        tmp_path / "twice.csv",
        [
            ["王建国", WANG, "男", "", "东澜区青柳路1号", "城市低保", "", ""],
            ["王建国", WANG, "男", "", "东澜区青柳路1号", "城市低保", "", ""],
        ],
    )
    plan = run(session, path).plan
    assert (plan.new, plan.duplicates, plan.invalid) == ([2], [3], [])
    assert [(p.row, p.reason, dict(p.params)) for p in plan.problems] == [
        (3, "register.problem.duplicate", {"first": "2"})
    ]
    assert session.scalar(select(func.count()).select_from(Person)) == 1


def test_without_an_id_number_people_match_by_name_birth_date_and_address(session, tmp_path):
    row = ["赵四", "", "男", "1948-05-06", "东澜区青柳路 3 号", "城市低保", "", ""]
    first = run(session, allowance_list(tmp_path / "a.csv", [row])).plan
    assert first.new == [2]
    second = run(
        session, allowance_list(tmp_path / "b.csv", [[*row[:4], "东澜区青柳路3号", *row[5:]]])
    )
    assert second.plan.matched == [2] and second.plan.changes == []
    elsewhere = run(
        session, allowance_list(tmp_path / "c.csv", [[*row[:4], "北岚区", *row[5:]]]), commit=False
    )
    assert elsewhere.plan.new == [2]  # another address: another person


def test_a_row_matching_two_people_is_ambiguous_and_not_written(session, tmp_path):
    for _ in range(2):
        session.add(Person(name="赵四", birth_date=date(1948, 5, 6), address="东澜区青柳路3号"))
    session.flush()
    path = allowance_list(
        tmp_path / "a.csv",
        [["赵四", "", "男", "1948-05-06", "东澜区青柳路3号", "城市低保", "", ""]],
    )
    plan = run(session, path).plan
    assert plan.ambiguous == [2] and plan.matched == [] and plan.new == []
    assert [(p.row, p.reason, dict(p.params)) for p in plan.problems] == [
        (2, "register.problem.ambiguous", {"count": "2"})
    ]
    assert session.scalar(select(func.count()).select_from(PersonTag)) == 0


def test_a_value_confirmed_on_a_later_visit_becomes_a_conflict_not_an_overwrite(session, tmp_path):
    run(session, first_list(tmp_path))
    wang = person(session, WANG)
    visit = NOW + timedelta(days=10)
    confirm_field(wang, field="address", user_id=1, at=visit)
    confirm_tag(
        session.scalars(select(PersonTag).where(PersonTag.person_id == wang.id)).one(),
        user_id=1,
        at=visit,
    )
    session.flush()

    moved = first_list(tmp_path, "东澜区青柳路9号")
    stale = run(session, moved, now=visit + timedelta(days=1)).plan
    assert stale.changes == []
    assert [(c.field, c.old, c.new) for c in stale.conflicts] == [
        ("address", "东澜区青柳路1号", "东澜区青柳路9号")
    ]
    assert wang.address == "东澜区青柳路1号"
    conflict = session.scalars(select(RegisterConflict)).one()
    assert (conflict.entity_id, conflict.field, conflict.status, conflict.confirmed_at) == (
        wang.id, "address", "open", visit
    )  # fmt: skip

    newer = run(session, moved, as_of=visit + timedelta(days=1)).plan  # drawn after the visit
    assert [(c.field, c.new) for c in newer.changes] == [("address", "东澜区青柳路9号")]
    assert wang.address == "东澜区青柳路9号"
    assert "confirmed_at" not in wang.provenance["address"]


def test_undoing_a_batch_restores_values_and_removes_what_it_created(session, tmp_path):
    first = run(session, first_list(tmp_path)).batch
    second = run(session, first_list(tmp_path, "东澜区青柳路9号"), source="公安局").batch
    assert first is not None and second is not None
    assert [b.id for b in list_batches(session)] == [second.id, first.id]
    wang = person(session, WANG)
    before = dict(wang.provenance)

    undone = undo_batch(session, batch_id=second.id, user_id=None, now=NOW)
    assert (undone.restored, undone.removed, undone.kept) == (1, 0, 0)
    assert wang.address == "东澜区青柳路1号"
    assert wang.provenance["address"]["source"] == "民政局" != before["address"]["source"]
    with pytest.raises(FieldError) as refused:
        undo_batch(session, batch_id=second.id, user_id=None, now=NOW)
    assert refused.value.key == "register.batch_undone"

    undone = undo_batch(session, batch_id=first.id, user_id=None, now=NOW)
    assert undone.removed == 4  # two people, two tags
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Person)) == 0
    assert session.scalar(select(func.count()).select_from(PersonTag)) == 0


def test_undo_keeps_a_field_changed_again_since(session, tmp_path):
    run(session, first_list(tmp_path))
    second = run(session, first_list(tmp_path, "东澜区青柳路9号")).batch
    run(session, first_list(tmp_path, "东澜区青柳路7号"))
    assert second is not None
    undone = undo_batch(session, batch_id=second.id, user_id=None, now=NOW)
    assert (undone.restored, undone.kept) == (0, 1)
    assert person(session, WANG).address == "东澜区青柳路7号"


def test_a_disability_list_in_xlsx_sets_grade_and_phone_sealed(session, tmp_path):
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(
        ["序号", "姓名", "公民身份号码", "性别", "残疾类别", "残疾等级", "现住址", "联系电话"]
    )
    sheet.append([1, "王建国", WANG, "男", "肢体", "二级", "东澜区青柳路1号", "13812345678"])
    sheet.append([2, "李秀英", LI, "女", "视力", "五级", "东澜区青柳路2号", "13812345679"])
    book.save(tmp_path / "cl.xlsx")
    plan = run(session, tmp_path / "cl.xlsx", DISABILITY_COLUMNS, source="残联").plan
    assert [(p.row, p.column, p.reason) for p in plan.problems] == [
        (3, "残疾等级", "register.problem.grade")
    ]
    wang = person(session, WANG)
    assert wang.phone_sealed is not None and b"13812345678" not in wang.phone_sealed
    assert KEYS.open(wang.phone_sealed, field="phone") == "13812345678"
    tag = session.scalars(select(PersonTag)).one()
    assert (tag.tag, tag.details) == ("disability", {"kind": "肢体", "grade": 2})


def test_enterprises_match_by_credit_code(session, tmp_path):
    shop = credit_code("92990102MA0000001")
    factory = credit_code("91990102MA0000002")
    broken = factory[:-1] + ("0" if factory[-1] != "0" else "1")
    rows = [
        [shop, "青柳便利店", "东澜区青柳路5号", "零售", "低", "张三", "13800000001", "", ""],
        [
            factory,
            "东澜化工有限公司",
            "东澜区工业路1号",
            "hazardous_chemicals",
            "较大",
            "",
            "",
            "",
            "",
        ],
        [broken, "无效企业", "", "零售", "低", "", "", "", ""],
        [shop, "青柳便利店", "东澜区青柳路5号", "零售", "低", "张三", "", "", ""],
    ]
    first = run(
        session, enterprise_list(tmp_path / "a.csv", rows), ENTERPRISE_COLUMNS, source="市场监管局"
    )
    assert (first.plan.new, first.plan.invalid, first.plan.duplicates) == ([2, 3], [4], [5])
    assert [(p.row, p.column, p.reason) for p in first.plan.problems] == [
        (4, "统一社会信用代码", "register.problem.credit_code"),
        (5, "统一社会信用代码", "register.problem.duplicate"),
    ]
    rows[1][4] = "重大"
    second = run(
        session, enterprise_list(tmp_path / "b.csv", rows[:2]), ENTERPRISE_COLUMNS, commit=False
    )
    assert second.plan.matched == [2, 3]
    assert [(c.row, c.field, c.old, c.new) for c in second.plan.changes] == [
        (3, "risk_class", "elevated", "high")
    ]
    found = session.scalar(select(Enterprise).where(Enterprise.credit_code == factory))
    assert found is not None and (found.industry, found.risk_class) == (
        "hazardous_chemicals",
        "elevated",
    )


def test_undoing_a_tag_change_restores_its_details_and_provenance(session, tmp_path):
    first = run(session, first_list(tmp_path)).batch
    wang = person(session, WANG)
    tag = session.scalars(select(PersonTag).where(PersonTag.person_id == wang.id)).one()
    visit = NOW + timedelta(days=1)
    confirm_tag(tag, user_id=1, at=visit)
    session.flush()
    changed = allowance_list(
        tmp_path / "rural.csv",
        [["王建国", WANG, "男", "1940-03-12", "东澜区青柳路1号", "农村低保", "2024-01-01", ""]],
    )
    second = run(session, changed, source="民政局2", as_of=visit + timedelta(days=1)).batch
    assert second is not None and first is not None
    assert (tag.details, tag.source, tag.batch_id, tag.confirmed_at) == (
        {"kind": "rural"}, "民政局2", second.id, None
    )  # fmt: skip
    undo_batch(session, batch_id=second.id, user_id=None, now=NOW)
    assert (tag.details, tag.source, tag.batch_id, tag.confirmed_at, tag.confirmed_by) == (
        {"kind": "urban"}, "民政局", first.id, visit, 1
    )  # fmt: skip
