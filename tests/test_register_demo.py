"""The demo register: reproducible from its generator, valid numbers, houses in their grids,
and department lists whose planted mistakes are exactly those the manifest lists."""

from __future__ import annotations

import csv
import filecmp
import json
import subprocess
import sys
from collections import Counter
from functools import cache

import numpy as np
import pandas as pd
import pytest
import shapely
from openpyxl import load_workbook
from stdnum.cn import ric, uscc

from tests.conftest import GEODATA

DEMO = GEODATA / "demo_city"
REGISTER = DEMO / "register"
CSV_FILES = [
    "houses.csv",
    "households.csv",
    "people.csv",
    "tags.csv",
    "enterprises.csv",
    "things.csv",
    "mistakes.json",
    "departments/民政局_低保对象名单.csv",
    "departments/市场监管局_企业名单.csv",
]
XLSX = "departments/残联_持证残疾人名单.xlsx"


@cache
def table(name: str) -> pd.DataFrame:
    return pd.read_csv(REGISTER / name, dtype=str, keep_default_na=False)


def valid_id(number: str) -> bool:
    """GB 11643 check digit and birth date (stdnum's validate also wants a real region; the
    demo's 9901xx are invented on purpose)."""
    try:
        ric.get_birth_date(number)
    except Exception:
        return False
    return (
        len(number) == 18 and number[:17].isdigit() and ric.calc_check_digit(number) == number[-1]
    )


def test_the_generator_reproduces_the_committed_files(tmp_path):
    script = DEMO / "register_generate.py"
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True, capture_output=True)
    _, mismatch, errors = filecmp.cmpfiles(REGISTER, tmp_path, CSV_FILES, shallow=False)
    assert (mismatch, errors) == ([], [])
    # The spreadsheet's XML is spelt differently with and without lxml: compare its cells.
    old, new = (load_workbook(folder / XLSX, read_only=True) for folder in (REGISTER, tmp_path))
    assert [list(r) for r in old.active.values] == [list(r) for r in new.active.values]


def test_the_population_has_the_promised_size_and_shape():
    people, households = table("people.csv"), table("households.csv")
    assert len(households) == 20_000 and 48_000 <= len(people) <= 53_000
    assert set(people.household_code) == set(households.household_code)
    assert (people.relation == "head").sum() == len(households)
    born = pd.to_datetime(people.birth_date)
    age = (pd.Timestamp("2026-12-01") - born).dt.days / 365.25
    assert 0.18 < (age >= 60).mean() < 0.28 and age.min() >= 0 and age.max() < 102
    assert set(people.sex) == {"male", "female"}
    assert set(people.relation) <= {"head", "spouse", "child", "parent", "grandchild", "other"}
    tags = table("tags.csv")
    counts = Counter(tags.tag)
    assert set(counts) == {
        "living_alone", "disability", "allowance", "left_behind_child", "veteran",
        "rental_tenant", "special_care", "chronic_illness", "no_carer",
    }  # fmt: skip
    disability = tags[tags.tag == "disability"]
    assert set(disability.grade) == {"1", "2", "3", "4"} and all(disability.kind)
    assert set(tags.id_number) <= set(people.id_number)


def test_every_id_number_is_valid_and_agrees_with_the_person():
    people = table("people.csv")
    assert people.id_number.is_unique
    for number, birth, sex in zip(people.id_number, people.birth_date, people.sex, strict=True):
        assert valid_id(number), number
        assert number.startswith("9901") and number[:6] in {"990102", "990103", "990104", "990105"}
        assert str(ric.get_birth_date(number)) == birth
        assert (int(number[16]) % 2 == 1) == (sex == "male")


def test_every_credit_code_is_valid():
    codes = table("enterprises.csv").credit_code
    assert codes.is_unique and 300 <= len(codes) <= 500
    assert all(uscc.is_valid(code) for code in codes)


def test_houses_lie_in_the_grids_in_proportion_to_their_households():
    grids = json.loads((DEMO / "grids.geojson").read_text(encoding="utf-8"))["features"]
    shapes = [shapely.geometry.shape(g["geometry"]) for g in grids]
    houses, households = table("houses.csv"), table("households.csv")
    points = shapely.points(houses.lon.astype(float), houses.lat.astype(float))
    where, which = shapely.STRtree(shapes).query(points, predicate="intersects")
    assert np.array_equal(np.unique(where), np.arange(len(houses)))  # every house in a grid
    grid_of_house = dict(zip(houses.house_code[where], which, strict=True))
    per_grid = Counter(grid_of_house[h] for h in households.house_code)
    figures = np.array([g["properties"]["households"] for g in grids])
    expected = figures * 20_000 / figures.sum()
    assert all(abs(per_grid.get(i, 0) - expected[i]) < 1 for i in range(len(grids)))
    assert not houses.duplicated(["address", "building", "unit", "room"]).any()


