"""Small register files for the tests, written to a temporary folder (never tracked files)."""

from __future__ import annotations

import csv
from pathlib import Path

from stdnum.cn import ric

from gridgov.config import PROJECT_ROOT
from gridgov.register.protect import RegisterKeys

COLUMNS = PROJECT_ROOT / "geodata" / "register" / "columns"
ALLOWANCE_COLUMNS = COLUMNS / "民政局_低保对象名单.csv"
DISABILITY_COLUMNS = COLUMNS / "残联_持证残疾人名单.csv"
ENTERPRISE_COLUMNS = COLUMNS / "市场监管局_企业名单.csv"
ALLOWANCE_HEADER = [
    "序号",
    "姓名",
    "身份证号码",
    "性别",
    "出生日期",
    "家庭住址",
    "保障类别",
    "保障起始日期",
    "保障终止日期",
]
ENTERPRISE_HEADER = [
    "统一社会信用代码",
    "企业名称",
    "住所",
    "行业",
    "风险等级",
    "联系人",
    "联系电话",
    "经度",
    "纬度",
]
REGISTER_SECRET = "register-test-key-" + "k" * 20
KEYS = RegisterKeys.from_secret(REGISTER_SECRET)


def id_number(region: str, born: str, sequence: str) -> str:
    """A synthetic GB 11643 number with a valid check character (born: YYYYMMDD;
    sequence: 3 digits, odd last digit for a man)."""
    body = region + born + sequence
    return body + ric.calc_check_digit(body + "0")


def credit_code(body: str) -> str:
    """A GB 32100 code with a valid check character (body: 17 characters)."""
    from stdnum.cn import uscc

    return body + uscc.calc_check_digit(body)


def write_csv(
    path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8"
) -> Path:
    """A CSV file as an office would save it."""
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def allowance_list(path: Path, rows: list[list[str]], encoding: str = "gbk") -> Path:
    """Civil affairs' allowance list (GBK, as its office saves it): rows without 序号."""
    numbered = [[str(n), *row] for n, row in enumerate(rows, start=1)]
    return write_csv(path, ALLOWANCE_HEADER, numbered, encoding)


def enterprise_list(path: Path, rows: list[list[str]]) -> Path:
    """The market regulator's list (UTF-8 with BOM)."""
    return write_csv(path, ENTERPRISE_HEADER, rows, "utf-8-sig")


HEAD_GRID = "990105009003007"  # the demo grid head's grid, at 109.1°E 21.55°N
GRASSROOTS_HEADERS = {
    "houses": ["house_code", "address", "building", "unit", "room", "lon", "lat", "use", "tenure"],
    "households": ["household_code", "house_code"],
    "people": ["id_number", "name", "sex", "birth_date", "phone", "household_code", "relation"],
    "tags": ["id_number", "tag", "kind", "grade", "valid_from", "valid_to"],
    "enterprises": ["credit_code", "name", "address", "lon", "lat", "industry", "risk_class",
                    "contact", "phone"],
    "things": ["thing_code", "kind", "name", "lon", "lat"],
}  # fmt: skip


def write_grassroots(folder: Path, files: dict[str, list[list[str]]]) -> Path:
    """The grassroots' own register files (canonical English columns) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in files.items():
        write_csv(folder / f"{name}.csv", GRASSROOTS_HEADERS[name], rows)
    return folder
