"""The forms audit finds exactly what the sample folder plants: the forms that fill
themselves, three pairs that ask for the same figures, and five fields nothing covers."""

from __future__ import annotations

import importlib.util

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from gridgov.cli import app
from gridgov.config import PROJECT_ROOT
from gridgov.forms.audit import FormError, audit_forms
from gridgov.forms.audit_report import write_workbook
from gridgov.forms.indicators import load_indicators

SAMPLES = PROJECT_ROOT / "geodata/forms/samples"
VOCABULARY = load_indicators(PROJECT_ROOT / "geodata/indicators.csv")


def test_the_generator_makes_the_committed_samples(tmp_path):
    spec = importlib.util.spec_from_file_location("generate", SAMPLES.parent / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    made = generate.write_all(tmp_path)
    assert sorted(p.name for p in made) == sorted(p.name for p in SAMPLES.glob("*.xlsx"))
    for path in made:
        fresh = load_workbook(path).active
        kept = load_workbook(SAMPLES / path.name).active
        assert list(fresh.values) == list(kept.values), path.name
        assert fresh.merged_cells.ranges == kept.merged_cells.ranges


def test_the_planted_overlaps_and_gaps_are_found_exactly():
    audit = audit_forms(SAMPLES, VOCABULARY)
    assert len(audit.forms) == 13
    assert audit.automatic == [
        "01_社区基本情况统计表", "02_社区人口情况表", "05_残疾人基本情况表",
        "07_企业安全隐患排查表",
        "08_网格事件办理情况统计表", "09_城市管理问题处置月报", "10_应急物资储备情况表",
        "11_出租房屋及流动人口登记表", "13_消防设施统计表",
    ]  # fmt: skip
    assert [(m.forms, m.shared) for m in audit.merges] == [
        (("01_社区基本情况统计表", "02_社区人口情况表"),
         ("elderly_60", "elderly_80", "households_total", "people_total")),
        (("06_安全生产检查统计表", "07_企业安全隐患排查表"),
         ("enterprises_hazardous", "enterprises_high_risk", "enterprises_total",
          "incidents_safety")),
        (("08_网格事件办理情况统计表", "09_城市管理问题处置月报"),
         ("incidents_closed", "incidents_overdue", "incidents_reported",
          "incidents_within_deadline")),
    ]  # fmt: skip
    assert audit.uncovered == {
        "补贴金额（元）": ["03_高龄津贴发放花名册"],
        "银行账号": ["03_高龄津贴发放花名册"],
        "帮扶措施": ["04_困难群众帮扶台账"],
        "检查次数": ["06_安全生产检查统计表"],
        "慰问次数": ["12_退役军人服务站工作台账"],
    }


def test_each_way_of_matching_is_shown_with_its_confidence():
    audit = audit_forms(SAMPLES, VOCABULARY)
    matches = {(f.name, m.field): m for f in audit.forms for m in f.matches}
    exact = matches[("01_社区基本情况统计表", "总人口（人）")]
    synonym = matches[("09_城市管理问题处置月报", "结案数")]
    fuzzy = matches[("07_企业安全隐患排查表", "辖区内企业数")]
    assert (exact.method, exact.indicator.code, exact.score) == ("exact", "people_total", 100)
    assert (synonym.method, synonym.indicator.code) == ("synonym", "incidents_closed")
    assert (fuzzy.method, fuzzy.indicator.code) == ("fuzzy", "enterprises_total")
    assert 80 <= fuzzy.score < 100
    # A form whose fields run down its first column (项目 | 数量) is read by rows.
    rows = next(f for f in audit.forms if f.name == "13_消防设施统计表")
    assert [m.indicator.code for m in rows.matches] == ["hydrants", "aeds", "cameras"]


def test_the_workbook_holds_the_same_findings(tmp_path):
    audit = audit_forms(SAMPLES, VOCABULARY)
    path = tmp_path / "audit.xlsx"
    write_workbook(audit, path, "zh")
    book = load_workbook(path)
    assert book.sheetnames == ["表单", "字段映射", "可合并", "未覆盖字段"]
    uncovered = list(book["未覆盖字段"].values)
    assert uncovered[0] == ("字段", "表单") and ("银行账号", "03_高龄津贴发放花名册") in uncovered
    assert len(list(book["可合并"].values)) == 1 + 3


@pytest.mark.parametrize(
    "content", [b"not a zip at all", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504]
)
def test_a_corrupt_or_encrypted_form_is_one_line_naming_it(tmp_path, content):
    (tmp_path / "bad.xlsx").write_bytes(content)
    with pytest.raises(FormError, match=r"bad\.xlsx: cannot be read"):
        audit_forms(tmp_path, VOCABULARY)
    result = CliRunner().invoke(app, ["forms", "audit", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "bad.xlsx" in result.output


def test_cli_prints_the_audit_and_writes_the_workbook(tmp_path):
    target = tmp_path / "audit.xlsx"
    result = CliRunner().invoke(
        app, ["forms", "audit", str(SAMPLES), "--xlsx", str(target), "--lang", "en"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("13 forms, 9 of them fill themselves entirely")
    assert "Forms that could merge: 3 groups" in result.output and target.exists()
