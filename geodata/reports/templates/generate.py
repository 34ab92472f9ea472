"""Write the shipped report templates: forms shaped like those a community is asked for every
month, with the placeholders `gridgov report fill` understands, written for this project.

    python geodata/reports/templates/generate.py            # rewrites the .xlsx beside this file
    python geodata/reports/templates/generate.py OUT_DIR    # writes them elsewhere (the tests do)

- 事件统计表.xlsx (incident statistics by category and status): fills from incidents now.
- 社区基本情况统计表.xlsx (a community's basic situation): population, households, tiers,
  households visited in the month, enterprises, and people by age band: the register's
  indicators.
- 高龄津贴发放花名册.xlsx (elderly-subsidy roster): one row per person aged 80 and over, the
  amount by age band a formula of the form itself (100 / 200 / 500 yuan a month).
"""

from __future__ import annotations

import sys
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.worksheet import Worksheet

THIN = Side(style="thin")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEAD = PatternFill("solid", fgColor="DDEBF7")
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _title(sheet: Worksheet, text: str, width: int) -> None:
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet["A1"] = text
    sheet["A1"].font = Font(name="宋体", size=16, bold=True)
    sheet["A1"].alignment = CENTRE
    sheet.row_dimensions[1].height = 30


def _box(sheet: Worksheet, rows: range, width: int, *, head: range = range(0)) -> None:
    for row in rows:
        for column in range(1, width + 1):
            cell = sheet.cell(row, column)
            cell.border = BOX
            cell.alignment = CENTRE
            if row in head:
                cell.fill = HEAD
                cell.font = Font(name="宋体", bold=True)


def incident_statistics() -> Workbook:
    """By category (rows) and status (columns), with totals and a closing rate; a second
    sheet by sub-area."""
    book = Workbook()
    sheet = book.active
    sheet.title = "按类别"
    width = 8
    _title(sheet, "{{area_name}}事件统计表", width)
    sheet["A2"] = "报告期：{{period}}"
    sheet.merge_cells("A2:D2")
    sheet["E2"] = "区划代码：{{area_code}}"
    sheet.merge_cells("E2:H2")
    sheet.merge_cells("A3:A4")
    sheet["A3"] = "事件类别"
    sheet.merge_cells("B3:B4")
    sheet["B3"] = "上报事件数"
    sheet.merge_cells("C3:E3")
    sheet["C3"] = "其中处置中"
    sheet["C4"], sheet["D4"], sheet["E4"] = "已派遣", "已受理", "已处置待核查"
    sheet.merge_cells("F3:F4")
    sheet["F3"] = "办结事件数"
    sheet.merge_cells("G3:G4")
    sheet["G3"] = "按期办结数"
    sheet.merge_cells("H3:H4")
    sheet["H3"] = "办结率"
    sheet["A5"] = "{{each category}}"
    sheet["C5"] = "{{count(incident, status = dispatched)}}"
    sheet["D5"] = "{{count(incident, status = accepted)}}"
    sheet["E5"] = "{{count(incident, status = resolved)}}"
    sheet["H5"] = '=IF(B5=0,"",F5/B5)'
    sheet["H5"].number_format = "0.0%"
    sheet["A6"] = "合计"
    for letter in "BCDEFG":
        sheet[f"{letter}6"] = f"=SUM({letter}5:{letter}5)"
    sheet["H6"] = '=IF(B6=0,"",F6/B6)'
    _box(sheet, range(3, 7), width, head=range(3, 5))
    sheet["H5"].number_format = sheet["H6"].number_format = "0.0%"
    sheet["A8"] = "填报人："
    sheet["E8"] = "填报日期：{{filled_on}}"
    sheet.column_dimensions["A"].width = 18
    for letter in "BCDEFGH":
        sheet.column_dimensions[letter].width = 12

    places = book.create_sheet("按区域")
    _title(places, "{{area_name}}各辖区事件情况（{{period}}）", 5)
    heads = ["辖区", "上报事件数", "办结事件数", "超期事件数", "平均满意度"]
    for column, text in enumerate(heads, start=1):
        places.cell(2, column, text)
    places["A3"] = "{{each sub_area}}"
    places["A4"] = "合计"
    for letter in "BCD":
        places[f"{letter}4"] = f"=SUM({letter}3:{letter}3)"
    places["E4"] = "{{mean(incident.rating)}}"
    _box(places, range(2, 5), 5, head=range(2, 3))
    places.column_dimensions["A"].width = 20
    return book


