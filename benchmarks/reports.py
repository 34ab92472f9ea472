"""Reports that fill themselves (issue #16): a 136-community statistics form for one month,
and the forms audit over 100 forms.

    .venv/bin/python benchmarks/reports.py                 # the demo city and its register
    .venv/bin/python benchmarks/reports.py --no-register   # without the register (quicker)

The form is a row per community of the demo city (136) with ten columns named by their
headers (people, households, the elderly, red households, households visited, incidents
reported, closed, within the deadline, enterprises, mean rating), filled for the city for
2026-11 through ``fill_report`` as the command line does. The data: the demo city, its
register (about 20,000 people) with random tiers and a month of doorstep visits, and
``--incidents`` reports spread over the month. The audit reads 100 forms copied from the 13
samples of geodata/forms/samples into a temporary folder (what ``gridgov forms audit``
does, the XLSX answer included). Prints each figure as the median of ``--runs``, with the
core count. Targets on 2 cores: fill < 5 s, audit < 30 s.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from openpyxl import Workbook, load_workbook
from sqlalchemy import text

from gridgov.config import PROJECT_ROOT
from gridgov.db import make_engine, make_session_factory, session_scope
from gridgov.db.embedded import EmbeddedCluster
from gridgov.db.migrate import upgrade
from gridgov.demo import load_demo_city, load_demo_register
from gridgov.forms.audit import audit_forms
from gridgov.forms.audit_report import write_workbook
from gridgov.forms.indicators import load_indicators
from gridgov.register.protect import RegisterKeys
from gridgov.reports.service import fill_report

GEODATA = PROJECT_ROOT / "geodata"
CITY = "990100"
MONTH = "2026-11"
NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)
COLUMNS = [
    "总人口", "总户数", "60岁以上老年人数", "80岁以上老年人数", "红色户数", "走访户数",
    "上报事件数", "办结事件数", "按期办结数", "企业总数",
]  # fmt: skip


def statistics_template() -> bytes:
    """A row per community, its figures named by the column headers, a total row."""
    book = Workbook()
    sheet = book.active
    sheet["A1"] = "{{area_name}}各社区基本情况（{{period}}）"
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COLUMNS) + 1)
    sheet.cell(2, 1, "社区")
    for column, name in enumerate(COLUMNS, start=2):
        sheet.cell(2, column, name)
        letter = sheet.cell(3, column).column_letter
        sheet.cell(4, column, f"=SUM({letter}3:{letter}3)")
    sheet["A3"] = "{{each community}}"
    sheet["A4"] = "合计"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def build(url: str, *, register: bool, incidents: int, seed: int = 16) -> None:
    """The demo city (and register), tiers, visits and incidents of the month."""
    from gridgov.incidents import actions
    from gridgov.incidents.reporting import report_incident
    from gridgov.users.models import User

    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    rng = np.random.default_rng(seed)
    with session_scope(factory) as session:
        load_demo_city(session, geodata_dir=GEODATA)
        if register:
            keys = RegisterKeys.from_secret("benchmark-register-key-" + "k" * 20)
            load_demo_register(session, geodata_dir=GEODATA, keys=keys)
            session.execute(
                text(
                    "UPDATE households SET tier = (ARRAY['green','green','green','yellow','red'])"
                    "[1 + floor(random() * 5)::int], tier_at = '2026-09-01'"
                )
            )
            head = session.scalar(text("SELECT id FROM users WHERE username = 'gridhead'"))
            session.execute(
                text(
                    "INSERT INTO household_visits (household_id, grid_code, user_id, client_id,"
                    " visited_at) SELECT h.id, hs.grid_code, :head, 'bench-' || h.id,"
                    " timestamptz '2026-11-01 00:00+08' + random() * interval '29 days'"
                    " FROM households h JOIN houses hs ON hs.id = h.house_id"
                    " WHERE random() < 0.3"
                ),
                {"head": head},
            )
        points = session.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(g.geom) p FROM grids g"
                " JOIN boundary_generations b ON b.id = g.generation_id AND b.is_active) x"
            )
        ).all()
        reporter = session.scalar(text("SELECT id FROM users WHERE username = 'operator'"))
        admin = session.get(User, session.scalar(text("SELECT id FROM users WHERE role='admin'")))
        assert admin is not None
        categories = ["0101", "0102", "0301", "0601"]
        for number in range(incidents):
            lon, lat = points[int(rng.integers(len(points)))]
            at = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=float(rng.uniform(0, 700)))
            incident = report_incident(
                session, reporter_id=reporter, lon=lon, lat=lat,
                category_code=categories[number % len(categories)], now=at,
            ).incident  # fmt: skip
            if number % 3 == 0:
                actions.accept(session, incident_id=incident.id, actor=admin, now=at)
                actions.resolve(session, incident_id=incident.id, actor=admin, note="ok",
                                now=at + timedelta(hours=float(rng.uniform(1, 200))))  # fmt: skip
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))
    engine.dispose()


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def hundred_forms(folder: Path) -> int:
    """100 forms copied from the samples (a department sends the same form to many)."""
    samples = sorted((GEODATA / "forms" / "samples").glob("*.xlsx"))
    for number in range(100):
        source = samples[number % len(samples)]
        shutil.copy(source, folder / f"{number:03d}_{source.name}")
    return len(list(folder.glob("*.xlsx")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--no-register", dest="register", action="store_false")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gridgov-bench-reports-"))
    url = os.environ.get("GRIDGOV_BENCH_DATABASE_URL")
    cluster = None
    if url is None:
        cluster = EmbeddedCluster(root=work / "pg", fast_unsafe=True)
        url = cluster.start()
    try:
        started = time.perf_counter()
        build(url, register=args.register, incidents=args.incidents)
        print(f"built the demo city (register: {args.register}, {args.incidents} incidents)"
              f" in {time.perf_counter() - started:.1f} s")  # fmt: skip
        engine = make_engine(url)
        factory = make_session_factory(engine)
        template = statistics_template()
        steps: list[tuple[int, int]] = []
        last: list[bytes] = []

        def fill() -> None:
            steps.clear()
            with factory() as session:
                filled = fill_report(
                    session, data=template, area=CITY, period=MONTH, geodata_dir=GEODATA,
                    timezone="Asia/Shanghai", now=NOW,
                    progress=lambda done, total: steps.append((done, total)),
                )  # fmt: skip
                session.rollback()
            last[:] = [filled]

        fill()  # warm the caches and the vocabulary
        fills = timed(fill, args.runs)
        engine.dispose()
        sheet = load_workbook(io.BytesIO(last[0])).active
        width = len(COLUMNS) + 1
        rows = [[sheet.cell(r, c).value for c in range(1, width + 1)] for r in range(3, 139)]
        totals = [sum(v for v in col if isinstance(v, int)) for col in zip(*rows, strict=True)]
        named = zip(COLUMNS, totals[1:], strict=True)
        print(
            f"filled {len(rows)} rows ({rows[0][0]} ... {rows[-1][0]}); column totals: "
            + ", ".join(f"{name} {total}" for name, total in named)
        )
        forms = work / "forms"
        forms.mkdir()
        count = hundred_forms(forms)
        indicators = load_indicators(GEODATA / "indicators.csv")

        def audit() -> None:
            write_workbook(audit_forms(forms, indicators), work / "audit.xlsx")

        audits = timed(audit, args.runs)
        print(f"cores: {os.cpu_count()}")
        print(
            f"fill, 136 communities x {len(COLUMNS)} figures, {MONTH}: median "
            f"{statistics.median(fills):.2f} s (runs {', '.join(f'{v:.2f}' for v in fills)}; "
            f"{len(steps)} progress steps)   target < 5 s"
        )
        print(
            f"forms audit, {count} forms: median {statistics.median(audits):.2f} s "
            f"(runs {', '.join(f'{v:.2f}' for v in audits)})   target < 30 s"
        )
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