def department(name: str) -> list[dict[str, str]]:
    path = REGISTER / "departments" / name
    if path.suffix == ".xlsx":
        frame = pd.read_excel(path, dtype=str, keep_default_na=False)
        return frame.to_dict("records")
    encoding = manifest()[f"departments/{name}"]["encoding"]
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))


@cache
def manifest() -> dict:
    return json.loads((REGISTER / "mistakes.json").read_text(encoding="utf-8"))


@cache
def addresses() -> dict[str, str]:
    """ID number -> the full address of the person's house (as the departments write it)."""
    houses = table("houses.csv")
    rooms = houses.building + "栋" + houses.unit + "单元" + houses.room + "室"
    houses = houses.assign(full=houses.address + rooms.where(houses.building != "", ""))
    merged = table("people.csv").merge(table("households.csv"), on="household_code")
    merged = merged.merge(houses, on="house_code")
    return dict(zip(merged.id_number, merged.full, strict=True))


PEOPLE_LISTS = [
    ("民政局_低保对象名单.csv", "身份证号码", "家庭住址"),
    ("残联_持证残疾人名单.xlsx", "公民身份号码", "现住址"),
]


@pytest.mark.parametrize(("name", "id_column", "address_column"), PEOPLE_LISTS)
def test_person_lists_hold_exactly_the_planted_mistakes(name, id_column, address_column):
    rows = department(name)
    entry = manifest()[f"departments/{name}"]
    planted = {m["row"]: m for m in entry["mistakes"]}
    assert entry["rows"] == len(rows)
    people = table("people.csv").set_index("id_number")
    found = {}
    seen: dict[tuple, int] = {}
    for number, row in enumerate(rows, start=2):
        key = tuple(v for k, v in row.items() if k != "序号")
        ident = str(row[id_column]).strip().upper()
        if key in seen:
            found[number] = ("duplicate", seen[key])
        elif not valid_id(ident):
            found[number] = ("invalid",) if ident else ("matched",)  # no ID: by name etc.
        elif ident not in people.index:
            found[number] = ("new",)
        elif row[address_column] != addresses()[ident]:
            found[number] = ("changed", "address")
        elif "残疾等级" in row and row["残疾等级"] != grade_of(ident):
            found[number] = ("changed", "grade")
        elif ident != row[id_column]:
            found[number] = ("matched",)  # a lower-case x
        else:
            assert people.loc[ident, "name"] == row["姓名"]
        seen.setdefault(key, number)
    expected = {}
    for number, m in planted.items():
        extra = (m["of_row"],) if "of_row" in m else (m["field"],) if "field" in m else ()
        expected[number] = (m["expected"], *extra)
    assert found == expected


@cache
def grades() -> dict[str, str]:
    tags = table("tags.csv")
    disability = tags[tags.tag == "disability"]
    return dict(zip(disability.id_number, disability.grade, strict=True))


def grade_of(number: str) -> str:
    return "一二三四"[int(grades()[number]) - 1] + "级"


def test_the_civil_affairs_list_is_gbk_and_not_utf8():
    raw = (REGISTER / "departments" / "民政局_低保对象名单.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert raw.decode("gbk").startswith("序号,姓名,身份证号码")


def test_the_enterprise_list_holds_exactly_the_planted_mistakes():
    name = "市场监管局_企业名单.csv"
    raw = (REGISTER / "departments" / name).read_bytes()
    assert raw.startswith("\ufeff".encode())
    rows = department(name)
    entry = manifest()[f"departments/{name}"]
    register = table("enterprises.csv").set_index("credit_code")
    risk = {"low": "低", "normal": "一般", "elevated": "较大", "high": "重大"}
    found, seen = {}, {}
    for number, row in enumerate(rows, start=2):
        key = tuple(row.values())
        code = row["统一社会信用代码"]
        if key in seen:
            found[number] = ("duplicate", seen[key])
        elif not uscc.is_valid(code):
            found[number] = ("invalid",)
        elif code not in register.index:
            found[number] = ("new",)
        elif row["住所"] != register.loc[code, "address"]:
            found[number] = ("changed", "address")
        elif row["风险等级"] != risk[register.loc[code, "risk_class"]]:
            found[number] = ("changed", "risk_class")
        seen.setdefault(key, number)
    expected = {
        m["row"]: (
            m["expected"],
            *([m["of_row"]] if "of_row" in m else [m.get("field")] if "field" in m else []),
        )
        for m in entry["mistakes"]
    }
    assert found == expected
