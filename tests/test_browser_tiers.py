"""The map's household tier layers in a browser: an operator switches the grid layer on and
sees each grid coloured by its worst tier, with the counts (small ones as "<5")."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.index import GridIndex
from gridgov.db import session_scope
from gridgov.i18n import t
from gridgov.register.grassroots import load_grassroots
from gridgov.register.vocabulary import load_tags, tags_file
from tests.conftest import GEODATA
from tests.register_files import HEAD_GRID, KEYS
from tests.test_browser import COUNT_FEATURES, Contexts, browser, contexts  # noqa: F401
from tests.test_register_reading import other_grid
from tests.test_register_tiering import tier_files


def test_the_map_shows_household_tiers_per_grid(
    contexts: Contexts,  # noqa: F811
    committed: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    with session_scope(committed) as session:
        _, lon, lat = other_grid(session)
        load_grassroots(
            session, keys=KEYS, folder=tier_files(tmp_path / "register", (lon, lat)),
            index=GridIndex.build(session, generation=active_generation(session)),
            tags=load_tags(tags_file(GEODATA)), today=date.today(), now=datetime.now(UTC),
            geodata_dir=GEODATA,
        )  # fmt: skip
    context = contexts.new(viewport={"width": 1400, "height": 900})
    contexts.sign_in(context, "operator")
    page = contexts.page(context)
    page.goto(f"{contexts.base}/map")
    page.wait_for_selector("#live-state.on", timeout=15_000)
    page.locator(".leaflet-control-layers label", has_text=t("web.layer.tiers_grid", "zh")).click()
    page.wait_for_function("() => gridgovMap.tiers_grid !== undefined")
    assert page.evaluate(f"() => {COUNT_FEATURES}(gridgovMap.layers.tiers_grid)") == 2
    head = page.evaluate(
        "code => { let found = null; gridgovMap.layers.tiers_grid.eachLayer(g => g.eachLayer &&"
        " g.eachLayer(l => { if (l.feature.properties.code === code) found ="
        " [l.options.fillColor, l.getTooltip().getContent()]; })); return found; }",
        HEAD_GRID,
    )
    assert head[0] == "#d73027"  # two red households, hidden as "<5" from an operator
    assert "红 <5 · 黄 <5 · 绿 <5" in head[1]
