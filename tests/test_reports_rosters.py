"""The register's templates filled for planted people, households, tiers and visits, every
cell counted by hand; rosters read through the register's read table and written to its
access log; the grid heads' visits; a fill's progress streamed to the page."""

from __future__ import annotations

import base64
import io
import json
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gridgov.departments.models import Department
from gridgov.errors import OutOfScope
from gridgov.register.models import (
    Enterprise,
    House,
    Household,
    HouseholdVisit,
    PatrolPass,
    Person,
    PersonTag,
    RegisterAccess,
)
from gridgov.register.protect import RegisterKeys, mask_id
from gridgov.reports.fill import FillContext, TemplateRefused, fill_template
from gridgov.reports.indicators import find_place
from gridgov.reports.rosters import RosterReader
from gridgov.users.models import User
from gridgov.users.service import create_user
from tests.conftest import auth
from tests.register_files import KEYS, id_number
from tests.reports import HOME, OTHER
from tests.test_reports import november, templates, vocabulary  # noqa: F401  (a fixture)

GRID = HOME + "007"  # the demo grid head's grid
NEXT_GRID = HOME + "006"
EMPTY_GRID = HOME + "005"  # no house planted there
ELSEWHERE = OTHER + "001"
CST = "+08:00"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def chain(grid: str) -> dict[str, str]:
    community = grid[:12]
    return dict(
        grid_code=grid,
        community_code=community,
        street_code=community[:9],
        district_code=community[:6],
        city_code="990100",
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + CST)


def user(session: Session, name: str) -> User:
    found = session.scalar(select(User).where(User.username == name))
    assert found is not None
    return found


def department_user(session: Session, kind: str, area: str = "990105") -> User:
    """A handler of a department of that kind (民政 MZ, 公安 GA ...) serving ``area``."""
    code = f"{area}-{kind}-T"  # the demo city has its own; this one is the test's
    session.add(Department(code=code, name=code, level="district", area_code=area, role=kind))
    session.flush()
    return create_user(
        session, username=f"h_{kind}", password="not-used-here-0", role="handler",
        display_name=code, department_code=code,
    )  # fmt: skip


PEOPLE = {
    # key: household, name, sex, born, relation, ID sequence, phone
    "P1": ("HH1", "张大爷", "male", date(1935, 3, 10), "head", "011", "13800000001"),
    "P2": ("HH2", "李奶奶", "female", date(1944, 5, 20), "head", "022", None),
    "P3": ("HH2", "李明", "male", date(1990, 7, 1), "child", "031", None),
    "P4": ("HH2", "李小", "female", date(2021, 2, 1), "grandchild", "042", None),
    "P5": ("HH3", "王老", "male", date(1925, 1, 15), "head", "051", None),
    "P6": ("HH3", "王婶", "female", date(1958, 8, 8), "spouse", "062", None),
    "P7": ("HH4", "赵伯", "male", date(1940, 1, 1), "head", "071", None),
}


def plant(session: Session, keys: RegisterKeys = KEYS) -> dict[str, int]:
    """Three households in HOME (two in the grid head's grid), one in OTHER; tiers, tags,
    two enterprises and visits in October, November and December. Returns ids by key."""
    houses = {
        "H1": House(code="H1", address="青柳路1号", building="1", unit="1", room="101",
                    **chain(GRID)),
        "H2": House(code="H2", address="青柳路2号", tenure="rented", **chain(GRID)),
        "H3": House(code="H3", address="青柳路3号", **chain(NEXT_GRID)),
        "H4": House(code="H4", address="乐银路9号", **chain(ELSEWHERE)),
    }  # fmt: skip
    session.add_all(houses.values())
    session.flush()
    tiers = {"HH1": "red", "HH2": "yellow", "HH3": "green", "HH4": "red"}
    households = {
        key: Household(
            code=key, house_id=houses["H" + key[2:]].id, tier=tier, tier_at=at("2026-10-01T09:00")
        )
        for key, tier in tiers.items()
    }
    session.add_all(households.values())
    session.flush()
    ids = {key: h.id for key, h in households.items()}
    for key, (household, name, sex, born, relation, sequence, phone) in PEOPLE.items():
        number = id_number("990105", born.strftime("%Y%m%d"), sequence)
        person = Person(
            name=name, sex=sex, birth_date=born, relation=relation,
            household_id=households[household].id, id_hash=keys.id_hash(number),
            id_sealed=keys.seal(number, field="id_number"),
            phone_sealed=keys.seal(phone, field="phone") if phone else None,
        )  # fmt: skip
        session.add(person)
        session.flush()
        ids[key] = person.id
    session.add_all(
        [
            PersonTag(person_id=ids["P1"], tag="living_alone", source="民政局"),
            PersonTag(person_id=ids["P3"], tag="disability", details={"grade": 3, "kind": "肢体"},
                      source="残联"),
            PersonTag(person_id=ids["P5"], tag="allowance", source="民政局"),
            Enterprise(credit_code="E1", name="甲", risk_class="high", **chain(GRID)),
            Enterprise(credit_code="E2", name="乙", risk_class="low", **chain(NEXT_GRID)),
        ]
    )  # fmt: skip
    head = user(session, "gridhead").id
    visits = [
        ("HH1", "2026-11-12T10:00"),  # red, last visited never before: due 2026-10-01, late
        ("HH2", "2026-10-20T10:00"),
        ("HH2", "2026-11-03T10:00"),
        ("HH2", "2026-11-25T10:00"),  # twice in November: one household
        ("HH3", "2026-12-02T10:00"),  # December
        ("HH4", "2026-11-30T23:30"),  # someone else's grid, the last half hour of November
    ]
    for number, (household, when) in enumerate(visits):
        visit = HouseholdVisit(
            household_id=ids[household], grid_code=GRID, user_id=head,
            client_id=f"v{number}", visited_at=at(when),
        )  # fmt: skip
        session.add(visit)
    session.flush()
    return ids


