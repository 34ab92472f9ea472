"""The pages and the map's layer endpoints over HTTP (no browser: see test_browser.py)."""

from __future__ import annotations

import io
import json
import logging
import re
import time

import pytest
from PIL import Image

from api.pages.assets import STATIC_DIR
from api.photo_links import PhotoLinks
from api.security import HideQueryTokens
from gridgov.config import PROJECT_ROOT
from gridgov.i18n import catalogue
from gridgov.incidents.events import ACTIONS
from tests.conftest import auth, token_for
from tests.photos import image_bytes

HERE = {"lon": 109.1, "lat": 21.55}  # 青柳社区第7网格 990105009003007
PAGES = ["/map", "/report", "/supplies", "/visits", "/reports", "/login", "/incidents/1", "/docs"]
TEMPLATES = PROJECT_ROOT / "api" / "templates"


def report(client, session, **fields):
    data = {**HERE, "category": "0102", **fields}
    response = client.post("/api/v1/incidents", data=data, headers=auth(session, "gridhead"))
    assert response.status_code == 201, response.text
    return response.json()


def page_config(html: str) -> dict:
    """The JSON every page hands its scripts (window.GRIDGOV)."""
    found = re.search(r"window\.GRIDGOV = (\{.*?\});\s*</script>", html, re.S)
    assert found, "page has no client config"
    return json.loads(found.group(1))


# -- language --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/map", "/report", "/doorstep", "/supplies", "/visits", "/reports", "/login", "/incidents/1"],
)
def test_pages_are_chinese_by_default_whatever_the_browser_says(client, path):
    response = client.get(path, headers={"Accept-Language": "en-US,en"})
    assert response.status_code == 200
    assert '<html lang="zh-CN">' in response.text
    config = page_config(response.text)
    assert config["lang"] == "zh"
    assert config["messages"]["web.nav.map"] == "全市一张图"


def test_english_is_chosen_once_and_remembered(client):
    first = client.get("/report?lang=en")
    assert page_config(first.text)["lang"] == "en"
    assert "gridgov_lang=en" in first.headers["set-cookie"]
    again = client.get("/supplies")  # the cookie carries the choice
    assert page_config(again.text)["messages"]["web.nav.map"] == catalogue("en")["web.nav.map"]
    assert client.get("/supplies?lang=zh").cookies.get("gridgov_lang") == "zh"


def test_an_unknown_language_falls_back_to_chinese(client):
    assert page_config(client.get("/report?lang=fr").text)["lang"] == "zh"


def test_the_map_page_is_titled_and_labelled_in_the_chosen_language(client):
    zh = client.get("/map").text
    en = client.get("/map?lang=en").text
    assert catalogue("zh")["web.layer.incidents"] in zh
    assert catalogue("en")["web.layer.incidents"] in en
    assert catalogue("zh")["web.layer.incidents"] not in en


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_map_zoom_buttons_are_titled_in_the_page_language(client, lang):
    html = client.get(f"/map?lang={lang}").text
    found = re.search(r"L\.control\.zoom\((\{.*?\})\)", html)
    assert found, "no zoom control"
    options = json.loads(found.group(1))
    assert options["zoomInTitle"] == catalogue(lang)["web.map.zoom_in"]
    assert options["zoomOutTitle"] == catalogue(lang)["web.map.zoom_out"]
    assert '"zoomControl": false' in html  # not also Leaflet's own, titled in English


# -- nothing from outside --------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_pages_load_nothing_from_outside(client, path):
    html = client.get(path).text
    outside = re.findall(r"""(?:src|href)\s*=\s*["'](?:https?:)?//[^"']+""", html)
    assert outside == []
    for url in re.findall(r"""(?:src|href)\s*=\s*["'](/static/[^"'?]+)""", html):
        assert client.get(url).status_code == 200, url


def test_vendored_libraries_carry_their_licences():
    vendor = STATIC_DIR / "vendor"
    for folder in ["leaflet", "leaflet.markercluster", "leaflet.heat", "swagger-ui"]:
        licences = [p for p in (vendor / folder).iterdir() if "LICEN" in p.name.upper()]
        assert licences, folder


def test_scripts_reach_no_outside_host():
    for script in (STATIC_DIR / "app").glob("*.js"):
        assert not re.search(r"https?://", script.read_text()), script.name


# -- one catalogue per language --------------------------------------------------------------


