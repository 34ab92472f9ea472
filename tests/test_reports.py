"""Indicators over the database, and templates filled from them (帮我填)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gridgov.reports.definitions import Condition, DefinitionError, parse
from gridgov.reports.indicators import (
    SUPPRESSED,
    IndicatorError,
    checked,
    figure,
    figures_by_place,
    find_place,
    month_period,
    sub_places,
)
from gridgov.reports.rows import shift_formula
from gridgov.reports.sources import register_sources
from tests.reports import HOME, NOW, OTHER, STREET, plant

# -- the grammar, without a database ------------------------------------------------------


def test_every_form_of_definition_parses():
    assert parse("count(incident)").conditions == ()
    both = parse("count(person, tag = disability, grade <= 2)")
    assert both.source == "person"
    assert both.conditions == (
        Condition("tag", "=", ("disability",)),
        Condition("grade", "<=", ("2",)),
    )
    assert parse("count(incident, category = 0601|0602)").conditions[0].values == ("0601", "0602")
    assert parse("count(household, any member tag = allowance)").conditions[0].field == (
        "any member tag"
    )
    assert parse("mean(incident.rating)").measure == "rating"
    distinct = parse("count(distinct visit.unit)")
    assert distinct.distinct and distinct.source == "visit" and distinct.measure == "unit"
    assert not parse("count(distinctive)").distinct


@pytest.mark.parametrize(
    "text", ["count incident", "count(incident,)", "total(incident)", "count(incident, = 3)", ""]
)
def test_a_broken_definition_is_refused_with_where(text):
    with pytest.raises(DefinitionError):
        parse(text)


def test_unknown_sources_and_fields_name_the_closest():
    with pytest.raises(IndicatorError) as unknown:
        checked("count(incidnet)")
    assert unknown.value.key == "reports.unknown_source"
    assert unknown.value.suggested[0] == "incident"
    with pytest.raises(IndicatorError) as field:
        checked("count(incident, stauts = closed)")
    assert field.value.key == "reports.unknown_field" and "status" in field.value.suggested
    if register_sources():  # a build with the register (issue #15)
        assert checked("count(person, age >= 80)").source == "person"
    else:
        with pytest.raises(IndicatorError) as register:
            checked("count(person, age >= 80)")
        assert register.value.key == "reports.source_unavailable"


def test_formulas_follow_inserted_rows():
    assert shift_formula("=SUM(C5:C5)", after=5, by=2) == "=SUM(C5:C7)"
    assert shift_formula("=SUM(C4:C9)", after=5, by=2) == "=SUM(C4:C11)"
    assert shift_formula("=C3*2", after=5, by=2) == "=C3*2"
    assert shift_formula('="C9"&C9', after=5, by=2) == '="C9"&C11'


# -- figures from the database ------------------------------------------------------------


def november():
    return month_period("2026-11", timezone="Asia/Shanghai", now=NOW)


def test_a_month_that_has_not_begun_is_refused():
    with pytest.raises(Exception) as future:
        month_period("2027-01", timezone="Asia/Shanghai", now=NOW)
    assert future.value.key == "reports.period_in_future"
    with pytest.raises(Exception) as bad:
        month_period("2026-13", timezone="Asia/Shanghai", now=NOW)
    assert bad.value.key == "reports.bad_period"


def test_incident_figures_for_a_community_a_street_and_a_grid(session):
    plant(session, HOME, "0102", to="closed", rating=4)
    plant(session, HOME, "0102", to="closed", rating=2, resolve_after_h=100)  # late
    plant(session, HOME, "0601", to="resolved")
    plant(session, HOME, "0101")  # still dispatched
    plant(session, OTHER, "0102", to="accepted")
    plant(session, HOME, "0102", at=datetime(2026, 10, 20, tzinfo=UTC))  # October: not counted
    period = november()
    home, street = find_place(session, code=HOME), find_place(session, code=STREET)

    def at(place, definition):
        return figure(session, definition=checked(definition), place=place, period=period)

    assert at(home, "count(incident)") == 4
    assert at(street, "count(incident)") == 5
    assert at(home, "count(incident, status = closed)") == 2
    assert at(home, "count(incident, category = 01)") == 3  # the class holds 0101 and 0102
    assert at(home, "count(incident, category = 0601)") == 1
    assert at(home, "count(incident, resolved within deadline)") == 2
    assert at(home, "mean(incident.rating)") == 3.0
    assert at(street, "count(incident, status != closed)") == 3
    grid = find_place(session, code=plant(session, HOME, "0103").grid_code)
    assert at(grid, "count(incident, category = 0103)") == 1
    by_place = figures_by_place(
        session,
        definition=checked("count(incident)"),
        places=sub_places(session, street),
        period=period,
    )
    assert by_place[HOME] == 5 and by_place[OTHER] == 1
    assert sum(v for v in by_place.values()) == 6


def test_small_counts_of_people_are_suppressed_unless_the_caller_may_see_them():
    from gridgov.reports.indicators import _shaped

    count = parse("count(incident)")
    assert _shaped(3, count, True, False) is SUPPRESSED
    assert _shaped(3, count, True, True) == 3
    assert _shaped(0, count, True, False) == 0  # nobody is no one's secret
    assert _shaped(3, count, False, False) == 3


# -- templates ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    """The shipped templates, written afresh by their generator (never the tracked files)."""
    import importlib.util

    from gridgov.config import PROJECT_ROOT

    path = PROJECT_ROOT / "geodata" / "reports" / "templates" / "generate.py"
    spec = importlib.util.spec_from_file_location("report_templates", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder = tmp_path_factory.mktemp("templates")
    module.main(folder)
    return folder


def vocabulary():
    from gridgov.config import PROJECT_ROOT
    from gridgov.forms.indicators import load_indicators
    from gridgov.reports.indicators import Vocabulary

    return Vocabulary(load_indicators(PROJECT_ROOT / "geodata" / "indicators.csv"))


def fill(session, template, code, **options):
    import io

    from openpyxl import load_workbook

    from gridgov.reports.fill import FillContext, fill_template

    context = FillContext(place=find_place(session, code=code), period=november(), **options)
    data = fill_template(
        session, data=template.read_bytes(), vocabulary=vocabulary(), context=context
    )
    return load_workbook(io.BytesIO(data))


def plant_november(session):
    plant(session, HOME, "0102", to="closed", rating=4)
    plant(session, HOME, "0102", to="closed", rating=2, resolve_after_h=100)  # late
    plant(session, HOME, "0601", to="resolved")
    plant(session, HOME, "0101")  # dispatched, never resolved: overdue by the month's end
    plant(session, OTHER, "0102", to="accepted")  # overdue too
    plant(session, OTHER, "0301", to="closed", rating=5)
    plant(session, HOME, "0102", at=datetime(2026, 10, 20, tzinfo=UTC))  # October


def rows_of(sheet, first, last, width):
    return [[sheet.cell(r, c).value for c in range(1, width + 1)] for r in range(first, last + 1)]


def test_the_incident_template_fills_every_cell_as_counted_by_hand(session, templates):
    plant_november(session)
    book = fill(session, templates / "事件统计表.xlsx", STREET)
    sheet = book["按类别"]
    assert sheet["A1"].value == find_place(session, code=STREET).name + "事件统计表"
    assert sheet["A2"].value == "报告期：2026年11月"
    assert sheet["E2"].value == f"区划代码：{STREET}"
    # Six classes; by hand: reported, dispatched, accepted, resolved, closed, within deadline.
    names = ["市容环境", "宣传广告", "施工管理"]
    body = rows_of(sheet, 5, 10, 7)
    assert [row[0] for row in body][:3] == names
    assert [row[1:] for row in body] == [
        [4, 1, 1, 0, 2, 1],  # 01: 0102 x2 closed (one late), 0101 dispatched, OTHER's accepted
        [0, 0, 0, 0, 0, 0],
        [1, 0, 0, 0, 1, 1],  # 03: OTHER's 0301 closed in time
        [0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0],
        [1, 0, 0, 1, 0, 1],  # 06: 0601 resolved in time
    ]
    assert [sheet.cell(r, 8).value for r in range(5, 11)] == [
        f'=IF(B{r}=0,"",F{r}/B{r})' for r in range(5, 11)
    ]
    assert sheet["A11"].value == "合计"
    assert [sheet.cell(11, c).value for c in range(2, 8)] == [
        f"=SUM({letter}5:{letter}10)" for letter in "BCDEFG"
    ]
    assert sheet["H11"].value == '=IF(B11=0,"",F11/B11)'
    assert sheet["E13"].value.startswith("填报日期：2026-")
    # By sub-area: the street's communities in code order; HOME and OTHER have figures.
    places = book["按区域"]
    communities = sub_places(session, find_place(session, code=STREET))
    last = 2 + len(communities)
    figures = {row[0]: row[1:] for row in rows_of(places, 3, last, 5)}
    assert list(figures) == [c.name for c in communities]
    by_code = {c.code: figures[c.name] for c in communities}
    assert by_code[HOME] == [4, 2, 2, 3.0]
    assert by_code[OTHER] == [2, 1, 1, 5.0]
    others = [v for code, v in by_code.items() if code not in (HOME, OTHER)]
    assert all(v == [0, 0, 0, None] for v in others)
    assert places.cell(last + 1, 2).value == f"=SUM(B3:B{last})"
    assert places.cell(last + 1, 5).value == 3.67  # (4 + 2 + 5) / 3


def looks(cell):
    """What a reader sees of a cell's formatting."""
    border = cell.border
    return (
        cell.font.name, cell.font.b, cell.font.sz, cell.fill.fgColor.rgb, cell.number_format,
        cell.alignment.horizontal, cell.alignment.wrap_text,
        tuple(side.style for side in (border.left, border.right, border.top, border.bottom)),
    )  # fmt: skip