def fill(session, template, code, **options):
    context = FillContext(place=find_place(session, code=code), period=november(), **options)
    data = fill_template(
        session, data=template.read_bytes(), vocabulary=vocabulary(), context=context
    )
    return load_workbook(io.BytesIO(data))


def rows_of(sheet, first, last, width):
    return [[sheet.cell(r, c).value for c in range(1, width + 1)] for r in range(first, last + 1)]


def test_the_basic_situation_fills_every_cell_as_counted_by_hand(session, templates):  # noqa: F811
    plant(session)
    sheet = fill(session, templates / "社区基本情况统计表.xlsx", HOME, may_see_people=True)[
        "基本情况"
    ]
    name = find_place(session, code=HOME).name
    assert sheet["A1"].value == "社区基本情况统计表（2026年11月）"
    # Ages on 2026-12-01 (the period's end): P1 91, P2 82, P3 36, P4 5, P5 101, P6 68.
    assert rows_of(sheet, 2, 9, 4) == [
        ["社区名称", name, "区划代码", HOME],
        ["总人口（人）", 6, "总户数", 3],
        ["60岁以上老年人数", 4, "80岁以上老年人数", 3],
        ["红色户数", 1, "黄色户数", 1],  # HH4 (red) lies in OTHER
        ["绿色户数", 1, "出租房屋数", 1],
        ["企业总数", 2, "重点监管企业数", 1],
        ["残疾人数", 1, "低保人数", 1],
        ["走访户数", 2, "低保户数", 1],  # HH1 and HH2 in November; HH3 in December
    ]
    assert rows_of(sheet, 11, 15, 4) == [
        ["年龄段", "人数", "男", "女"],
        ["0至17岁", 1, 0, 1],
        ["18至59岁", 1, 1, 0],
        ["60至79岁", 1, 0, 1],
        ["80岁及以上", 3, 2, 1],
    ]
    # Counts-only readers see small counts of people as "<5"; places are not people.
    hidden = fill(session, templates / "社区基本情况统计表.xlsx", HOME)["基本情况"]
    assert [hidden["B3"].value, hidden["B4"].value, hidden["B5"].value] == [6, "<5", "<5"]
    assert [hidden["D6"].value, hidden["B7"].value] == [1, 2]


def roster_reader(session, username, keys=KEYS):
    from gridgov.register.reading import reader_of

    reason = "填报高龄津贴发放花名册.xlsx（2026-11）"
    return RosterReader(reader_of(session, user(session, username)), keys, reason, {})


def access_rows(session):
    return session.execute(
        select(RegisterAccess.user_id, RegisterAccess.person_id, RegisterAccess.reason,
               RegisterAccess.shown).order_by(RegisterAccess.id)
    ).all()  # fmt: skip