def used_keys() -> set[str]:
    """Every message key the scripts and templates name literally."""
    keys: set[str] = set()
    key = r"""["']((?:web|status|move|level|action)\.[a-z0-9_.]*[a-z0-9_])["']"""
    for script in (STATIC_DIR / "app").glob("*.js"):
        keys |= set(re.findall(key, script.read_text()))
    for template in TEMPLATES.glob("*.html"):
        keys |= set(re.findall(r"t\('([a-z0-9_.]+)'\)", template.read_text()))
    city_map = (PROJECT_ROOT / "api" / "pages" / "city_map.py").read_text()
    keys |= set(re.findall(r'"(web\.[a-z0-9_.]+)"', city_map))
    return keys


def test_every_visible_text_is_in_both_catalogues():
    keys = used_keys()
    assert len(keys) > 80  # the scan found the pages' texts
    for lang in ["zh", "en"]:
        missing = sorted(k for k in keys if k not in catalogue(lang))
        assert missing == [], lang


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_incident_event_has_a_label(lang):
    messages = catalogue(lang)
    unlabelled = sorted(
        a for a in ACTIONS if f"move.{a}" not in messages and f"web.event.{a}" not in messages
    )
    assert unlabelled == []


def test_the_two_catalogues_have_the_same_web_keys():
    zh = {k for k in catalogue("zh") if k.startswith("web.")}
    en = {k for k in catalogue("en") if k.startswith("web.")}
    assert zh == en


# -- the map's layers ------------------------------------------------------------------------


def test_map_incidents_are_light_points_with_what_a_marker_needs(client, session):
    made = report(client, session, description="井盖缺失")
    body = client.get("/api/v1/map/incidents", headers=auth(session, "operator")).json()
    assert body["type"] == "FeatureCollection"
    feature = next(f for f in body["features"] if f["id"] == made["id"])
    assert feature["geometry"] == {"type": "Point", "coordinates": [HERE["lon"], HERE["lat"]]}
    assert feature["properties"]["status"] == "dispatched"
    assert feature["properties"]["category_name"] == "暴露垃圾"
    assert feature["properties"]["grid"] == "990105009003007"
    assert body["numberMatched"] >= 1 and body["numberReturned"] == len(body["features"])


