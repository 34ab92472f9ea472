"""One language per run: every --help and every message of the gridgov command is zh by
default, en with --lang en (before or after the sub-command) or GRIDGOV_LANG."""

from __future__ import annotations

import re

import pytest
import typer
import typer.rich_utils
from typer.testing import CliRunner

from gridgov.cli import app
from gridgov.config import get_settings
from gridgov.i18n import catalogue
from gridgov.i18n.cli import help_keys

runner = CliRunner()
CJK = re.compile(r"[\u4e00-\u9fff]")


def command_paths(command, prefix=()):
    yield prefix
    for name, child in getattr(command, "commands", {}).items():
        yield from command_paths(child, (*prefix, name))


TREE = typer.main.get_command(app)
PATHS = list(command_paths(TREE))


@pytest.fixture(autouse=True)
def no_language_in_environment(monkeypatch):
    monkeypatch.delenv("GRIDGOV_LANG", raising=False)
    # One line per text, so that whole texts can be looked for in the help.
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", 1000)


def test_every_help_text_is_a_key_in_both_catalogues():
    texts = list(help_keys(typer.main.get_command(app)))
    assert len(texts) > 60
    for where, text in texts:
        assert text, f"{where} has no help"
        assert text in catalogue("zh") and text in catalogue("en"), f"{where}: {text!r}"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "gridgov")
def test_every_help_is_chinese_by_default_and_english_on_request(path):
    english = {v for k, v in catalogue("en").items() if k.startswith("cli.") and len(v) > 12}
    zh = runner.invoke(app, [*path, "--help"])
    assert zh.exit_code == 0, zh.output
    assert CJK.search(zh.output)
    assert not [text for text in english if text.rstrip(".") in zh.output]
    for where in ("--help", "--lang", "--lang=en"):
        args = {
            "--help": ["--lang", "en", *path, "--help"],
            "--lang": [*path, "--help", "--lang", "en"],
            "--lang=en": [*path, "--lang=en", "--help"],
        }[where]
        en = runner.invoke(app, args)
        assert en.exit_code == 0, en.output
        assert "Show this message and exit." in en.output
        assert "显示本帮助" not in en.output


def test_the_environment_chooses_english(monkeypatch):
    monkeypatch.setenv("GRIDGOV_LANG", "en_US.UTF-8")
    result = runner.invoke(app, ["escalate"])
    assert result.exit_code == 1
    assert result.output.strip() == "error: say --now to run an escalation pass"


def test_an_unknown_language_is_refused():
    result = runner.invoke(app, ["--lang", "fr", "demo", "load"])
    assert result.exit_code == 2
    assert result.output.strip() == "错误：不支持的语言 'fr'：请用 zh 或 en"


# Error paths that need no database: each must be one line (plus a usage hint for usage
# errors) in the run's language.
ERRORS = [
    (["escalate"], "错误：加 --now 才运行一轮升级", "error: say --now to run an escalation pass"),
    (
        ["import", "boundaries", "{tmp}/none.geojson", "--level", "city"],
        "错误：{tmp}/none.geojson：文件不存在",
        "error: {tmp}/none.geojson: no such file",
    ),
    (
        ["import", "boundaries", "{tmp}/empty.csv", "--level", "city"],
        "错误：{tmp}/empty.csv：CSV 需要一列 wkt 存放几何",
        "error: {tmp}/empty.csv: a CSV needs a 'wkt' column with the geometry",
    ),
    (
        ["import", "departments", "{tmp}/empty.csv"],
        "错误：{tmp}/empty.csv：缺少列 name, level, area_code；文件中的列：code",
        "error: {tmp}/empty.csv: missing column(s) name, level, area_code; the file has: code",
    ),
    (
        ["locate", "{tmp}/binary.csv"],
        "错误：{tmp}/binary.csv：无法识别文本编码，请用 --encoding 指定（如 gbk、utf-8）",
        "error: {tmp}/binary.csv: unknown text encoding; pass --encoding (e.g. gbk, utf-8)",
    ),
    (
        ["users", "add", "x", "--role", "admin", "--password", "p", "--generate-password"],
        "错误：--password 与 --generate-password 只能给一个",
        "error: give --password or --generate-password, not both",
    ),
    (
        ["import", "boundaries", "x.geojson"],
        "错误：缺少 '--level' 可选： city, district, street, community, grid\n"
        "运行 'gridgov import boundaries --help' 查看用法。",
        "error: missing '--level' Choose from: city, district, street, community, grid\n"
        "Try 'gridgov import boundaries --help' for help.",
    ),
    (
        ["locate", "--nope"],
        "错误：没有选项 --nope\n运行 'gridgov locate --help' 查看用法。",
        "error: no such option --nope\nTry 'gridgov locate --help' for help.",
    ),
    (
        ["import", "nothing"],
        "错误：没有子命令 'nothing'\n运行 'gridgov import --help' 查看用法。",
        "error: no such command 'nothing'\nTry 'gridgov import --help' for help.",
    ),
]