def test_the_elderly_roster_for_the_grid_head_masked_and_logged(session, templates):  # noqa: F811
    ids = plant(session)
    roster = roster_reader(session, "gridhead")
    sheet = fill(session, templates / "高龄津贴发放花名册.xlsx", GRID, roster=roster)["花名册"]
    grid_name = find_place(session, code=GRID).name
    assert sheet["A1"].value == f"{grid_name}高龄津贴发放花名册（2026年11月）"
    p1 = id_number("990105", "19350310", "011")
    p2 = id_number("990105", "19440520", "022")
    assert mask_id(p1).count("*") >= 8 and p1 not in str(rows_of(sheet, 4, 5, 6))
    assert rows_of(sheet, 4, 5, 6) == [
        # A grid head reads names and phones, never ID numbers in clear (the read table).
        [1, "张大爷", mask_id(p1), "男", 91, "青柳路1号 1-1-101"],
        [2, "李奶奶", mask_id(p2), "女", 82, "青柳路2号"],
    ]
    assert sheet["G4"].value == '=IF(E4="","",IF(E4>=100,500,IF(E4>=90,200,100)))'
    assert sheet["G5"].value == '=IF(E5="","",IF(E5>=100,500,IF(E5>=90,200,100)))'
    assert sheet["A6"].value == "合计" and sheet["G6"].value == "=SUM(G4:G5)"
    assert "A6:F6" in {str(r) for r in sheet.merged_cells.ranges}
    head = user(session, "gridhead").id
    assert access_rows(session) == [
        (head, ids["P1"], roster.reason, ["people", "tag:living_alone", "phone"]),
        (head, ids["P2"], roster.reason, ["people"]),
    ]


def test_public_security_reads_id_numbers_of_its_area_in_clear(session, templates):  # noqa: F811
    ids = plant(session)
    department_user(session, "GA")
    roster = roster_reader(session, "h_GA")
    sheet = fill(session, templates / "高龄津贴发放花名册.xlsx", HOME, roster=roster)["花名册"]
    assert [sheet.cell(r, 2).value for r in range(4, 7)] == ["张大爷", "李奶奶", "王老"]
    assert sheet["C6"].value == id_number("990105", "19250115", "051")  # in clear
    assert sheet["E6"].value == 101 and sheet["A7"].value == "合计"
    assert [row.person_id for row in access_rows(session)] == [ids[k] for k in ("P1", "P2", "P5")]
    assert all("id_number" in row.shown for row in access_rows(session))


def test_a_roster_is_all_or_nothing_and_logs_nobody_when_refused(session, templates):  # noqa: F811
    plant(session)
    department_user(session, "MZ")
    template = templates / "高龄津贴发放花名册.xlsx"
    # Civil affairs reads people by their tags: 李奶奶 carries none it may read.
    with pytest.raises(OutOfScope) as refused:
        fill(session, template, HOME, roster=roster_reader(session, "h_MZ"))
    assert refused.value.key == "scope.register_people"
    assert refused.value.params == {"hidden": 1, "total": 3}
    with pytest.raises(OutOfScope) as counts_only:
        fill(session, template, HOME, roster=roster_reader(session, "operator"))
    assert counts_only.value.key == "scope.register_people_role"
    with pytest.raises(TemplateRefused) as nobody:
        fill(session, template, HOME)  # the command line without --as
    assert [p.key for p in nobody.value.problems] == ["reports.roster_needs_reader"]
    assert access_rows(session) == []


def test_a_household_roster_with_columns_named_by_headers(session, tmp_path):
    from openpyxl import Workbook

    ids = plant(session)
    book = Workbook()
    sheet = book.active
    for column, head in enumerate(["序号", "姓名", "家庭住址", "联系电话", "户分级", "家庭人口数"]):
        sheet.cell(1, column + 1, head)
    sheet["A2"] = "{{each household: tier = red|yellow}}"
    path = tmp_path / "重点户.xlsx"
    book.save(path)
    filled = fill(session, path, GRID, roster=roster_reader(session, "gridhead")).active
    assert rows_of(filled, 2, 3, 6) == [
        [1, "张大爷", "青柳路1号 1-1-101", "13800000001", "红色", 1],
        [2, "李奶奶", "青柳路2号", None, "黄色", 3],  # the head shows for the household
    ]
    assert [row.person_id for row in access_rows(session)] == [ids["P1"], ids["P2"]]


# -- over HTTP and on the command line --------------------------------------------------


def post(client, session, username, path="/api/v1/reports/fill", **form):
    form = {"area": GRID, "period": "2026-11", "template_name": "高龄津贴发放花名册.xlsx", **form}
    return client.post(path, data=form, headers=auth(session, username))


