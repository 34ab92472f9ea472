"""The doorstep visit page (入户走访) on a phone, in Debian's Chromium: offline, the grid
head confirms one household and corrects another; online again, both visits arrive once,
and the correction is read at once by civil affairs (who may read that person) and not by a
department that may not (see tests/test_browser.py for the browser set-up)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gridgov.boundaries.index import GridIndex
from gridgov.boundaries.models import Generation
from gridgov.i18n import t
from gridgov.register.grassroots import load_grassroots
from gridgov.register.models import HouseholdVisit, Person, PersonTag
from gridgov.register.protect import KEY_FILE, RegisterKeys
from gridgov.register.vocabulary import load_tags, tags_file
from gridgov.users.secret import load_or_create_secret
from tests.conftest import GEODATA
from tests.register_files import HEAD_GRID, id_number, write_grassroots
from tests.test_browser import (  # noqa: F401  (browser, contexts: the fixtures)
    Contexts,
    browser,
    contexts,
    phone,
    screenshot,
    token,
)

pytestmark = pytest.mark.browser

OLD = id_number("990105", "19400312", "011")  # lives alone, on the allowance
MOTHER = id_number("990105", "19700101", "022")  # disabled
CHILD = id_number("990105", "20150101", "031")


def seed_register(factory: sessionmaker[Session], folder: Path, keys: RegisterKeys) -> None:
    """Two houses of the grid head's grid: 王建国 alone, 李秀英 with her son."""
    files = write_grassroots(
        folder,
        {
            "houses": [
                ["H1", "青柳路1号", "1", "1", "101", "109.1", "21.55", "residential", "owned"],
                ["H2", "青柳路2号", "", "", "", "109.1005", "21.5505", "residential", "rented"],
            ],
            "households": [["F1", "H1"], ["F2", "H2"]],
            "people": [
                [OLD, "王建国", "男", "1940-03-12", "13812345678", "F1", "户主"],
                [MOTHER, "李秀英", "女", "1970-01-01", "", "F2", "户主"],
                [CHILD, "李小明", "男", "2015-01-01", "", "F2", "子女"],
            ],
            "tags": [
                [OLD, "living_alone", "", "", "2020-01-01", ""],
                [OLD, "allowance", "urban", "", "2022-01-01", ""],
                [MOTHER, "disability", "physical", "1", "2005-01-01", ""],
            ],
        },
    )
    now = datetime.now(UTC)
    with factory() as session:
        generation = session.scalar(select(Generation).where(Generation.is_active))
        load = load_grassroots(
            session, keys=keys, folder=files, index=GridIndex.build(session, generation=generation),
            tags=load_tags(tags_file(GEODATA)), today=now.date(), now=now,
        )  # fmt: skip
        assert load.problems == []
        session.commit()


def visits(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(HouseholdVisit)) or 0)


def members_seen(base: str, username: str) -> Any:
    answer = httpx.get(
        f"{base}/api/v1/register/households?grid={HEAD_GRID}",
        headers={"Authorization": f"Bearer {token(base, username)}"},
    )
    if answer.status_code != 200:
        return answer.status_code
    return {m["name"]: [t["tag"] for t in m["tags"]] for h in answer.json() for m in h["members"]}


