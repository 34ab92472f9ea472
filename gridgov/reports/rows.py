"""Repeat a template's pattern row (or column) in place, as Excel would when rows (columns)
are inserted: what lies below (to the right) moves with its merged cells and row heights
(column widths), formulas keep pointing at the same cells, and a range that ends on the
pattern row (``=SUM(C5:C5)`` in a total row) grows to hold the copies. openpyxl's own
``insert_rows``/``insert_cols`` move cell values only.
"""

from __future__ import annotations

import copy
import re

from openpyxl.formula.tokenizer import Token, Tokenizer
from openpyxl.formula.translate import Translator
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

# A cell reference inside a range operand: $A$1, A1, or a whole row 3:5 (columns untouched).
_REF = re.compile(r"(\$?)([A-Z]{1,3})(\$?)(\d+)")


def shift_formula(
    formula: str, *, after: int, by: int, grow: bool = True, axis: str = "row"
) -> str:
    """``formula`` with rows below ``after`` moved down ``by`` (``axis="column"``: columns
    right of ``after`` moved right); a range ending on ``after`` grows by ``by`` when ``grow``.

    >>> shift_formula("=SUM(C5:C5)+C7*$D$9", after=5, by=3)
    '=SUM(C5:C8)+C10*$D$12'
    >>> shift_formula("=C5+Other!C9", after=5, by=3)
    '=C5+Other!C9'
    >>> shift_formula("=SUM(B4:B4)+C4*$D$1", after=2, by=3, axis="column")
    '=SUM(B4:E4)+F4*$G$1'
    >>> shift_formula("=SUM(B3:B3)", after=2, by=3, grow=False, axis="column")
    '=SUM(B3:B3)'
    """
    if not formula.startswith("="):
        return formula
    parts = ["="]
    for token in Tokenizer(formula).items:
        if token.type == Token.OPERAND and token.subtype == Token.RANGE and "!" not in token.value:
            parts.append(_shift_range(token.value, after=after, by=by, grow=grow, axis=axis))
        else:
            parts.append(token.value)
    return "".join(parts)


def _index(ref: re.Match[str], axis: str) -> int:
    return int(ref.group(4)) if axis == "row" else column_index_from_string(ref.group(2))


def _shift_range(text: str, *, after: int, by: int, grow: bool, axis: str) -> str:
    refs = list(_REF.finditer(text))
    if not refs:
        return text
    first = _index(refs[0], axis)
    out, last = [], 0
    for number, ref in enumerate(refs):
        index = _index(ref, axis)
        is_end = number == len(refs) - 1 and len(refs) > 1
        if index > after or (grow and is_end and index == after and first <= after):
            index += by
        dollar, column, dollar_row, row = ref.groups()
        if axis == "row":
            row = str(index)
        else:
            column = get_column_letter(index)
        out.append(text[last : ref.start()] + f"{dollar}{column}{dollar_row}{row}")
        last = ref.end()
    return "".join(out) + text[last:]


def repeat_row(sheet: Worksheet, row: int, copies: int) -> None:
    """Insert ``copies`` copies of ``row`` directly below it, styles, heights, merged cells
    and formulas included (relative references follow the copy)."""
    if copies <= 0:
        return
    width = sheet.max_column
    for line in sheet.iter_rows():
        for cell in line:
            if cell.data_type == "f" and isinstance(cell.value, str):
                # The pattern row's own formulas are copied with it, not grown.
                grow = cell.row != row
                cell.value = shift_formula(cell.value, after=row, by=copies, grow=grow)
    merged_in_row = []
    for merged in list(sheet.merged_cells.ranges):
        if merged.min_row > row:
            merged.shift(row_shift=copies)
        elif merged.min_row <= row < merged.max_row:
            merged.expand(down=copies)
        elif merged.min_row == merged.max_row == row:
            merged_in_row.append((merged.min_col, merged.max_col))
    heights = {
        r: d.height for r, d in sheet.row_dimensions.items() if r > row and d.height is not None
    }
    sheet._move_cells(min_row=row + 1, offset=copies, row_or_col="row")
    for r in sorted(heights, reverse=True):
        sheet.row_dimensions[r + copies].height = heights[r]
        sheet.row_dimensions[r].height = None
    pattern_height = sheet.row_dimensions[row].height
    for offset in range(1, copies + 1):
        target = row + offset
        for column in range(1, width + 1):
            source = sheet.cell(row=row, column=column)
            if source.__class__.__name__ == "MergedCell":
                continue
            cell = sheet.cell(row=target, column=column)
            if source.has_style:
                cell._style = copy.copy(source._style)
            value = source.value
            if source.data_type == "f" and isinstance(value, str):
                value = Translator(value, origin=source.coordinate).translate_formula(
                    cell.coordinate
                )
            cell.value = value
        for low, high in merged_in_row:
            sheet.merge_cells(start_row=target, start_column=low, end_row=target, end_column=high)
        if pattern_height is not None:
            sheet.row_dimensions[target].height = pattern_height


def repeat_column(sheet: Worksheet, column: int, copies: int) -> None:
    """Insert ``copies`` copies of ``column`` directly right of it, styles, widths, merged
    cells and formulas included (relative references follow the copy)."""
    if copies <= 0:
        return
    height = sheet.max_row
    for line in sheet.iter_rows():
        for cell in line:
            if cell.data_type == "f" and isinstance(cell.value, str):
                grow = cell.column != column  # the pattern column's own: copied, not grown
                cell.value = shift_formula(
                    cell.value, after=column, by=copies, grow=grow, axis="column"
                )
    merged_in_column = []
    for merged in list(sheet.merged_cells.ranges):
        if merged.min_col > column:
            merged.shift(col_shift=copies)
        elif merged.min_col <= column < merged.max_col:
            merged.expand(right=copies)
        elif merged.min_col == merged.max_col == column:
            merged_in_column.append((merged.min_row, merged.max_row))
    letter = get_column_letter(column)
    widths = {
        column_index_from_string(key): dimension.width
        for key, dimension in sheet.column_dimensions.items()
        if column_index_from_string(key) > column and dimension.width
    }
    sheet._move_cells(min_col=column + 1, offset=copies, row_or_col="column")
    for index in sorted(widths, reverse=True):
        del sheet.column_dimensions[get_column_letter(index)]
        sheet.column_dimensions[get_column_letter(index + copies)].width = widths[index]
    pattern_width = sheet.column_dimensions[letter].width
    for offset in range(1, copies + 1):
        target = column + offset
        for row in range(1, height + 1):
            source = sheet.cell(row=row, column=column)
            if source.__class__.__name__ == "MergedCell":
                continue
            cell = sheet.cell(row=row, column=target)
            if source.has_style:
                cell._style = copy.copy(source._style)
            value = source.value
            if source.data_type == "f" and isinstance(value, str):
                value = Translator(value, origin=source.coordinate).translate_formula(
                    cell.coordinate
                )
            cell.value = value
        for low, high in merged_in_column:
            sheet.merge_cells(start_row=low, start_column=target, end_row=high, end_column=target)
        if pattern_width:
            sheet.column_dimensions[get_column_letter(target)].width = pattern_width
