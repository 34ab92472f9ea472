"""The demo city's three department lists, as offices send them, with planted mistakes.

Used by register_generate.py. Each list is the register's own facts in the department's
words (Chinese headers and values), then a handful of rows are spoiled on purpose and every
spoiled row is written to the manifest (mistakes.json) with its row number as a spreadsheet
numbers it (the header is row 1) and what an import must make of it:

- ``invalid``: the row must be refused (bad check digit or character, impossible birth date,
  an ID number that a spreadsheet stored as a number and so lost its last digits);
- ``duplicate``: the same row again (``of_row`` names the first);
- ``changed``: matches a register record but one field differs (``field``: its canonical
  name, e.g. a conflicting address);
- ``new``: a valid person or enterprise the register does not have;
- ``matched``: matches in spite of a quirk (no ID number: by name, birth date and address; a
  lower-case x check digit).
Every other row matches a register record exactly, with nothing to change.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np

# openpyxl writes XML with lxml when it is installed and with the standard library otherwise,
# byte for byte differently: always the standard library, so the file does not depend on it.
os.environ["OPENPYXL_LXML"] = "False"
from openpyxl import Workbook
from register_generate import with_check_digit
from stdnum.cn import ric, uscc

SEED_OFFSET = 1  # the department lists draw from their own stream
SEX = {"male": "男", "female": "女"}
GRADE = {"1": "一级", "2": "二级", "3": "三级", "4": "四级"}
INDUSTRY = {  # GB/T 4754 sections, as the market regulator writes them
    "retail": "批发和零售业",
    "catering": "住宿和餐饮业",
    "services": "居民服务",
    "manufacturing": "制造业",
    "construction": "建筑业",
    "logistics": "交通运输、仓储和邮政业",
    "hazardous_chemicals": "危险化学品",
}
# The words offices use for tag kinds (肢体残疾 for physical ...): geodata/register/tag_kinds.csv.
TAG_KINDS = Path(__file__).resolve().parents[1] / "register" / "tag_kinds.csv"
RISK = {"low": "低", "normal": "一般", "elevated": "较大", "high": "重大"}
CIVIL_AFFAIRS = "民政局_低保对象名单.csv"
DISABLED = "残联_持证残疾人名单.xlsx"
MARKET = "市场监管局_企业名单.csv"
FIXED_TIME = (2026, 12, 1, 0, 0, 0)


@cache
def kind_words() -> dict[tuple[str, str], str]:
    """(tag, kind) -> the Chinese word departments write for it."""
    with TAG_KINDS.open(encoding="utf-8", newline="") as fh:
        return {(row["tag"], row["kind"]): row["name_zh"] for row in csv.DictReader(fh)}


class Spoiler:
    """Rows of one list and the mistakes planted in them."""

    def __init__(self, rng: np.random.Generator, rows: list[dict[str, str]]) -> None:
        self.rng = rng
        self.rows = rows
        self.notes: list[tuple[dict[str, str], dict[str, object]]] = []
        self.spoiled: set[int] = set()

    def clean_row(self) -> dict[str, str]:
        """A row not yet spoiled (and not a copy)."""
        while True:
            index = int(self.rng.integers(len(self.rows)))
            row = self.rows[index]
            if id(row) not in self.spoiled:
                self.spoiled.add(id(row))
                return row

    def note(self, row: dict[str, str], **what: object) -> None:
        self.spoiled.add(id(row))
        self.notes.append((row, what))

    def insert(self, row: dict[str, str], **what: object) -> None:
        """Add a row at a random place after the first ten."""
        self.rows.insert(int(self.rng.integers(10, len(self.rows))), row)
        self.note(row, **what)

    def duplicate(self, count: int) -> None:
        for _ in range(count):
            original = self.clean_row()
            copy = dict(original)
            # Later than the original, so "of_row" is the first occurrence.
            position = self.rows.index(original) + 1 + int(self.rng.integers(0, 40))
            self.rows.insert(min(position, len(self.rows)), copy)
            self.note(copy, kind="duplicate_row", expected="duplicate", of=original)

    def finish(self, number_column: str | None = "序号") -> list[dict[str, object]]:
        """Number the rows and return the manifest, by row."""
        row_of = {id(row): n for n, row in enumerate(self.rows, start=2)}
        if number_column:
            for n, row in enumerate(self.rows, start=1):
                row[number_column] = str(n)
        out = []
        for row, what in self.notes:
            entry: dict[str, object] = {"row": row_of[id(row)]}
            for key, value in what.items():
                entry["of_row" if key == "of" else key] = (
                    row_of[id(value)] if key == "of" else value
                )
            out.append(entry)
        return sorted(out, key=lambda e: e["row"])  # type: ignore[arg-type, return-value]


def spoil_check_digit(number: str) -> str:
    """The same number with a wrong last character."""
    right = number[-1]
    return number[:-1] + ("1" if right != "1" else "2")


def fresh_id(rng: np.random.Generator, taken: set[str], sex: str) -> str:
    """A valid ID number nobody in the register has."""
    while True:
        born = date(
            int(rng.integers(1950, 2005)), int(rng.integers(1, 13)), 1 + int(rng.integers(28))
        )
        region = ["990102", "990103", "990104", "990105"][int(rng.integers(4))]
        body = f"{region}{born:%Y%m%d}{int(rng.integers(0, 500)) * 2 + (sex == 'male'):03d}"
        number = with_check_digit(body)
        if number not in taken:
            taken.add(number)
            return number


def civil_affairs(register, rng: np.random.Generator) -> tuple[list[dict], list[dict]]:
    """民政局's list of people on the minimum living allowance (current ones only)."""
    homes = home_addresses(register)
    rows = []
    for p in register.people:
        for t in p.tags:
            if t["tag"] == "allowance" and (not t["valid_to"] or t["valid_to"] >= "2026-12-01"):
                rows.append(
                    {
                        "序号": "",
                        "姓名": p.name,
                        "身份证号码": p.id_number,
                        "性别": SEX[p.sex],
                        "出生日期": str(p.birth_date),
                        "家庭住址": homes[p.household_code],
                        "保障类别": kind_words()[("allowance", t["kind"])],
                        "保障起始日期": t["valid_from"],
                        "保障终止日期": t["valid_to"],
                    }
                )
    s = Spoiler(rng, rows)
    column = "身份证号码"
    for _ in range(3):
        row = s.clean_row()
        row[column] = spoil_check_digit(row[column])
        s.note(row, kind="invalid_check_digit", column=column, expected="invalid")
    row = s.clean_row()
    body = row[column][:10] + "0231" + row[column][14:17]
    row[column] = with_check_digit(body)
    s.note(row, kind="impossible_birth_date", column=column, expected="invalid")
    for _ in range(3):
        row = s.clean_row()
        row["家庭住址"] = other_address(register, rng, row["家庭住址"])
        s.note(
            row, kind="conflicting_address", column="家庭住址", expected="changed", field="address"
        )
    for _ in range(2):
        row = s.clean_row()
        row[column] = ""
        s.note(row, kind="no_id_number", column=column, expected="matched")
    s.duplicate(2)
    for _ in range(3):
        s.insert(
            new_person_row(register, rng, rows[0], id_column=column),
            kind="not_in_register",
            expected="new",
        )
    return s.rows, s.finish()


