"""Reading the tables offices keep: UTF-8 with or without BOM, GBK, text kept as text."""

from __future__ import annotations

import pytest

from gridgov.tables import TableError, read_csv_text, read_table


@pytest.mark.parametrize(
    "encoded",
    [
        "编码,名称\n000123,东门\n".encode(),
        "\ufeff编码,名称\n000123,东门\n".encode(),
        "编码,名称\n000123,东门\n".encode("gbk"),
    ],
    ids=["utf-8", "utf-8 with BOM", "gbk"],
)
def test_every_common_encoding_reads_the_same_text(tmp_path, encoded):
    path = tmp_path / "t.csv"
    path.write_bytes(encoded)
    table = read_table(path, {"编码": "code", "名称": "name"})
    assert table.to_dict("records") == [{"code": "000123", "name": "东门"}]


def test_line_endings_and_encoding_are_remembered(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("a,b\r\n1,2\r\n".encode("gbk"))
    read = read_csv_text(path)
    assert (read.encoding, read.line_terminator) == ("utf-8-sig", "\r\n")  # ASCII is UTF-8 too


def test_bytes_of_no_known_encoding_name_the_way_out(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(bytes(range(128, 256)) * 4)
    with pytest.raises(TableError, match=r"--encoding|cannot be read"):
        read_csv_text(path, encoding="ascii")