@pytest.mark.parametrize(("args", "zh", "en"), ERRORS, ids=lambda v: str(v)[:40])
def test_every_error_is_said_in_the_language_of_the_run(tmp_path, args, zh, en):
    (tmp_path / "empty.csv").write_text("code\nA\n", encoding="utf-8")
    (tmp_path / "binary.csv").write_bytes(bytes(range(128, 256)) * 4)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    chinese = runner.invoke(app, args)
    assert chinese.exit_code in (1, 2)
    assert chinese.output.strip() == zh.replace("{tmp}", str(tmp_path))
    english = runner.invoke(app, [*args, "--lang", "en"])
    assert english.exit_code == chinese.exit_code
    assert english.output.strip() == en.replace("{tmp}", str(tmp_path))


# Row problems of the files an import checks against the database: each reason in the run's
# language (one bad file per kind; nothing is written, so no clean-up is needed).
ROW_PROBLEMS = {
    "stockpiles": (
        "stockpile_code,stockpile_name,kind,owner_department,lon,lat,item,quantity\n"
        "T-LANG1,仓,warehouse,990105-HB,109.1,21.55,no_such_item,many\n",
        ["第 2 行：item：未知物资 'no_such_item'", "第 2 行：quantity：'many' 不是 ≥ 0 的整数"],
        [
            "line 2: item: unknown item 'no_such_item'",
            "line 2: quantity: 'many' is not a whole number ≥ 0",
        ],
    ),
    "sensors": (
        "code,name,kind,owner_department,lon,lat,metrics\n"
        "T-LANG1,,water_quality,NOPE,109.1,21.55,ph:pH\n"
        "T-LANG2,,water_quality,990105-HB,east,21.55,ph:pH\n",
        ["第 2 行：owner_department：没有部门 NOPE", "第 3 行：lon：'east' 不是数字"],
        ["line 2: owner_department: no department NOPE", "line 3: lon: 'east' is not a number"],
    ),
    "sensor-rules": (
        "name,sensor_kind,sensor,metric,condition,low,high,max_rate_per_minute,sustain_count,"
        "sustain_minutes,clear_minutes,category_code\n"
        "T-LANG pH,,,ph,sideways,6,9,,2,0,30,0602\n",
        [
            "第 2 行：condition：未知条件 'sideways'",
            "第 2 行：sensor_kind：须填 sensor_kind 或 sensor",
        ],
        [
            "line 2: condition: unknown condition 'sideways'",
            "line 2: sensor_kind: give sensor_kind or sensor",
        ],
    ),
    "responsibilities": (
        "category_code,level,department,sla_hours\nNOPE,town,,soon\n",
        [
            "第 2 行：category_code：未知类别 'NOPE'",
            "第 2 行：level：未知层级 'town'",
            "第 2 行：sla_hours：'soon' 不是正的小时数",
            "第 2 行：department：为空",
        ],
        [
            "line 2: category_code: unknown category 'NOPE'",
            "line 2: level: unknown level 'town'",
            "line 2: sla_hours: 'soon' is not a positive number of hours",
            "line 2: department: empty",
        ],
    ),
}


@pytest.mark.parametrize("kind", ROW_PROBLEMS)
def test_row_problems_are_said_in_the_language_of_the_run(
    monkeypatch, database_url, demo_generation_id, tmp_path, kind
):
    content, zh, en = ROW_PROBLEMS[kind]
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", database_url)
    get_settings.cache_clear()
    path = tmp_path / f"{kind}.csv"
    path.write_text(content, encoding="utf-8")
    try:
        chinese = runner.invoke(app, ["import", kind, str(path), "--commit"])
        english = runner.invoke(app, ["--lang", "en", "import", kind, str(path), "--commit"])
    finally:
        get_settings.cache_clear()
    assert chinese.exit_code == english.exit_code == 1, chinese.output
    zh_lines = [line.strip() for line in chinese.output.splitlines()]
    en_lines = [line.strip() for line in english.output.splitlines()]
    assert set(zh) <= set(zh_lines), chinese.output
    assert set(en) <= set(en_lines), english.output
    assert zh_lines[-1].startswith("错误：") and en_lines[-1].startswith("error: ")
    # Every problem line of the zh run says its reason in Chinese; the en run has none.
    assert all(CJK.search(line) for line in zh_lines)
    assert not CJK.search(english.output.replace("仓", ""))
