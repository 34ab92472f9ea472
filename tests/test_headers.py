"""Security headers: the pages' Content-Security-Policy, and what every answer carries."""

from __future__ import annotations

import re

import pytest

from tests.conftest import auth

PAGES = ["/map", "/report", "/doorstep", "/supplies", "/visits", "/login", "/incidents/1", "/docs"]


def policy(answer) -> dict[str, str]:
    parts = (p.strip().split(" ", 1) for p in answer.headers["content-security-policy"].split(";"))
    return {name: rest for name, rest in parts}


@pytest.mark.parametrize("path", PAGES)
def test_every_page_allows_only_its_own_origin_and_nonced_inline_code(client, path):
    answer = client.get(path)
    assert answer.status_code == 200
    csp = policy(answer)
    nonce = re.fullmatch(r"'self' 'nonce-([\w-]+)'", csp["script-src"]).group(1)
    assert csp["default-src"] == "'self'" and csp["style-src"] == f"'self' 'nonce-{nonce}'"
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert "unsafe" not in answer.headers["content-security-policy"]
    assert "http" not in csp["img-src"]  # no tile server set: nothing from outside
    inline = [t for t in re.findall(r"<(?:script|style)\b[^>]*>", answer.text) if "src=" not in t]
    assert inline and all(f'nonce="{nonce}"' in tag for tag in inline), inline
    assert not re.search(r"\son[a-z]+=", answer.text), "inline event handler"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "same-origin"
    assert (
        client.get(path).headers["content-security-policy"]
        != (answer.headers["content-security-policy"])
    ), "a fresh nonce for every answer"


def test_the_tile_server_is_allowed_for_images_when_set(client):
    settings = client.app.state.settings
    settings.tile_url = "https://t{s}.tiles.example.cn/vec_w/{z}/{x}/{y}.png"
    settings.tile_subdomains = "012"
    from fastapi.testclient import TestClient

    from api.main import create_app

    with TestClient(create_app(settings)) as with_tiles:
        img_src = policy(with_tiles.get("/login"))["img-src"].split()
    assert {"https://t0.tiles.example.cn", "https://t2.tiles.example.cn"} <= set(img_src)
    assert "https://t3.tiles.example.cn" not in img_src


def test_api_answers_may_load_nothing(client, session):
    answer = client.get("/api/v1/categories", headers=auth(session, "operator"))
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    refused = client.get("/api/v1/categories")
    assert refused.status_code == 401 and refused.headers["x-content-type-options"] == "nosniff"
