"""One language per run: every --help and every message of the gridgov command is zh by
default, en with --lang en (before or after the sub-command) or GRIDGOV_LANG."""

from __future__ import annotations

import re

import pytest
import typer
import typer.rich_utils
from typer.testing import CliRunner

from gridgov.cli import app
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