def test_formatting_and_merged_cells_survive_the_fill(session, templates):
    from openpyxl import load_workbook

    before = load_workbook(templates / "事件统计表.xlsx")["按类别"]
    after = fill(session, templates / "事件统计表.xlsx", HOME)["按类别"]
    grown = 5  # six classes where the template had one pattern row
    assert {str(r) for r in after.merged_cells.ranges} == {
        "A1:H1", "A2:D2", "E2:H2", "A3:A4", "B3:B4", "C3:E3", "F3:F4", "G3:G4", "H3:H4",
    }  # fmt: skip
    assert {str(r) for r in before.merged_cells.ranges} == {
        str(r) for r in after.merged_cells.ranges
    }
    for row in (3, 4):
        for column in range(1, 9):
            old, new = before.cell(row, column), after.cell(row, column)
            assert new.value == old.value and looks(new) == looks(old)
    for row in range(5, 5 + grown + 1):
        assert looks(after.cell(row, 2)) == looks(before.cell(5, 2))
        assert after.cell(row, 8).number_format == "0.0%"
    assert after.cell(6 + grown, 1).value == "合计"
    assert looks(after.cell(6 + grown, 1)) == looks(before["A6"])
    assert after["A1"].font.b and after["A1"].font.sz == 16
    assert after.row_dimensions[1].height == 30
    assert after.column_dimensions["A"].width == 18