def test_the_roster_over_http_refused_with_403_naming_why(client, session):
    plant(session, client.app.state.register_keys)
    filled = post(client, session, "gridhead")
    assert filled.status_code == 200, filled.text
    sheet = load_workbook(io.BytesIO(filled.content))["花名册"]
    assert [sheet["B4"].value, sheet["B5"].value] == ["张大爷", "李奶奶"]
    assert len(access_rows(session)) == 2
    refused = post(client, session, "operator", area=HOME)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "scope.register_people_role"
    department_user(session, "MZ")
    tagged = post(client, session, "h_MZ", area=HOME)
    assert tagged.status_code == 403 and tagged.json()["code"] == "scope.register_people"
    assert "1" in tagged.json()["detail"] and "3" in tagged.json()["detail"]
    assert len(access_rows(session)) == 2  # the refusals logged nobody


def lines(answer):
    return [json.loads(line) for line in answer.text.splitlines() if line.strip()]


def test_a_fill_streams_its_progress_then_the_file(client, session):
    plant(session, client.app.state.register_keys)
    path = "/api/v1/reports/fill/progress"
    answer = post(client, session, "operator", path, area="990100",
                  template_name="事件统计表.xlsx")  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    events = lines(answer)
    steps, last = events[:-1], events[-1]
    assert steps[0]["done"] == 0 and steps[-1]["done"] == steps[-1]["total"] > 0
    assert [s["done"] for s in steps] == sorted(s["done"] for s in steps)
    assert last["filename"] == "事件统计表_990100_2026-11.xlsx"
    book = load_workbook(io.BytesIO(base64.b64decode(last["file"])))
    assert book["按类别"]["A5"].value == "市容环境"
    # Refusals found before the fill begins are the usual problems, status and all.
    refused = post(client, session, "operator", path, area=HOME)
    assert refused.status_code == 403 and refused.json()["code"] == "scope.register_people_role"
    future = post(client, session, "operator", path, period="2999-01")
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "period"
    unsigned = client.post(path, data={"area": GRID, "period": "2026-11"})
    assert unsigned.status_code == 401 and unsigned.headers["www-authenticate"] == "Bearer"
    missing = post(client, session, "operator", path, template_name="")
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "template"
    # One found while filling (a value that is no number) ends the stream as a problem.
    from openpyxl import Workbook

    book = Workbook()
    book.active["A1"], book.active["A2"] = "{{上报事件数}}", "{{count(incident, rating >= x)}}"
    upload = io.BytesIO()
    book.save(upload)
    late = client.post(
        path, data={"area": GRID, "period": "2026-11"},
        files={"template": ("t.xlsx", upload.getvalue(), XLSX)}, headers=auth(session, "operator"),
    )  # fmt: skip
    assert late.status_code == 200
    *steps, last = lines(late)
    assert steps and last["problem"]["status"] == 422
    assert last["problem"]["code"] == "reports.template_refused"
    assert last["problem"]["errors"][0]["field"] == "Sheet!A2"
    roster = post(client, session, "gridhead", path)
    assert roster.status_code == 200
    book = load_workbook(io.BytesIO(base64.b64decode(lines(roster)[-1]["file"])))
    assert book["花名册"]["B4"].value == "张大爷"


def test_grid_heads_count_visits_and_red_households_on_time(client, session):
    ids = plant(session)
    # HH5: red, visited 2026-10-20, due 2026-11-20, visited 2026-11-18: on time.
    house = session.scalar(select(House).where(House.code == "H1"))
    late_red = Household(code="HH5", house_id=house.id, tier="red", tier_at=at("2026-09-01T00:00"))
    session.add(late_red)
    session.flush()
    head = user(session, "gridhead").id
    for number, when in enumerate(["2026-10-20T10:00", "2026-11-18T10:00"]):
        session.add(
            HouseholdVisit(household_id=late_red.id, grid_code=GRID, user_id=head,
                           client_id=f"r{number}", visited_at=at(when))
        )  # fmt: skip
    session.flush()
    answer = client.get(
        "/api/v1/reports/grid-heads", params={"month": "2026-11"}, headers=auth(session, "operator")
    )
    [row] = [r for r in answer.json()["grid_heads"] if r["username"] == "gridhead"]
    # Visited in November: HH1, HH2, HH4 (23:30 on the 30th, the city's day), HH5.
    assert row["households_visited"] == 4
    # Red in the grid: HH1 (turned red 2026-10-01, first visited 11-12: late), HH5 (on time).
    assert (row["red_households_due"], row["red_visited_on_time"]) == (2, 1)
    # The grid's houses H1 (HH1, HH5) and H2 (HH2) were both visited at the door.
    assert row["patrol_coverage"] == 1.0
    assert ids["HH4"]  # red too, but in another grid: not this grid head's