def new_person_row(register, rng, template: dict[str, str], *, id_column: str) -> dict[str, str]:
    """A row like ``template`` for a person the register does not have."""
    sex = "male" if rng.random() < 0.5 else "female"
    number = fresh_id(rng, register.used_ids, sex)
    born = ric.get_birth_date(number)
    row = dict(template)
    row.update({id_column: number, "姓名": register.name(sex, born), "性别": SEX[sex]})
    if "出生日期" in row:
        row["出生日期"] = str(born)
    if "联系电话" in row:
        row["联系电话"] = f"1360000{int(rng.integers(10_000)):04d}"
    address_column = "家庭住址" if "家庭住址" in row else "现住址"
    row[address_column] = other_address(register, rng, "")
    return row


def disabled_persons(register, rng: np.random.Generator) -> tuple[list[dict], list[dict]]:
    """残联's list of people holding a disability certificate."""
    homes = home_addresses(register)
    rows = []
    for p in register.people:
        for t in p.tags:
            if t["tag"] == "disability":
                rows.append(
                    {
                        "序号": "",
                        "姓名": p.name,
                        "公民身份号码": p.id_number,
                        "性别": SEX[p.sex],
                        "残疾类别": kind_words()[("disability", t["kind"])],
                        "残疾等级": GRADE[t["grade"]],
                        "现住址": homes[p.household_code],
                        "联系电话": p.phone,
                    }
                )
    s = Spoiler(rng, rows)
    column = "公民身份号码"
    for _ in range(2):
        row = s.clean_row()
        row[column] = spoil_check_digit(row[column])
        s.note(row, kind="invalid_check_digit", column=column, expected="invalid")
    row = s.clean_row()
    while row[column].endswith("X"):
        row = s.clean_row()
    row[column] = float(f"{int(row[column]):.15g}")  # type: ignore[assignment]
    s.note(row, kind="id_stored_as_number", column=column, expected="invalid")
    with_x = [r for r in rows if id(r) not in s.spoiled and r[column].endswith("X")]
    if with_x:
        row = with_x[int(rng.integers(len(with_x)))]
        row[column] = row[column][:-1] + "x"
        s.note(row, kind="lowercase_x", column=column, expected="matched")
    for _ in range(2):
        row = s.clean_row()
        row["现住址"] = other_address(register, rng, row["现住址"])
        s.note(
            row, kind="conflicting_address", column="现住址", expected="changed", field="address"
        )
    for _ in range(2):
        row = s.clean_row()
        grade = next(k for k, v in GRADE.items() if v == row["残疾等级"])
        row["残疾等级"] = GRADE["2" if grade != "2" else "3"]
        s.note(row, kind="grade_changed", column="残疾等级", expected="changed", field="grade")
    s.duplicate(2)
    for _ in range(2):
        s.insert(
            new_person_row(register, rng, rows[0], id_column=column),
            kind="not_in_register",
            expected="new",
        )
    return s.rows, s.finish()


