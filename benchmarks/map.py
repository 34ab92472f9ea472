"""The command-centre map with 10,000 open incidents: the API behind it and the page itself.

Target (the issue): the map works with 10,000 open incidents on screen without freezing
(clustering, GeoJSON served by bounding box). Prints, with the core count:

- GET /api/v1/map/incidents for the whole city and for one street (街道) as the operator:
  p50/p95 over ``--runs`` calls, body size, and whether the app compresses it;
- in headless Chromium (every request to a host other than 127.0.0.1 aborted): the time from
  navigation until the markers are built and until they are all clustered, long tasks and
  the largest gap between frames while loading;
- the same while the map is used: zoom in level by level, pan by dragging, zoom out three
  levels and back to the city, one level further out (the only move that loads incidents
  again) and back, the heat layer on (zoom and pan with it) and off again.

A long task is the browser's own measure (PerformanceObserver 'longtask': a task over 50 ms);
a frame gap is the time between two requestAnimationFrame callbacks (16.7 ms at 60 Hz).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import psycopg
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from api.in_thread import served_in_thread
from api.main import create_app
from gridgov.boundaries.levels import Level
from gridgov.config import PROJECT_ROOT, Settings
from gridgov.db import make_engine, make_session_factory, session_scope
from gridgov.db.embedded import EmbeddedCluster
from gridgov.db.migrate import upgrade
from gridgov.demo import DEMO_PASSWORD, load_demo_city
from gridgov.i18n import t
from gridgov.maps.layers import MAX_POINTS
from gridgov.responsibilities.models import Category
from gridgov.responsibilities.service import route
from gridgov.users.models import User

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

STREET = "990105009"  # 乐银街道, the demo accounts' street
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORT: ViewportSize = {"width": 1600, "height": 900}


# -- the incidents -------------------------------------------------------------------------


@dataclass
class Seeded:
    count: int
    seconds: float
    city_bbox: tuple[float, float, float, float]
    street_bbox: tuple[float, float, float, float]
    statuses: dict[str, int] = field(default_factory=dict)
    sample_ids: list[int] = field(default_factory=list)


GRIDS_WITH_CHAIN = text(
    """
    SELECT g.code, c.code, s.code, d.code, ci.code
    FROM grids g
    JOIN areas c ON c.id = g.parent_id
    JOIN areas s ON s.id = c.parent_id
    JOIN areas d ON d.id = s.parent_id
    JOIN areas ci ON ci.id = d.parent_id
    WHERE g.generation_id = :generation
    ORDER BY g.code
    """
)

POINTS_IN_GRIDS = text(
    """
    SELECT w.code, ST_X(p.geom), ST_Y(p.geom)
    FROM unnest(CAST(:codes AS text[]), CAST(:counts AS int[])) AS w(code, k)
    JOIN grids g ON g.code = w.code AND g.generation_id = :generation,
    LATERAL ST_Dump(ST_GeneratePoints(g.geom, w.k, :seed)) AS p
    ORDER BY w.code, p.path
    """
)

EXTENT = text(
    """
    SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
    FROM (SELECT ST_Extent(geom) AS e FROM areas
          WHERE generation_id = :generation AND (level = :level) AND (:code = '' OR code = :code)) x
    """
)


def _tsv(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _box(row: Any) -> tuple[float, float, float, float]:
    return float(row[0]), float(row[1]), float(row[2]), float(row[3])


def _line(row: tuple[Any, ...]) -> str:
    return "\t".join(_tsv(v) for v in row) + "\n"


def seed_incidents(session: Session, conninfo: str, count: int, seed: int) -> Seeded:
    """``count`` open incidents at random points inside random grids of the demo city, as
    report_incident leaves them: located in a grid with its area chain, routed by the
    responsibility list (library ``route``) to a department with a deadline, and with their
    'report' and 'dispatch' events. Written with COPY: report_incident one by one managed
    about 55 a second on the 2-core machine (three minutes for 10,000, slower as its
    duplicate search grows). Not written: inbox notifications (the map does not read them)
    and possible-duplicate links."""
    started = time.perf_counter()
    generation = session.execute(
        text("SELECT id FROM boundary_generations WHERE is_active")
    ).scalar_one()
    grids = session.execute(GRIDS_WITH_CHAIN, {"generation": generation}).all()
    chains = {
        g: {Level.COMMUNITY: c, Level.STREET: s, Level.DISTRICT: d, Level.CITY: ci}
        for g, c, s, d, ci in grids
    }
    leaves = list(
        session.scalars(
            select(Category.code).where(Category.parent_code.is_not(None)).order_by(Category.code)
        )
    )
    operator_id = session.scalar(select(User.id).where(User.username == "operator"))

    rng = np.random.default_rng(seed)
    codes = [g[0] for g in grids]
    per_grid = np.bincount(rng.integers(0, len(codes), count), minlength=len(codes))
    chosen = [(c, int(k)) for c, k in zip(codes, per_grid, strict=True) if k]
    points = session.execute(
        POINTS_IN_GRIDS,
        {
            "codes": [c for c, _ in chosen],
            "counts": [k for _, k in chosen],
            "generation": generation,
            "seed": seed,
        },
    ).all()
    assert len(points) == count, (len(points), count)
    ids = list(
        session.scalars(
            text(
                "SELECT nextval(pg_get_serial_sequence('incidents', 'id'))"
                " FROM generate_series(1, :n)"
            ),
            {"n": count},
        )
    )

    now = datetime.now(UTC)
    routes: dict[tuple[str, str], Any] = {}  # (category, community) -> route() answer
    incidents, events = io.StringIO(), io.StringIO()
    statuses: dict[str, int] = {}
    categories = rng.choice(len(leaves), count)
    ages = rng.uniform(0, 7 * 24 * 3600, count)  # reported over the last week
    accuracy = rng.uniform(5, 30, count)
    for n, (grid, lon, lat) in enumerate(points):
        chain = chains[grid]
        category = leaves[int(categories[n])]
        key = (category, chain[Level.COMMUNITY])
        if key not in routes:
            routes[key] = route(session, category_code=category, chain=chain)
        routed = routes[key]
        at = now - timedelta(seconds=float(ages[n]))
        description = f"地图压测事件 {n + 1}"
        if routed is None:  # no rule: the incident waits for an operator, as reported
            status, level, department, deadline = "reported", None, None, None
        else:
            assignment, dept = routed
            status, level, department = "dispatched", assignment.level.value, dept.code
            deadline = at + timedelta(hours=assignment.sla_hours)
        statuses[status] = statuses.get(status, 0) + 1
        row = (
            ids[n], status, level, category, description,
            f"SRID=4326;POINT({lon} {lat})", "wgs84", round(float(accuracy[n]), 1), False,
            generation, grid, chain[Level.COMMUNITY], chain[Level.STREET],
            chain[Level.DISTRICT], chain[Level.CITY], department, operator_id, "report",
            at, deadline, at,
        )  # fmt: skip
        incidents.write(_line(row))
        report = {"snapped": False, "crs": "wgs84", "grid": grid}
        reported = (
            ids[n], at, operator_id, "report", None, "reported", None, None, description,
            json.dumps(report, ensure_ascii=False),
        )  # fmt: skip
        events.write(_line(reported))
        if routed is not None:
            assignment, _ = routed
            details = {
                "sla_hours": assignment.sla_hours,
                "deadline": deadline.isoformat() if deadline else None,
                "rule_area": assignment.rule.area_code,
            }
            dispatched = (
                ids[n], at, None, "dispatch", "reported", status, level, department, "",
                json.dumps(details),
            )  # fmt: skip
            events.write(_line(dispatched))
    session.commit()

    with psycopg.connect(conninfo) as conn:
        with conn.cursor().copy(
            "COPY incidents (id, status, level, category_code, description, position,"
            " reported_crs, accuracy_m, snapped, generation_id, grid_code, community_code,"
            " street_code, district_code, city_code, department_code, reporter_id, source,"
            " reported_at, deadline_at, updated_at) FROM STDIN"
        ) as copy:
            copy.write(incidents.getvalue())
        with conn.cursor().copy(
            "COPY incident_events (incident_id, at, actor_id, action, from_status, to_status,"
            " level, department_code, note, details) FROM STDIN"
        ) as copy:
            copy.write(events.getvalue())
        conn.commit()
        conn.execute("ANALYZE incidents")
        conn.execute("ANALYZE incident_events")

    city = session.execute(EXTENT, {"generation": generation, "level": "city", "code": ""}).one()
    street = session.execute(
        EXTENT, {"generation": generation, "level": "street", "code": STREET}
    ).one()
    return Seeded(
        count=count,
        seconds=time.perf_counter() - started,
        city_bbox=_box(city),
        street_bbox=_box(street),
        statuses=statuses,
        sample_ids=[int(ids[i]) for i in rng.choice(count, min(5, count), replace=False)],
    )


# -- the service ---------------------------------------------------------------------------


def sign_in(base: str, username: str) -> dict[str, Any]:
    answer = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    answer.raise_for_status()
    return dict(answer.json())


# -- the API -------------------------------------------------------------------------------


@dataclass
class Timed:
    label: str
    p50: float
    p95: float
    size: int
    gzipped: int
    encoding: str
    returned: int | None
    matched: int | None


def time_get(
    client: httpx.Client, url: str, params: dict[str, str], runs: int, label: str
) -> Timed:
    for _ in range(2):  # warm the connection and the database's caches
        client.get(url, params=params).raise_for_status()
    took = []
    response = None
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url, params=params)
        response.raise_for_status()
        took.append((time.perf_counter() - started) * 1000)
    assert response is not None
    body = response.content  # decoded, if the app had compressed it
    raw = int(response.headers.get("content-length") or len(body))  # as sent
    answer = response.json()
    returned = answer.get("numberReturned") if isinstance(answer, dict) else len(answer)
    matched = answer.get("numberMatched") if isinstance(answer, dict) else None
    return Timed(
        label=label,
        p50=statistics.median(took),
        p95=float(np.percentile(took, 95)),
        size=raw,
        gzipped=len(gzip.compress(body, 6)),
        encoding=response.headers.get("content-encoding", "none"),
        returned=returned,
        matched=matched,
    )


def bbox_param(box: tuple[float, float, float, float]) -> str:
    return ",".join(f"{v:.5f}" for v in box)


def api_figures(base: str, token: str, seeded: Seeded, runs: int) -> list[Timed]:
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip, br"}
    url = f"{base}/api/v1/map"
    with httpx.Client(headers=headers, timeout=120) as client:
        return [
            time_get(
                client,
                f"{url}/incidents",
                {"bbox": bbox_param(seeded.city_bbox)},
                runs,
                "incidents, the whole city",
            ),
            time_get(
                client,
                f"{url}/incidents",
                {"bbox": bbox_param(seeded.street_bbox)},
                runs,
                f"incidents, one street ({STREET})",
            ),
            time_get(client, f"{url}/heat", {}, runs, "heat points, the whole city"),
            time_get(client, f"{url}/grids", {}, max(5, runs // 4), "grids with open counts"),
        ]


def check_rows(base: str, token: str, ids: list[int]) -> None:
    """The seeded rows read back through the detail endpoint, with their audit trail."""
    headers = {"Authorization": f"Bearer {token}"}
    for incident_id in ids:
        answer = httpx.get(f"{base}/api/v1/incidents/{incident_id}", headers=headers)
        answer.raise_for_status()
        body = answer.json()
        assert body["grid"] and body["areas"]["community"], body


# -- the page ------------------------------------------------------------------------------

# Installed before the page's own scripts: long tasks from the start, and every frame.
PROBE = """
window.__bench = { longtasks: [], frames: [] };
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__bench.longtasks.push([e.startTime, e.duration]);
  }).observe({ type: "longtask", buffered: true });
} catch (e) {
  window.__bench.noLongtasks = String(e);
}
(function () {
  let last = null;
  function tick(now) {
    if (last !== null) window.__bench.frames.push([now, now - last]);
    last = now;
    requestAnimationFrame(tick);
  }
  requestAnimationFrame(tick);
})();
"""

ICONS = "() => document.querySelectorAll('.leaflet-marker-pane .inc-icon, .marker-cluster').length"

CLUSTERED = (
    "() => { const c = window.gridgovMap && gridgovMap.cluster;"
    " return c && c._topClusterLevel ? c._topClusterLevel.getChildCount() : 0; }"
)

MOVE_AND_WAIT = """
async (move) => {
  const map = gridgovMap.map;
  const moved = new Promise((resolve) => {
    map.once("moveend", resolve);
    setTimeout(resolve, 10000); // a move that changes nothing may never end
  });
  if (move.zoomIn) map.zoomIn(move.zoomIn);
  if (move.zoomOut) map.zoomOut(move.zoomOut);
  if (move.fit) map.fitBounds([[move.fit[1], move.fit[0]], [move.fit[3], move.fit[2]]]);
  await moved;
  return map.getZoom();
}
"""


@dataclass
class Window:
    label: str
    start: float
    end: float
    zoom: int | None = None
    reloads: int = 0
    icons: int | None = None  # markers and cluster icons in the DOM at the end


@dataclass
class PageFigures:
    chromium: str
    markers_built_ms: float
    clustered_ms: float
    live_ms: float | None
    load: Window
    steps: list[Window]
    longtasks: list[tuple[float, float]]
    frames: list[tuple[float, float]]
    errors: list[str]
    outside: list[str]
    no_longtasks: str | None
    requests: list[tuple[str, float, float, int]]  # map requests: url, start, end, bytes


def window_stats(
    w: Window, longtasks: list[tuple[float, float]], frames: list[tuple[float, float]]
) -> dict[str, float]:
    tasks = [d for s, d in longtasks if w.start <= s < w.end]
    gaps = [g for at, g in frames if w.start <= at - g < w.end]  # by when the gap began
    return {
        "tasks": len(tasks),
        "total": sum(tasks),
        "max_task": max(tasks, default=0.0),
        "max_gap": max(gaps, default=0.0),
        "gaps_over_100": sum(1 for g in gaps if g > 100),
        "frames": len(gaps),
        "seconds": (w.end - w.start) / 1000,
    }


def browse(base: str, login: dict[str, Any], expected: int, heat_label: str) -> PageFigures:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    outside: list[str] = []
    incident_requests: list[str] = []
    pending: set[Any] = set()

    def only_the_service(route: Any) -> None:
        if route.request.url.startswith(base + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    def started(request: Any) -> None:
        if "/api/v1/map/" in request.url:
            pending.add(request)
            if "/api/v1/map/incidents" in request.url:
                incident_requests.append(request.url)

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                locale="zh-CN", timezone_id="Asia/Shanghai", viewport=VIEWPORT
            )
            context.route("**/*", only_the_service)
            user = json.dumps(json.dumps(login["user"]))
            context.add_init_script(
                f"localStorage.setItem('gridgov.token', {json.dumps(login['access_token'])});"
                f"localStorage.setItem('gridgov.user', {user});" + PROBE
            )
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("request", started)
            page.on("requestfinished", lambda request: pending.discard(request))
            page.on("requestfailed", lambda request: pending.discard(request))

            def settle(quiet_ms: int = 600) -> None:
                """Until no map request is under way and every marker is in the cluster,
                then a quiet moment for the last chunk and paint, and two frames drawn
                after it (so that a stall of the rendering ends inside its step)."""
                deadline = time.monotonic() + 120
                while True:
                    while pending and time.monotonic() < deadline:
                        page.wait_for_timeout(50)
                    page.wait_for_function(
                        f"() => ({CLUSTERED})() >= gridgovMap.markers.size",
                        polling="raf",
                        timeout=120_000,
                    )
                    page.wait_for_timeout(quiet_ms)
                    done = page.evaluate(f"() => ({CLUSTERED})() >= gridgovMap.markers.size")
                    if (not pending and done) or time.monotonic() > deadline:
                        break
                page.wait_for_function(
                    "n => window.__bench.frames.length >= n + 2",
                    arg=page.evaluate("() => window.__bench.frames.length"),
                    polling="raf",
                    timeout=120_000,
                )

            page.goto(f"{base}/map", wait_until="commit")
            built = float(
                page.wait_for_function(
                    "n => window.gridgovMap && gridgovMap.markers.size >= n"
                    " ? performance.now() : false",
                    arg=expected,
                    polling="raf",
                    timeout=180_000,
                ).json_value()
            )
            clustered = float(
                page.wait_for_function(
                    f"n => ({CLUSTERED})() >= n ? performance.now() : false",
                    arg=expected,
                    polling="raf",
                    timeout=180_000,
                ).json_value()
            )
            live: float | None
            try:
                live = float(
                    page.wait_for_function(
                        "() => document.querySelector('#live-state.on')"
                        " ? performance.now() : false",
                        polling="raf",
                        timeout=15_000,
                    ).json_value()
                )
            except PlaywrightTimeout:  # the figures stand without it
                live = None
            settle(1000)
            load = Window(
                "load",
                0.0,
                float(page.evaluate("performance.now()")),
                int(page.evaluate("gridgovMap.map.getZoom()")),
                len(incident_requests),
                int(page.evaluate(ICONS)),
            )

            steps: list[Window] = []

            def step(label: str, action: Any) -> None:
                before = len(incident_requests)
                begin = float(page.evaluate("performance.now()"))
                zoom = action()
                settle()
                end = float(page.evaluate("performance.now()"))
                if zoom is None:
                    zoom = int(page.evaluate("gridgovMap.map.getZoom()"))
                icons = int(page.evaluate(ICONS))
                steps.append(
                    Window(label, begin, end, zoom, len(incident_requests) - before, icons)
                )

            def move(**how: Any) -> Any:
                return lambda: page.evaluate(MOVE_AND_WAIT, how)

            centre = (VIEWPORT["width"] // 2, VIEWPORT["height"] // 2)

            def drag(dx: int, dy: int) -> Any:
                def run() -> None:
                    x, y = centre
                    page.mouse.move(x, y)
                    page.mouse.down()
                    page.mouse.move(x + dx, y + dy, steps=25)
                    page.mouse.up()
                    page.wait_for_timeout(400)  # Leaflet's inertia

                return run

            city = page.evaluate(
                "() => { const b = gridgovMap.map.getBounds();"
                " return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }"
            )
            for _ in range(5):
                step("zoom in one level", move(zoomIn=1))
            for dx, dy in ((500, 0), (0, 350), (-500, 0), (0, -350), (-600, 250)):
                step(f"drag {dx:+d},{dy:+d} px", drag(dx, dy))
            # Leaflet animates a zoom of up to four levels; more is redrawn without animation.
            step("zoom out three levels", move(zoomOut=3))
            step("back to the city (fit)", move(fit=city))
            step("zoom out beyond the city", move(zoomOut=1))
            step("zoom in to the city", move(zoomIn=1))

            heat_box = page.locator(
                ".leaflet-control-layers-overlays label", has_text=heat_label
            ).locator("input")
            step("heat layer on (layer control)", lambda: heat_box.click())
            step("zoom in one level (heat on)", move(zoomIn=1))
            step("zoom in one level (heat on)", move(zoomIn=1))
            step("drag +400,+200 px (heat on)", drag(400, 200))
            step("back to the city (heat on)", move(fit=city))
            step("heat layer off", lambda: heat_box.click())

            bench = page.evaluate("() => window.__bench")
            fetched = page.evaluate(
                "() => performance.getEntriesByType('resource')"
                ".filter(e => e.name.includes('/api/v1/map/'))"
                ".map(e => [e.name.replace(location.origin, ''), e.startTime, e.responseEnd,"
                " e.encodedBodySize])"
            )
            chromium_version = browser.version
        finally:
            browser.close()

    return PageFigures(
        chromium=chromium_version,
        markers_built_ms=built,
        clustered_ms=clustered,
        live_ms=live,
        load=load,
        steps=steps,
        longtasks=[(float(s), float(d)) for s, d in bench["longtasks"]],
        frames=[(float(a), float(g)) for a, g in bench["frames"]],
        errors=errors,
        outside=outside,
        no_longtasks=bench.get("noLongtasks"),
        requests=[(str(u), float(a), float(b), int(n)) for u, a, b, n in fetched],
    )


# -- the report ----------------------------------------------------------------------------


def print_figures(
    args: argparse.Namespace, seeded: Seeded, api: list[Timed], page: PageFigures | None
) -> None:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    print()
    print("== the command-centre map with open incidents ==")
    print(f"cores: {os.cpu_count()} (usable: {affinity})")
    statuses = ", ".join(f"{k} {v:,}" for k, v in sorted(seeded.statuses.items()))
    print(f"open incidents: {seeded.count:,} ({statuses}), written in {seeded.seconds:.1f} s")
    print()
    print(f"API, operator token, {args.runs} calls each (keep-alive):")
    for a in api:
        counts = f"{a.returned:,} returned" if a.returned is not None else ""
        if a.matched is not None:
            counts += f" of {a.matched:,}"
        print(
            f"  {a.label:<36} p50 {a.p50:7.1f} ms   p95 {a.p95:7.1f} ms   "
            f"{a.size / 1024:8.1f} KiB as sent (encoding: {a.encoding}; gzip -6 would be "
            f"{a.gzipped / 1024:.1f} KiB)   {counts}"
        )
    if page is None:
        return
    print()
    size = f"{VIEWPORT['width']}x{VIEWPORT['height']}"
    print(f"page /map in headless Chromium {page.chromium}, {size}, seconds after navigation:")
    print(f"  markers built (markers.size >= N)  {page.markers_built_ms / 1000:6.2f} s")
    print(f"  all markers clustered              {page.clustered_ms / 1000:6.2f} s")
    if page.live_ms is not None:
        print(f"  live feed connected                {page.live_ms / 1000:6.2f} s")
    if page.no_longtasks:
        print(f"  (no long-task observer: {page.no_longtasks})")
    print()
    header = (
        f"  {'step':<34}{'zoom':>5}{'icons':>6}{'loads':>6}{'secs':>7}{'long tasks':>11}"
        f"{'total ms':>10}{'max ms':>8}{'max frame gap':>15}{'gaps>100':>9}"
    )
    print(
        "  (icons: markers and cluster icons in the DOM after the step; loads: requests for"
        " incidents it caused;\n   long tasks and frame gaps that began within the step)"
    )
    print(header)

    def line(w: Window) -> None:
        s = window_stats(w, page.longtasks, page.frames)
        print(
            f"  {w.label:<34}{w.zoom if w.zoom is not None else '':>5}"
            f"{w.icons if w.icons is not None else '':>6}{w.reloads:>6}"
            f"{s['seconds']:>7.1f}{s['tasks']:>11.0f}{s['total']:>10.0f}{s['max_task']:>8.0f}"
            f"{s['max_gap']:>12.0f} ms{s['gaps_over_100']:>9.0f}"
        )

    line(page.load)
    for w in page.steps:
        line(w)
    if page.steps:
        whole = Window(
            "interaction (all steps above)",
            page.steps[0].start,
            page.steps[-1].end,
            None,
            sum(w.reloads for w in page.steps),
        )
        print("  " + "-" * (len(header) - 2))
        line(whole)
        quiet = [w for w in page.steps if w.reloads == 0]
        stats = [window_stats(w, page.longtasks, page.frames) for w in quiet]
        print(
            f"  steps without an incident reload: {len(quiet)} of {len(page.steps)}, "
            f"longest task {max((s['max_task'] for s in stats), default=0):.0f} ms, "
            f"largest frame gap {max((s['max_gap'] for s in stats), default=0):.0f} ms"
        )
    print(f"  requests to other hosts (aborted): {len(page.outside)}")
    print(f"  script errors on the page: {len(page.errors)}")
    for error in page.errors[:5]:
        print(f"    {error}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20, help="calls per API figure")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--no-browser", action="store_true", help="the API figures only")
    parser.add_argument(
        "--json", type=Path, help="also write every long task, frame and step to this file"
    )
    args = parser.parse_args()
    if args.incidents < 1:
        parser.error("--incidents must be at least 1")

    root = Path(tempfile.mkdtemp(prefix="gridgov-bench-"))
    cluster = EmbeddedCluster(root=root, fast_unsafe=True)
    url = cluster.start()
    try:
        engine = make_engine(url)
        upgrade(engine)
        factory = make_session_factory(engine)
        started = time.perf_counter()
        with session_scope(factory) as session:
            load_demo_city(session, geodata_dir=PROJECT_ROOT / "geodata")
        print(f"demo city loaded in {time.perf_counter() - started:.1f} s")
        conninfo = url.replace("postgresql+psycopg://", "postgresql://")
        with factory() as session:
            seeded = seed_incidents(session, conninfo, args.incidents, args.seed)
        engine.dispose()
        print(f"{args.incidents:,} open incidents written in {seeded.seconds:.1f} s")

        settings = Settings(
            database_url=url,
            environment="test",
            escalation_interval=0,
            delivery_interval=0,
            data_dir=root / "var",
        )
        with served_in_thread(create_app(settings)) as base:
            login = sign_in(base, "operator")
            check_rows(base, login["access_token"], seeded.sample_ids)
            api = api_figures(base, login["access_token"], seeded, args.runs)
            page = None
            if not args.no_browser:
                expected = min(args.incidents, MAX_POINTS)
                page = browse(base, login, expected, t("web.layer.heat", "zh"))
            print_figures(args, seeded, api, page)
            if args.json is not None:
                args.json.write_text(
                    json.dumps(
                        {"seeded": asdict(seeded), "api": [asdict(a) for a in api]}
                        | ({"page": asdict(page)} if page is not None else {})
                    )
                )
            return 1 if page is not None and page.errors else 0
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(cluster.socket_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