def test_a_household_confirmed_and_one_corrected_offline_arrive_once_and_are_read_at_once(
    contexts: Contexts,  # noqa: F811
    committed: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    # The live server keeps its register key in its data folder (tmp_path/var): the same key
    # seals the test's people.
    keys = RegisterKeys.from_secret(load_or_create_secret(tmp_path / "var", KEY_FILE))
    seed_register(committed, tmp_path / "register", keys)
    context = phone(contexts)
    contexts.sign_in(context, "gridhead")
    page = contexts.page(context)
    page.goto(f"{contexts.base}/doorstep")
    expect(page.locator("#house-list button")).to_have_count(2, timeout=15_000)
    expect(page.locator("#position-info")).to_contain_text("±12", timeout=10_000)
    # The red and yellow households head the page: 王建国 lives alone, nobody visited yet.
    red = page.locator("#tier-list li.tier-red[data-household=F1]")
    expect(red).to_contain_text("独居老人")
    expect(red).to_contain_text(t("web.doorstep.never_visited", "zh"))
    expect(page.locator("#tier-list li")).to_have_count(1)

    context.set_offline(True)  # in a stairwell: no network from here on
    # 王建国's household: every fact as it is, one tap.
    page.click("#house-list button[data-house=H1]")
    card = page.locator("section.household").first
    card.locator(".confirm-all").click()
    expect(card.locator("button.confirm[aria-pressed=true]")).to_have_count(7)  # 5 fields, 2 tags
    card.locator(".save-visit").click()
    waiting = t("web.doorstep.waiting_offline", "zh", count=1)
    expect(page.locator("#outbox-summary")).to_have_text(waiting)

    # 李秀英's household: her son's name is wrong, and he is a left-behind child now.
    page.click("#back")
    page.click("#house-list button[data-house=H2]")
    son = page.locator("section.household .member").nth(1)
    son.locator("li.fact[data-fact$=':name'] button.correct").click()
    son.locator("li.fact[data-fact$=':name'] input").fill("李晓明")
    son.locator("li.fact[data-fact$=':name'] button[type=submit]").click()
    expect(son.locator("li.fact.corrected[data-fact$=':name'] .value")).to_have_text("李晓明")
    son.locator("select.tag-choice").select_option("left_behind_child")
    son.locator(".add-tag button.add").click()
    expect(son.locator("li.fact.tag.corrected")).to_have_count(1)
    son.locator("li.fact[data-fact$=':sex'] button.confirm").click()
    page.locator("section.household .save-visit").click()
    waiting = t("web.doorstep.waiting_offline", "zh", count=2)
    expect(page.locator("#outbox-summary")).to_have_text(waiting)
    assert visits(committed) == 0
    # The page shows the household as the register will have it.
    expect(son.locator("li.fact[data-fact$=':name'] .value")).to_have_text("李晓明")
    expect(son.locator("li.fact.tag")).to_have_count(1)
    screenshot(page, "doorstep")

    context.set_offline(False)  # out on the street again: the page sends what waits
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    expect(page.locator("#outbox")).to_be_hidden(timeout=15_000)
    assert visits(committed) == 2
    page.evaluate("() => window.dispatchEvent(new Event('online'))")  # a second round sends nothing
    expect(page.locator("#outbox")).to_be_hidden()
    assert visits(committed) == 2
    # Back on the list: 王建国 has a last visit, the left-behind son made his household yellow.
    page.click("#back")
    expect(red).to_contain_text("上次走访")
    yellow = page.locator("#tier-list li.tier-yellow[data-household=F2]")
    expect(yellow).to_contain_text("留守儿童")
    yellow.locator("button").click()
    expect(page.locator("#house-view")).to_be_visible()

    with committed() as session:
        son_row = session.scalar(select(Person).where(Person.name == "李晓明"))
        assert son_row is not None and son_row.provenance["name"]["source"] == "visit"
        tag = session.scalar(select(PersonTag).where(PersonTag.person_id == son_row.id))
        assert tag is not None and (tag.tag, tag.source) == ("left_behind_child", "visit")
        old = session.scalar(select(Person).where(Person.name == "王建国"))
        assert old is not None and set(old.provenance) >= {"name", "sex", "birth_date", "phone"}
        assert all("confirmed_at" in old.provenance[f] for f in ("name", "sex", "phone"))
        visit = session.scalar(
            select(HouseholdVisit).where(HouseholdVisit.household_id == son_row.household_id)
        )
        assert visit is not None and visit.position is not None and visit.accuracy_m == 12
        assert tag.valid_from == visit.visited_at.astimezone(ZoneInfo("Asia/Shanghai")).date()

    # Civil affairs reads left-behind children: the corrected son, at once.
    seen = members_seen(contexts.base, "handler_mz")
    assert seen["李晓明"] == ["left_behind_child"] and "李小明" not in seen
    assert "李秀英" not in seen  # disability: not civil affairs'
    # City management reads no one; the disabled persons' federation not the son.
    assert members_seen(contexts.base, "handler_cg") == 403
    assert "李晓明" not in members_seen(contexts.base, "handler_cl")


def test_the_doorstep_page_speaks_english(contexts: Contexts, committed, tmp_path: Path) -> None:  # noqa: F811
    keys = RegisterKeys.from_secret(load_or_create_secret(tmp_path / "var", KEY_FILE))
    seed_register(committed, tmp_path / "register", keys)
    context = phone(contexts)
    contexts.sign_in(context, "gridhead")
    page = contexts.page(context)
    page.goto(f"{contexts.base}/doorstep?lang=en")
    page.click("#house-list button[data-house=H1] >> nth=0", timeout=15_000)
    expect(page.locator("section.household .confirm-all")).to_have_text("Confirm all")
    expect(page.locator("#house-facts li.fact").first.locator(".value")).to_have_text("residential")
    assert "Minimum living allowance".lower() in page.inner_text("section.household").lower()
