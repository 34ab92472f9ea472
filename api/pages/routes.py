"""The pages' routes: thin, they render a template and leave the data to the JSON API."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select

from api.deps import SessionDep
from api.headers import nonce_of, with_nonce
from api.pages.assets import STATIC_DIR, STATIC_URL
from api.pages.city_map import render_map_page
from api.params import BigId
from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.models import Grid
from gridgov.i18n import DEFAULT_LANGUAGE, LANGUAGES, catalogue, t

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")

LANG_COOKIE = "gridgov_lang"
# Catalogue sections the browser needs (the rest are server-side messages).
CLIENT_SECTIONS = ("web.", "status.", "move.", "level.", "action.")


def page_language(request: Request) -> str:
    """?lang= first, then the language the user chose before (a cookie), else Chinese.

    Pages default to Chinese whatever the browser says: the users read Chinese, and a
    command-centre PC set up in English must not switch the wall screen."""
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def client_config(lang: str, **extra: Any) -> str:
    """What every page's scripts read: the language and its messages, as JSON."""
    messages = {k: v for k, v in catalogue(lang).items() if k.startswith(CLIENT_SECTIONS)}
    data = json.dumps({"lang": lang, "messages": messages, **extra}, ensure_ascii=False)
    return data.replace("</", "<\\/")  # safe inside <script>


def _remember_language(request: Request, response: Response, lang: str) -> Response:
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax")
    return response


def _context(request: Request, title_key: str, **config: Any) -> dict[str, Any]:
    lang = page_language(request)
    return {
        "lang": lang,
        "t": lambda key, **params: t(key, lang, **params),
        "title": t(title_key, lang),
        "config": client_config(lang, tiles=_tiles(request), **config),
        "static": STATIC_URL,
        "path": request.url.path,
        "nonce": nonce_of(request),
    }


def _tiles(request: Request) -> dict[str, str] | None:
    settings = request.app.state.settings
    if not settings.tile_url:
        return None
    return {
        "url": settings.tile_url,
        "attribution": settings.tile_attribution,
        "subdomains": settings.tile_subdomains,
    }


def _page(request: Request, template: str, title_key: str, **config: Any) -> Response:
    context = _context(request, title_key, **config)
    response = templates.TemplateResponse(request, template, context)
    return _remember_language(request, response, context["lang"])


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/map")


@router.get("/login")
def login_page(request: Request) -> Response:
    return _page(request, "login.html", "web.login.title")


@cache
def service_worker_source() -> str:
    """sw.js with its cache named after the pages' files: a release with other scripts or
    styles installs a new worker, which drops the copies kept by the old one."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    source = (STATIC_DIR / "app" / "sw.js").read_text(encoding="utf-8")
    return source.replace("gridgov-offline-v1", f"gridgov-offline-{digest.hexdigest()[:16]}")


@router.get("/sw.js")
def service_worker() -> Response:
    """The service worker, from the root so that it may serve every page (its own policy
    lets it fetch from this origin, nothing else)."""
    return Response(
        service_worker_source(),
        media_type="text/javascript",
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": "default-src 'self'",
        },
    )


@router.get("/report")
def report_page(request: Request) -> Response:
    return _page(request, "report.html", "web.report.title")


@router.get("/doorstep")
def doorstep_page(request: Request) -> Response:
    return _page(request, "doorstep.html", "web.doorstep.title")


@router.get("/supplies")
def supplies_page(request: Request) -> Response:
    return _page(request, "supplies.html", "web.supplies.title")


@router.get("/visits")
def visits_page(request: Request) -> Response:
    return _page(request, "visits.html", "web.visits.title")


@router.get("/reports")
def reports_page(request: Request) -> Response:
    return _page(request, "reports.html", "web.reports.title")


@router.get("/incidents/{incident_id}")
def incident_page(request: Request, incident_id: BigId) -> Response:
    return _page(request, "incident.html", "web.incident.title", incident_id=incident_id)


def city_bounds(session: SessionDep) -> tuple[float, float, float, float] | None:
    """West, south, east, north of the active generation's grids."""
    generation = active_generation(session)
    if generation is None:
        return None
    box = session.execute(
        select(
            func.ST_XMin(func.ST_Extent(Grid.geom)),
            func.ST_YMin(func.ST_Extent(Grid.geom)),
            func.ST_XMax(func.ST_Extent(Grid.geom)),
            func.ST_YMax(func.ST_Extent(Grid.geom)),
        ).where(Grid.generation_id == generation.id)
    ).one()
    return None if box[0] is None else (box[0], box[1], box[2], box[3])


@router.get("/map")
def map_page(request: Request, session: SessionDep) -> Response:
    context = _context(request, "web.map.title")
    html = render_map_page(
        settings=request.app.state.settings,
        lang=context["lang"],
        bounds=city_bounds(session),
        head=templates.get_template("_map_head.html").render(context),
        chrome=templates.get_template("_map_chrome.html").render(context),
        nonce=context["nonce"],
    )
    return _remember_language(request, HTMLResponse(html), context["lang"])


@router.get("/docs")
def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI from gridgov's own copy (no CDN), its start-up script under the nonce."""
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title="gridgov API",
        swagger_js_url=f"{STATIC_URL}/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{STATIC_URL}/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url=f"{STATIC_URL}/vendor/swagger-ui/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},
    )
    return HTMLResponse(with_nonce(bytes(page.body).decode(), nonce_of(request)))