def market_regulator(register, enterprises, rng) -> tuple[list[dict], list[dict]]:
    """市场监管局's list of enterprises."""

    def row_of(e: dict[str, str]) -> dict[str, str]:
        return {
            "统一社会信用代码": e["credit_code"],
            "企业名称": e["name"],
            "住所": e["address"],
            "行业": INDUSTRY[e["industry"]],
            "风险等级": RISK[e["risk_class"]],
            "联系人": e["contact"],
            "联系电话": e["phone"],
            "经度": e["lon"],
            "纬度": e["lat"],
        }

    s = Spoiler(rng, [row_of(e) for e in enterprises])
    column = "统一社会信用代码"
    for _ in range(2):
        row = s.clean_row()
        right = row[column][-1]
        row[column] = row[column][:-1] + ("A" if right != "A" else "B")
        s.note(row, kind="invalid_check_character", column=column, expected="invalid")
    for _ in range(2):
        row = s.clean_row()
        row["住所"] = other_address(register, rng, row["住所"])
        s.note(row, kind="conflicting_address", column="住所", expected="changed", field="address")
    row = s.clean_row()
    row["风险等级"] = RISK["high"] if row["风险等级"] != RISK["high"] else RISK["elevated"]
    s.note(
        row, kind="risk_class_changed", column="风险等级", expected="changed", field="risk_class"
    )
    s.duplicate(2)
    codes = {e["credit_code"] for e in enterprises}
    for n in range(4):
        extra = dict(enterprises[int(rng.integers(len(enterprises)))])
        while extra["credit_code"] in codes:
            body = extra["credit_code"][:10] + "".join(
                uscc._alphabet[int(i)] for i in rng.integers(0, 31, 7)
            )
            extra["credit_code"] = body + uscc.calc_check_digit(body)
        codes.add(extra["credit_code"])
        extra["name"] = f"示范市新设{n + 1}号商贸有限公司"
        s.insert(row_of(extra), kind="not_in_register", expected="new")
    return s.rows, s.finish(number_column=None)


def home_addresses(register) -> dict[str, str]:
    """Household code -> the full address of its house."""
    houses = {h.code: h for h in register.houses}
    return {code: houses[house].full_address for code, house, _ in register.households}


def other_address(register, rng: np.random.Generator, not_this: str) -> str:
    while True:
        house = register.houses[int(rng.integers(len(register.houses)))]
        if house.use != "shop" and house.full_address != not_this:
            return house.full_address


def write_xlsx(path: Path, rows: list[dict]) -> None:
    """An .xlsx with the same bytes on every run (fixed times inside and in the zip)."""
    book = Workbook()
    sheet = book.active
    sheet.title = "持证残疾人"
    sheet.append(list(rows[0]))
    for row in rows:
        sheet.append(list(row.values()))
    buffer = io.BytesIO()
    book.save(buffer)
    stamp = "2026-12-01T00:00:00Z"
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp.encode(), data)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, data)


def write_all(register, enterprises: list[dict], folder: Path, seed: int) -> dict[str, object]:
    """Write the three lists into ``folder``; return the manifest of planted mistakes."""
    rng = np.random.default_rng(seed + SEED_OFFSET)
    folder.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, object] = {}
    rows, notes = civil_affairs(register, rng)
    with (folder / CIVIL_AFFAIRS).open("w", newline="", encoding="gbk") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))  # \r\n, as Excel saves it
        writer.writeheader()
        writer.writerows(rows)
    manifest[f"departments/{CIVIL_AFFAIRS}"] = describe("gbk", rows, notes)
    rows, notes = disabled_persons(register, rng)
    write_xlsx(folder / DISABLED, rows)
    manifest[f"departments/{DISABLED}"] = describe("xlsx", rows, notes)
    rows, notes = market_regulator(register, enterprises, rng)
    with (folder / MARKET).open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    manifest[f"departments/{MARKET}"] = describe("utf-8-sig", rows, notes)
    return manifest


def describe(encoding: str, rows: list[dict], notes: list[dict]) -> dict[str, object]:
    """One file's entry of the manifest: rows, the expected totals of a dry run, mistakes."""
    totals = {"invalid": 0, "duplicate": 0, "new": 0, "changed": 0}
    for note in notes:
        if note["expected"] in totals:
            totals[note["expected"]] += 1  # type: ignore[index]
    matched = len(rows) - totals["invalid"] - totals["duplicate"] - totals["new"]
    return {
        "encoding": encoding,
        "rows": len(rows),
        "expected": {"matched": matched, **totals},
        "mistakes": notes,
    }
