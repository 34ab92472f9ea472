"""`gridgov locate` on files as offices make them: GBK, 经度/纬度, leading zeros, bad rows."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gridgov.cli import app
from gridgov.config import get_settings
from gridgov.tables import detect_encoding

runner = CliRunner()

INSIDE = ("109.1", "21.55")  # in the demo city
GBK_ROWS = [
    ("编号", "名称", "电话", "经度", "纬度", "备注"),
    ("000123", "东门市场", "01088889999", *INSIDE, "占道经营，已劝离"),
    ("000124", "西湖路口", "01088880000", "abc", "21.55", ""),
    ("000125", "海上", "", "110.5", "21.55", "=1+1"),
    ("000126", "空白", "", "", "", ""),
]


@pytest.fixture
def cli_env(monkeypatch, database_url, demo_generation_id):
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def write_gbk(path, rows, newline="\r\n"):
    path.write_bytes(newline.join(",".join(r) for r in rows).encode("gbk") + newline.encode())


def test_gbk_file_keeps_every_cell_and_its_encoding(cli_env, tmp_path):
    source, target = tmp_path / "points.csv", tmp_path / "out.csv"
    write_gbk(source, GBK_ROWS)
    result = runner.invoke(app, ["locate", str(source), "-o", str(target), "--lang", "en"])
    assert result.exit_code == 0, result.output
    raw = target.read_bytes()
    assert detect_encoding(raw) == "gb18030"
    lines = raw.decode("gbk").split("\r\n")
    assert lines[0].startswith("编号,名称,电话,经度,纬度,备注,lon_wgs84,lat_wgs84,grid_code,")
    # The original cells, byte for byte, before the added columns.
    for original, line in zip(GBK_ROWS[1:], lines[1:5], strict=True):
        assert line.startswith(",".join(original) + ",")
    first = lines[1].split(",")
    assert first[0] == "000123" and first[2] == "01088889999"
    assert first[8].startswith(first[10])  # the grid code starts with its community's
    assert lines[2].endswith(",,,,,,,")  # the unplaced rows get empty codes
    assert "1/4 rows located" in result.output


def test_each_unplaced_row_is_named_with_its_reason(cli_env, tmp_path):
    source = tmp_path / "points.csv"
    write_gbk(source, GBK_ROWS)
    result = runner.invoke(app, ["locate", str(source), "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 0, result.output
    assert "第 3 行未定位：经度不是数字（abc）" in result.output
    assert "第 4 行未定位：不在任何网格内" in result.output
    assert "第 5 行未定位：经度或纬度为空" in result.output
    assert "已定位 1/4 行" in result.output


def test_utf8_with_bom_and_explicit_columns(cli_env, tmp_path):
    source = tmp_path / "points.csv"
    source.write_bytes("\ufeffid,X坐标,Y坐标\n7,109.1,21.55\n".encode())
    result = runner.invoke(
        app, ["locate", str(source), "--lon-column", "X坐标", "--lat-column", "Y坐标"]
    )
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()[:2]
    assert header.startswith("id,X坐标,Y坐标,lon_wgs84")
    assert row.startswith("7,109.1,21.55,109.1,21.55,")


def test_a_missing_column_names_the_columns_found(cli_env, tmp_path):
    source = tmp_path / "points.csv"
    write_gbk(source, [("编号", "经度"), ("1", "109.1")])
    result = runner.invoke(app, ["locate", str(source)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"错误：{source}: 找不到纬度列，请用 --lat-column 指定；文件中的列：编号, 经度"
    )


def test_an_unknown_encoding_is_one_line(cli_env, tmp_path):
    source = tmp_path / "points.csv"
    source.write_bytes(b"lon,lat\n109.1,21.55\n")
    result = runner.invoke(app, ["locate", str(source), "--encoding", "no-such-codec"])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert "no-such-codec" in result.output