def make_template(tmp_path, cells, merged=()):
    from openpyxl import Workbook

    book = Workbook()
    for coordinate, value in cells.items():
        book.active[coordinate] = value
    for cell_range in merged:
        book.active.merge_cells(cell_range)
    path = tmp_path / "t.xlsx"
    book.save(path)
    return path


def test_a_row_per_community_of_the_city_and_labels_with_their_value(session, tmp_path):
    plant_november(session)
    template = make_template(
        tmp_path,
        {
            "A1": "社区名称", "C1": "上报事件数",  # label | value pairs: B1 and D1 are filled
            "A5": "社区", "B5": "上报事件数", "C5": "超期事件数",  # headers: not labels
            "A6": "{{each community}}",
            "A7": "合计", "B7": "=SUM(B6:B6)", "D7": "=B7*2",
        },
    )  # fmt: skip
    sheet = fill(session, template, "990100").active
    assert sheet["B1"].value == find_place(session, code="990100").name
    assert sheet["D1"].value == 6
    assert sheet["D5"].value is None  # the header's right-hand cell is not a value
    communities = 136
    names = [sheet.cell(row, 1).value for row in range(6, 6 + communities)]
    assert len(set(names)) == communities and None not in names
    counts = [sheet.cell(row, 2).value for row in range(6, 6 + communities)]
    assert sum(counts) == 6 and sorted(counts)[-2:] == [2, 4]
    assert sum(sheet.cell(row, 3).value for row in range(6, 6 + communities)) == 3
    total = 6 + communities
    assert sheet.cell(total, 1).value == "合计"
    assert sheet.cell(total, 2).value == f"=SUM(B6:B{total - 1})"
    assert sheet.cell(total, 4).value == f"=B{total}*2"


