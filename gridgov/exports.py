"""CSV for spreadsheets: every CSV the service hands out is written here.

Two things make a CSV safe to open in Excel or WPS on an office PC:

- a UTF-8 byte order mark, without which Excel on Chinese Windows reads the file as GBK
  and shows mojibake instead of department names;
- no cell that a spreadsheet would run as a formula (CSV injection, OWASP): a text cell
  starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
  single quote, which spreadsheets show as text. Real numbers are left as they are, so a
  negative figure stays a number in the sheet.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain decimal number ("-3", "+2.5", "-1e-3"): a spreadsheet reads it as a number, never
# as a formula, so it needs no quote.
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value: object) -> object:
    """The value as a spreadsheet may see it: text that would start a formula is quoted.

    >>> safe_cell('=HYPERLINK("http://x","y")')
    '\\'=HYPERLINK("http://x","y")'
    >>> safe_cell(-2.5), safe_cell("-2.5"), safe_cell("-2+3"), safe_cell(None)
    (-2.5, '-2.5', "'-2+3", None)
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if NUMBER.fullmatch(value):
        return value
    return "'" + value


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> str:
    """CSV text with a byte order mark, a header row, and every cell made safe.

    >>> csv_text(["name", "score"], [{"name": "@SUM(A1)", "score": -1}])
    "\\ufeffname,score\\r\\n'@SUM(A1),-1\\r\\n"
    """
    out = io.StringIO()
    out.write(BOM)
    writer = csv.DictWriter(out, fieldnames=list(columns))
    writer.writeheader()
    for row in rows:
        writer.writerow({key: safe_cell(value) for key, value in row.items()})
    return out.getvalue()