def community_basic() -> Workbook:
    """Label and value pairs, then people by age band."""
    book = Workbook()
    sheet = book.active
    sheet.title = "基本情况"
    _title(sheet, "社区基本情况统计表（{{period}}）", 4)
    pairs = [
        ("社区名称", None, "区划代码", "{{area_code}}"),
        ("总人口（人）", None, "总户数", None),
        ("60岁以上老年人数", None, "80岁以上老年人数", None),
        ("红色户数", None, "黄色户数", None),
        ("绿色户数", None, "出租房屋数", None),
        ("企业总数", None, "重点监管企业数", None),
        ("残疾人数", None, "低保人数", None),
        ("走访户数", None, "低保户数", None),
    ]
    for row, values in enumerate(pairs, start=2):
        for column, value in enumerate(values, start=1):
            sheet.cell(row, column, value)
    _box(sheet, range(2, 2 + len(pairs)), 4)
    start = 3 + len(pairs)
    sheet.cell(start, 1, "年龄段")
    sheet.cell(start, 2, "人数")
    sheet.cell(start, 3, "男")
    sheet.cell(start, 4, "女")
    sheet.cell(start + 1, 1, "{{each age_band: 0-17, 18-59, 60-79, 80-}}")
    sheet.cell(start + 1, 2, "{{count(person)}}")
    sheet.cell(start + 1, 3, "{{count(person, sex = male)}}")
    sheet.cell(start + 1, 4, "{{count(person, sex = female)}}")
    _box(sheet, range(start, start + 2), 4, head=range(start, start + 1))
    for letter in "ABCD":
        sheet.column_dimensions[letter].width = 20
    return book


def elderly_roster() -> Workbook:
    """One row per person aged 80 and over; the amount a formula of the age."""
    book = Workbook()
    sheet = book.active
    sheet.title = "花名册"
    width = 7
    _title(sheet, "{{area_name}}高龄津贴发放花名册（{{period}}）", width)
    sheet["A2"] = "标准：80-89岁每月100元，90-99岁200元，100岁及以上500元"
    sheet.merge_cells("A2:G2")
    heads = ["序号", "姓名", "身份证号码", "性别", "年龄", "家庭住址", "补贴金额（元）"]
    for column, text in enumerate(heads, start=1):
        sheet.cell(3, column, text)
    sheet["A4"] = "{{each person: age >= 80}}"
    sheet["B4"] = "{{person_name}}"
    sheet["C4"] = "{{person_id}}"
    sheet["D4"] = "{{person_sex}}"
    sheet["E4"] = "{{person_age}}"
    sheet["F4"] = "{{person_address}}"
    sheet["G4"] = '=IF(E4="","",IF(E4>=100,500,IF(E4>=90,200,100)))'
    sheet["A5"] = "合计"
    sheet.merge_cells("A5:F5")
    sheet["G5"] = "=SUM(G4:G4)"
    _box(sheet, range(3, 6), width, head=range(3, 4))
    for letter, size in zip("ABCDEFG", (6, 10, 22, 6, 6, 30, 14), strict=True):
        sheet.column_dimensions[letter].width = size
    return book


TEMPLATES = {
    "事件统计表.xlsx": incident_statistics,
    "社区基本情况统计表.xlsx": community_basic,
    "高龄津贴发放花名册.xlsx": elderly_roster,
}


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, make in TEMPLATES.items():
        make().save(folder / name)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