def test_rows_by_status_and_by_values_of_a_field(session, tmp_path):
    plant_november(session)
    template = make_template(
        tmp_path,
        {
            "A1": "{{each status: closed, dispatched, accepted}}", "B1": "{{上报事件数}}",
            "A3": "{{each department: nobody}}", "B3": "{{incidents_reported}}",
        },
    )  # fmt: skip
    sheet = fill(session, template, STREET).active
    assert [[sheet.cell(r, c).value for c in (1, 2)] for r in (1, 2, 3)] == [
        ["已结案", 3], ["已派遣", 1], ["已受理", 1],
    ]  # fmt: skip
    assert [sheet["A5"].value, sheet["B5"].value] == ["nobody", 0]


def test_a_refused_template_names_every_cell_and_leaves_the_workbook_alone(session, tmp_path):
    from openpyxl import load_workbook

    from gridgov.reports.fill import FillContext, TemplateRefused, fill_workbook

    template = make_template(
        tmp_path,
        {
            "A1": "{{上报事件数}}", "B2": "{{上报事件}}", "C3": "{{sum(incident)}}",
            "A5": "{{each person: age >= 80}}", "B5": "{{person_name}}", "C7": "{{姓名}}",
        },
    )  # fmt: skip
    book = load_workbook(template)
    context = FillContext(place=find_place(session, code=HOME), period=november())
    with pytest.raises(TemplateRefused) as refused:
        fill_workbook(session, workbook=book, vocabulary=vocabulary(), context=context)
    found = {(p.cell, p.key) for p in refused.value.problems}
    assert found == {
        ("B2", "reports.unknown_indicator"),
        ("C3", "reports.measure_required"),
        ("A5", "reports.roster_needs_reader"),  # a roster names people: a reader is needed
        ("C7", "reports.field_outside_roster"),
    }
    assert book.active["A1"].value == "{{上报事件数}}"  # nothing was filled
    unknown = next(p for p in refused.value.problems if p.cell == "B2")
    assert unknown.suggested[0] == "上报事件数"
    assert "上报事件数" in unknown.reason("zh")


def test_small_counts_of_people_show_to_whom_the_register_lets_read_everyone_there(session):
    from gridgov.register.access import Reader
    from gridgov.reports.service import may_see_people, place_where

    grid = place_where(session, find_place(session, code="990105009003007"))
    home = place_where(session, find_place(session, code=HOME))
    head = Reader(1, "grid_head", grid_code="990105009003007")
    other = Reader(2, "grid_head", grid_code="990105009003006")
    assert may_see_people(head, grid) and not may_see_people(other, grid)
    assert not may_see_people(Reader(3, "admin"), grid)
    assert not may_see_people(Reader(3, "operator", area_code="990100"), home)
    assert not may_see_people(head, home)
    police = Reader(4, "handler", "GA", "990105")  # public security reads its area's people
    assert may_see_people(police, home) and may_see_people(police, grid)
    civil = Reader(5, "handler", "MZ", "990105")  # civil affairs: tagged people only
    assert not may_see_people(civil, home)