def test_map_layers_are_compressed_for_browsers_that_ask(client, session):
    for n in range(8):  # over the 1,000 bytes below which compressing is not worth it
        report(client, session, description=f"第{n}处")
    operator = auth(session, "operator")
    packed = client.get("/api/v1/map/incidents", headers={**operator, "Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    plain = client.get("/api/v1/map/incidents", headers={**operator, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert packed.json() == plain.json()


def test_map_incidents_by_bbox_and_status(client, session):
    made = report(client, session)
    operator = auth(session, "operator")
    inside = "109.09,21.54,109.11,21.56"
    outside = "109.2,21.6,109.3,21.7"

    def ids(**params):
        response = client.get("/api/v1/map/incidents", params=params, headers=operator)
        return {f["id"] for f in response.json()["features"]}

    assert made["id"] in ids(bbox=inside)
    assert made["id"] not in ids(bbox=outside)
    assert made["id"] in ids(bbox=inside, status="dispatched")
    assert made["id"] not in ids(bbox=inside, status="resolved")


def test_map_incidents_are_scoped_to_what_the_caller_may_read(client, session):
    made = report(client, session)
    elsewhere = client.get("/api/v1/map/incidents", headers=auth(session, "handler_cg"))
    assert elsewhere.status_code == 200
    handler_ids = {f["id"] for f in elsewhere.json()["features"]}
    own = client.get("/api/v1/map/incidents", headers=auth(session, "gridhead")).json()
    assert made["id"] in {f["id"] for f in own["features"]}
    assert made["id"] not in handler_ids


def test_a_bad_bbox_names_the_field(client, session):
    operator = auth(session, "operator")
    backwards = client.get("/api/v1/map/incidents?bbox=110,21,109,22", headers=operator)
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "bbox"
    garbage = client.get("/api/v1/map/grids?bbox=a,b,c,d", headers=operator)
    assert garbage.status_code == 422
    assert "bbox" in json.dumps(garbage.json())


def test_grid_shading_counts_open_incidents(client, session):
    report(client, session)
    report(client, session)
    body = client.get(
        "/api/v1/map/grids?bbox=109.09,21.54,109.11,21.56", headers=auth(session, "operator")
    ).json()
    grid = next(f for f in body["features"] if f["properties"]["code"] == "990105009003007")
    assert grid["properties"]["open"] >= 2
    assert grid["geometry"]["type"] in {"Polygon", "MultiPolygon"}


def test_heat_points_are_lat_lon_pairs(client, session):
    report(client, session)
    points = client.get("/api/v1/map/heat", headers=auth(session, "operator")).json()
    assert [HERE["lat"], HERE["lon"]] in points


def test_areas_streets_and_stockpiles_layers(client, session):
    operator = auth(session, "operator")
    districts = client.get("/api/v1/map/areas?level=district", headers=operator).json()
    assert len(districts["features"]) == 4
    streets = client.get("/api/v1/map/streets", headers=operator).json()
    assert streets["features"] and streets["features"][0]["geometry"]["type"].endswith("LineString")
    stock = client.get("/api/v1/map/stockpiles", headers=auth(session, "emergency")).json()
    assert stock["features"] and "contact" in json.dumps(stock["features"][0]["properties"])
    assert client.get("/api/v1/map/areas?level=planet", headers=operator).status_code == 422


def test_map_layers_need_a_sign_in(client):
    assert client.get("/api/v1/map/incidents").status_code == 401


# -- what the pages ask of the incidents API -------------------------------------------------


def test_photos_open_by_signed_links_not_tokens(client, session):
    files = [("photos", ("a.jpg", image_bytes("JPEG", size=(1600, 1200)), "image/jpeg"))]
    response = client.post(
        "/api/v1/incidents",
        data={**HERE, "category": "0102"},
        files=files,
        headers=auth(session, "gridhead"),
    )
    [photo] = response.json()["photos"]
    assert "access_token" not in photo["thumb_url"] and "signature=" in photo["thumb_url"]
    thumb = client.get(photo["thumb_url"])  # no header: the link is the permission
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    assert thumb.headers["x-content-type-options"] == "nosniff"
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 320
    full = client.get(photo["url"])
    assert full.status_code == 200 and full.content == files[0][1][1]
    assert full.headers["x-content-type-options"] == "nosniff"

    path, query = photo["url"].split("?")
    signed = dict(pair.split("=") for pair in query.split("&"))
    token = token_for(session, "operator")
    assert client.get(path).status_code == 401
    assert client.get(path, params={"access_token": token}).status_code == 401
    assert client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    forged = {**signed, "signature": "0" * 64}
    assert client.get(path, params=forged).status_code == 403
    longer = {**signed, "expires": str(int(signed["expires"]) + 600)}
    assert client.get(path, params=longer).status_code == 403
    other_incident = path.replace(f"/incidents/{response.json()['id']}/", "/incidents/1/")
    assert client.get(other_incident, params=signed).status_code == 403


def test_a_photo_link_expires(client, session):
    files = [("photos", ("a.jpg", image_bytes("JPEG"), "image/jpeg"))]
    made = client.post(
        "/api/v1/incidents",
        data={**HERE, "category": "0102"},
        files=files,
        headers=auth(session, "gridhead"),
    ).json()
    sha256 = made["photos"][0]["sha256"]
    secret = client.app.state.settings.secret_key.get_secret_value()
    two_hours_ago = PhotoLinks.for_secret(secret, lifetime=3600, now=time.time() - 7200)
    assert client.get(two_hours_ago.url(made["id"], sha256)).status_code == 403
    now = PhotoLinks.for_secret(secret, lifetime=3600)
    assert client.get(now.url(made["id"], sha256)).status_code == 200
    # The answer's links last at least the configured time, whatever the minute.
    expires = int(made["photos"][0]["url"].split("expires=")[1].split("&")[0])
    assert expires - time.time() >= client.app.state.settings.photo_link_seconds - 60


def test_the_incident_says_which_moves_the_caller_may_take(client, session):
    made = report(client, session)
    handler = client.get(f"/api/v1/incidents/{made['id']}", headers=auth(session, "handler_jw"))
    assert {"accept", "reject"} <= set(handler.json()["my_moves"])
    reporter = client.get(f"/api/v1/incidents/{made['id']}", headers=auth(session, "gridhead"))
    assert "accept" not in reporter.json()["my_moves"]


def test_the_signed_in_user_says_what_the_role_may_do(client, session):
    head = client.get("/api/v1/auth/me", headers=auth(session, "gridhead")).json()
    assert {"report", "read"} <= set(head["may"])
    assert "fences" not in head["may"] and "search_supplies" not in head["may"]
    operator = client.get("/api/v1/auth/me", headers=auth(session, "operator")).json()
    assert {"fences", "search_supplies"} <= set(operator["may"])


def test_access_logs_hide_query_tokens():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s"',
        ("1.2.3.4", "GET", "/a?access_token=abc.def&size=thumb"),
        None,
    )
    assert HideQueryTokens().filter(record)
    assert record.getMessage() == '1.2.3.4 - "GET /a?access_token=***&size=thumb"'
    assert any(isinstance(f, HideQueryTokens) for f in logging.getLogger("uvicorn.access").filters)


def test_a_photo_that_unpacks_to_too_many_pixels_is_refused(client, session):
    buffer = io.BytesIO()
    Image.new("1", (9000, 9000)).save(buffer, "PNG")  # a few KB on the wire, 81 Mpx unpacked
    files = [("photos", ("bomb.png", buffer.getvalue(), "image/png"))]
    response = client.post(
        "/api/v1/incidents",
        data={**HERE, "category": "0102"},
        files=files,
        headers=auth(session, "gridhead"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "photos[0]"
    assert "9000×9000" in response.json()["errors"][0]["reason"]


def test_thumbnails_are_upright(client, session):
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: rotate 90° clockwise to view
    Image.new("RGB", (400, 200), "red").save(buffer, "JPEG", exif=exif)
    files = [("photos", ("turned.jpg", buffer.getvalue(), "image/jpeg"))]
    made = client.post(
        "/api/v1/incidents",
        data={**HERE, "category": "0102"},
        files=files,
        headers=auth(session, "gridhead"),
    ).json()
    thumb = client.get(made["photos"][0]["thumb_url"])
    assert Image.open(io.BytesIO(thumb.content)).size == (80, 160)


@pytest.mark.parametrize("bbox", ["1.2.3,1,2,3", "1,2,3", "a,b,c,d", "nan,1,2,3", "109,21,109,22"])
def test_any_malformed_bbox_is_a_field_error(client, session, bbox):
    response = client.get(
        "/api/v1/map/incidents", params={"bbox": bbox}, headers=auth(session, "operator")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "bbox"
    assert response.json()["errors"][0]["reason"] == catalogue("zh")["map.bbox"]


def test_a_bad_level_is_explained_in_chinese(client, session):
    response = client.get("/api/v1/map/areas?level=planet", headers=auth(session, "operator"))
    detail = response.json()["errors"][0]
    assert detail["field"] == "level" and detail["reason"].startswith("取值必须是以下之一")


def test_only_the_reporter_is_offered_a_rating(client, session):
    made = report(client, session)
    handler = auth(session, "handler_jw")
    url = f"/api/v1/incidents/{made['id']}"
    assert client.post(f"{url}/accept", json={"note": "收到"}, headers=handler).status_code == 200
    resolved = client.post(f"{url}/resolve", data={"note": "已清理"}, headers=handler)
    assert resolved.status_code == 200
    operator = client.get(
        f"/api/v1/incidents/{made['id']}", headers=auth(session, "operator")
    ).json()
    reporter = client.get(
        f"/api/v1/incidents/{made['id']}", headers=auth(session, "gridhead")
    ).json()
    assert "close" in operator["my_moves"] and "rate" not in operator["my_moves"]
    assert {"close", "rate"} <= set(reporter["my_moves"])


def test_a_tile_server_with_subdomains_reaches_every_map(client):
    tianditu = "http://t{s}.tiles.example/vec_w/{z}/{x}/{y}?tk=KEY"
    client.app.state.settings = client.app.state.settings.model_copy(
        update={"tile_url": tianditu, "tile_subdomains": "01234567", "tile_attribution": "天地图"}
    )
    city_map = client.get("/map").text
    assert tianditu in city_map and '"subdomains": "01234567"' in city_map
    report = client.get("/report").text
    config = json.loads(re.search(r"window\.GRIDGOV = (\{.*?\});</script>", report).group(1))
    assert config["tiles"] == {"url": tianditu, "attribution": "天地图", "subdomains": "01234567"}
