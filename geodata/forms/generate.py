"""Write the sample forms (samples/*.xlsx): thirteen forms shaped like those that departments
send down to communities every month, written for this project. They carry known overlaps
(three pairs ask for nearly the same figures) and fields no indicator covers, so that
`gridgov forms audit` can be tested against what was planted.

    python geodata/forms/generate.py            # rewrites samples/ beside this file
    python geodata/forms/generate.py OUT_DIR    # writes them elsewhere (the tests do)
"""

from __future__ import annotations

import sys
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side

# (file name, title, issuing department, header cells); a header of ("项目", "数量", ...)
# makes a form whose fields run down its first column (ROWS below).
FORMS = [
    (
        "01_社区基本情况统计表",
        "社区基本情况统计表",
        "区民政局",
        [
            "序号",
            "社区名称",
            "总户数",
            "总人口（人）",
            "60岁以上老年人数",
            "80岁以上老年人数",
            "残疾人数",
            "低保户数",
            "企业总数",
            "出租房屋数",
            "备注",
        ],
    ),
    (
        "02_社区人口情况表",
        "社区人口情况表",
        "区卫健委",
        [
            "社区",
            "户数",
            "人口总数",
            "60周岁以上老年人",
            "高龄老人人数",
            "独居老人数",
            "留守儿童数",
        ],
    ),
    (
        "03_高龄津贴发放花名册",
        "高龄老年人津贴发放花名册",
        "区民政局",
        [
            "序号",
            "姓名",
            "身份证号码",
            "性别",
            "出生日期",
            "年龄",
            "家庭住址",
            "联系电话",
            "补贴金额（元）",
            "银行账号",
        ],
    ),
    (
        "04_困难群众帮扶台账",
        "困难群众帮扶台账",
        "街道社会事务办",
        ["序号", "姓名", "身份证号", "家庭住址", "联系电话", "困难类型", "帮扶措施"],
    ),
    (
        "05_残疾人基本情况表",
        "残疾人基本情况表",
        "区残联",
        ["序号", "姓名", "性别", "身份证号码", "残疾类别", "残疾等级", "住址"],
    ),
    (
        "06_安全生产检查统计表",
        "安全生产检查统计表",
        "区应急管理局",
        ["社区名称", "企业总数", "重点监管企业数", "危化品企业数", "检查次数", "发现隐患数"],
    ),
    (
        "07_企业安全隐患排查表",
        "企业安全隐患排查表",
        "区市场监管局",
        ["社区", "辖区内企业数", "高风险企业数", "危险化学品企业数", "发现隐患数"],
    ),
    (
        "08_网格事件办理情况统计表",
        "网格事件办理情况统计表",
        "区社会治理中心",
        ["网格名称", "上报事件数", "办结事件数", "按期办结数", "超期事件数", "平均满意度"],
    ),
    (
        "09_城市管理问题处置月报",
        "城市管理问题处置月报",
        "区城市管理局",
        ["社区", "受理事件数", "结案数", "按时办结数", "逾期事件数"],
    ),
    (
        "10_应急物资储备情况表",
        "应急物资储备情况表",
        "区应急管理局",
        ["街道名称", "物资储备点数", "帐篷数量", "临期物资批次数", "填报人"],
    ),
    (
        "11_出租房屋及流动人口登记表",
        "出租房屋及流动人口登记表",
        "区公安分局",
        ["社区", "出租房屋数", "流动人口数", "走访户数"],
    ),
    (
        "12_退役军人服务站工作台账",
        "退役军人服务站工作台账",
        "区退役军人事务局",
        ["社区", "退役军人数", "走访户数", "慰问次数"],
    ),
    ("13_消防设施统计表", "消防设施统计表", "区消防救援大队", ["项目", "数量", "备注"]),
]
ROWS = {"13_消防设施统计表": ["消防栓数", "AED数量", "监控摄像头数"]}

THIN = Side(style="thin")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)


def write_form(path: Path, title: str, issuer: str, header: list[str], rows: list[str]) -> None:
    """One form: a merged title, who sends it, a bold header, empty ruled rows to fill."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    width = len(header)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet.cell(1, 1, title).font = Font(size=16, bold=True)
    sheet.cell(1, 1).alignment = Alignment(horizontal="center")
    sheet.cell(2, 1, f"填报单位：          （{issuer}制表）")
    sheet.cell(2, width, "年    月")
    for column, text in enumerate(header, start=1):
        cell = sheet.cell(3, column, text)
        cell.font, cell.border = Font(bold=True), BOX
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
        sheet.column_dimensions[cell.column_letter].width = max(10, 2.2 * len(text))
    labels = rows or [""] * 3
    for offset, label in enumerate(labels, start=4):
        for column in range(1, width + 1):
            sheet.cell(offset, column).border = BOX
        if label:
            sheet.cell(offset, 1, label)
    if not rows and "序号" not in header and "姓名" not in header:
        # Statistics forms end with a total row that sums each figure column.
        total = 4 + len(labels)
        sheet.cell(total, 1, "合计").font = Font(bold=True)
        for column in range(2, width + 1):
            letter = sheet.cell(3, column).column_letter
            sheet.cell(total, column, f"=SUM({letter}4:{letter}{total - 1})").border = BOX
    book.properties.creator = "gridgov sample forms"
    book.save(path)


def write_all(folder: Path) -> list[Path]:
    """Every sample form into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, title, issuer, header in FORMS:
        path = folder / f"{name}.xlsx"
        write_form(path, title, issuer, header, ROWS.get(name, []))
        paths.append(path)
    return paths


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "samples"
    for written in write_all(target):
        print(written)