def test_a_column_per_member_makes_a_cross_table(session, tmp_path):
    from openpyxl import load_workbook

    plant_november(session)
    cells = {
        "A1": "{{area_name}}",
        "A2": "类别", "B2": "{{across status: dispatched, accepted, closed}}", "C2": "合计",
        "A3": "{{each category}}", "B3": "{{上报事件数}}", "C3": "=SUM(B3:B3)",
        "A4": "合计", "B4": "=SUM(B3:B3)", "C4": "=SUM(C3:C3)",
    }  # fmt: skip
    template = make_template(tmp_path, cells, merged=["A1:C1"])
    book = load_workbook(template)
    book.active.column_dimensions["B"].width = 12
    book.active.column_dimensions["C"].width = 20
    places = book.create_sheet("places")  # a repeated column is repeated top to bottom
    places["A1"], places["A2"] = "{{across sub_area}}", "{{上报事件数}}"
    places["B2"] = "=SUM(A2:A2)"
    book.save(template)
    filled = fill(session, template, STREET)
    sheet = filled.active
    assert {str(r) for r in sheet.merged_cells.ranges} == {"A1:E1"}
    assert rows_of(sheet, 2, 2, 5) == [["类别", "已派遣", "已受理", "已结案", "合计"]]
    # By hand (plant_november): class 01 has one dispatched, one accepted, two closed; 03 one
    # closed; 06's one is resolved, in none of the three columns.
    body = rows_of(sheet, 3, 8, 5)
    assert [row[1:4] for row in body] == [
        [1, 1, 2], [0, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0], [0, 0, 0],
    ]  # fmt: skip
    assert [row[4] for row in body] == [f"=SUM(B{r}:D{r})" for r in range(3, 9)]
    assert rows_of(sheet, 9, 9, 5) == [
        ["合计", "=SUM(B3:B8)", "=SUM(C3:C8)", "=SUM(D3:D8)", "=SUM(E3:E8)"]
    ]
    assert [sheet.column_dimensions[c].width for c in "BCDE"] == [12, 12, 12, 20]
    # Places across: the street's communities, each with its own count, the total grown.
    communities = sub_places(session, find_place(session, code=STREET))
    width = len(communities)
    places = filled["places"]
    labels = [places.cell(1, c).value for c in range(1, width + 1)]
    assert labels == [c.name for c in communities]
    counts = {c.code: places.cell(2, i + 1).value for i, c in enumerate(communities)}
    assert counts[HOME] == 4 and counts[OTHER] == 2 and sum(counts.values()) == 6
    last = places.cell(2, width).column_letter
    assert places.cell(2, width + 1).value == f"=SUM(A2:{last}2)"


def test_places_go_down_or_across_and_rosters_only_down(session, tmp_path):
    from gridgov.reports.fill import TemplateRefused

    cells = {
        "B1": "{{across sub_area}}", "A2": "{{each community}}", "B2": "{{上报事件数}}",
        "D1": "{{across person: age >= 80}}",
    }  # fmt: skip
    template = make_template(tmp_path, cells)
    with pytest.raises(TemplateRefused) as refused:
        fill(session, template, STREET)
    assert {(p.cell, p.key) for p in refused.value.problems} == {
        ("B1", "reports.places_both_ways"),
        ("D1", "reports.roster_across"),
    }


def test_a_pattern_rows_own_sums_stay_in_their_row(session, tmp_path):
    cells = {
        "A1": "{{each status: closed, dispatched}}", "B1": "{{上报事件数}}",
        "C1": "{{超期事件数}}", "D1": "=SUM(B1:C1)", "A3": "合计", "D3": "=SUM(D1:D1)",
    }  # fmt: skip
    sheet = fill(session, make_template(tmp_path, cells), STREET).active
    # Before: the row's own SUM(B1:C1) grew with the copies, to SUM(B1:C2).
    assert [sheet["D1"].value, sheet["D2"].value] == ["=SUM(B1:C1)", "=SUM(B2:C2)"]
    assert sheet["D4"].value == "=SUM(D1:D2)"


def test_roster_columns_belong_in_rosters_and_must_be_known(session, tmp_path):
    from dataclasses import replace

    from gridgov.reports.fill import FillContext, TemplateRefused, fill_workbook
    from gridgov.reports.indicators import Vocabulary

    cells = {
        "A1": "{{each community}}", "B1": "{{person_name}}",
        "A3": "{{each person: age >= 80}}", "B3": "{{person_age}}", "C3": "{{shoe_size}}",
    }  # fmt: skip
    known = vocabulary().indicators
    shoe = replace(known[0], code="shoe_size", kind="field", name_zh="鞋码",
                   definition="field(person.shoe_size)", synonyms=())  # fmt: skip
    book = load_workbook_of(make_template(tmp_path, cells))
    context = FillContext(place=find_place(session, code=HOME), period=november())
    with pytest.raises(TemplateRefused) as refused:
        fill_workbook(session, workbook=book, vocabulary=Vocabulary([*known, shoe]),
                      context=context)  # fmt: skip
    assert {(p.cell, p.key) for p in refused.value.problems} == {
        ("B1", "reports.field_outside_roster"),
        ("C3", "reports.unknown_roster_field"),
        ("A3", "reports.roster_needs_reader"),
    }


def load_workbook_of(path):
    from openpyxl import load_workbook

    return load_workbook(path)