def pass_by(session: Session, head: int, code: str, when: str) -> None:
    """The grid head's patrol passed house ``code`` at ``when`` (the city's time)."""
    house = session.scalar(select(House).where(House.code == code))
    assert house is not None
    moment = at(when)
    session.add(
        PatrolPass(user_id=head, entity="house", entity_id=house.id, grid_code=house.grid_code,
                   passed_on=moment.date(), passed_at=moment, distance_m=5.0)
    )  # fmt: skip


def test_patrol_coverage_is_the_share_of_houses_passed_or_visited(client, session):
    plant(session)
    head = user(session, "gridhead").id
    session.add_all(House(code=f"H{n}", address=f"青柳路{n}号", **chain(GRID)) for n in (5, 6, 7))
    session.flush()
    pass_by(session, head, "H5", "2026-11-30T23:00")  # the city's last day of November
    pass_by(session, head, "H1", "2026-11-05T10:00")  # visited at the door too: counted once
    pass_by(session, head, "H6", "2026-12-01T00:30")  # December's
    pass_by(session, head, "H4", "2026-11-10T10:00")  # a house of another grid
    session.flush()
    answer = client.get(
        "/api/v1/reports/grid-heads", params={"month": "2026-11"}, headers=auth(session, "operator")
    )
    [row] = [r for r in answer.json()["grid_heads"] if r["username"] == "gridhead"]
    # Houses of the grid: H1 passed (and HH1 visited), H2 (HH2 visited at the door), H5
    # passed; H6 passed only in December, H7 never: 3 of 5.
    assert row["patrol_coverage"] == 0.6
    # The same figure as the register's monthly coverage.
    [same] = client.get(
        "/api/v1/register/coverage", params={"grid": GRID, "month": "2026-11"},
        headers=auth(session, "gridhead"),
    ).json()  # fmt: skip
    assert (same["houses"], same["visited"], same["share"]) == (5, 3, 0.6)


def test_patrol_coverage_is_zero_with_nothing_seen_and_null_without_houses(session):
    from gridgov.reports.grid_heads import grid_head_month
    from gridgov.reports.indicators import month_period

    plant(session)
    create_user(
        session, username="gh_empty", password="not-used-here-0", role="grid_head",
        grid_code=EMPTY_GRID,
    )  # fmt: skip
    september = month_period("2026-09", timezone="Asia/Shanghai", now=at("2026-12-05T00:00"))
    rows = {r.username: r for r in grid_head_month(session, period=september)}
    # Two houses in the grid, neither passed nor visited in September.
    assert rows["gridhead"].patrol_coverage == 0.0
    assert rows["gh_empty"].patrol_coverage is None  # a grid with no houses


@pytest.fixture
def cli_env(monkeypatch, database_url, demo_generation_id, tmp_path):
    from gridgov.config import get_settings

    monkeypatch.setenv("GRIDGOV_DATABASE_URL", database_url)
    monkeypatch.setenv("GRIDGOV_LANG", "en")
    monkeypatch.setenv("GRIDGOV_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_command_fills_a_roster_only_as_someone(cli_env, tmp_path):
    from gridgov.cli import app
    from gridgov.config import get_settings
    from gridgov.reports.service import templates_dir

    template = templates_dir(get_settings().geodata_dir) / "高龄津贴发放花名册.xlsx"
    out = tmp_path / "roster.xlsx"
    runner = CliRunner()
    args = ["report", "fill", str(template), "--area", GRID, "--period", "2026-11", "-o", str(out)]
    nobody = runner.invoke(app, args)
    assert nobody.exit_code == 1 and "--as USERNAME" in nobody.output and not out.exists()
    counts_only = runner.invoke(app, [*args, "--as", "operator"])
    assert counts_only.exit_code == 1 and not out.exists()
    assert "may not read people by name" in counts_only.output
    assert "Traceback" not in counts_only.output
    unknown = runner.invoke(app, [*args, "--as", "nobody-here"])
    assert unknown.exit_code == 1 and "no account nobody-here" in unknown.output
    done = runner.invoke(app, [*args, "--as", "gridhead"])
    assert done.exit_code == 0, done.output
    assert load_workbook(out)["花名册"]["A5"].value == "合计"  # no one planted: an empty roster
