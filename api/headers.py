"""Security headers on every answer, and the pages' Content-Security-Policy.

The pages load nothing from outside the service, so the policy allows only its own origin
(and the tile server, when one is set). The few inline scripts and styles (the client
config, folium's map script and styles, Swagger UI's start-up script) carry a nonce made
fresh for each answer: no 'unsafe-inline' and no 'unsafe-eval'.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gridgov.config import Settings

# Headers every answer carries: no MIME sniffing (a photo is never run as a script), no
# framing (clickjacking), and no page address (with its incident id) sent to other sites.
COMMON = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
# JSON, photos, scripts: nothing in them may load or run anything, even opened directly.
NOT_A_PAGE = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_NONCE_ME = re.compile(r"<(script|style)(?![^>]*\bnonce=)(?=[\s>])", re.IGNORECASE)


def tile_sources(tile_url: str | None, subdomains: str) -> list[str]:
    """The sources img-src must allow for the tile server (none when it is this service).

    >>> tile_sources("https://t{s}.example.cn/{z}/{x}/{y}.png", "01")
    ['https://t0.example.cn', 'https://t1.example.cn']
    >>> tile_sources("http://10.1.2.3:8080/tiles/{z}/{x}/{y}.png", "abc")
    ['http://10.1.2.3:8080']
    >>> tile_sources("/tiles/{z}/{x}/{y}.png", "abc"), tile_sources(None, "abc")
    ([], [])
    """
    if not tile_url:
        return []
    parts = urlsplit(tile_url)
    if not parts.netloc:
        return []  # served by this service: 'self'
    hosts = [parts.netloc.replace("{s}", s) for s in subdomains] if "{s}" in parts.netloc else []
    hosts = hosts or [parts.netloc]
    if any("{" in host for host in hosts):
        return [f"{parts.scheme or 'https'}:"]  # a template this cannot spell out: its scheme
    prefix = f"{parts.scheme}://" if parts.scheme else ""
    return sorted({prefix + host.rsplit("@", 1)[-1] for host in hosts})


def page_policy(nonce: str, tiles: list[str]) -> str:
    """The Content-Security-Policy of an HTML page answered with this nonce."""
    images = " ".join(["'self'", "data:", "blob:", *tiles])
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            f"style-src 'self' 'nonce-{nonce}'",
            f"img-src {images}",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def nonce_of(request: Request) -> str:
    """The nonce this answer's policy allows (set by SecurityHeaders for every request)."""
    return str(request.state.csp_nonce)


def with_nonce(html: str, nonce: str) -> str:
    """Every <script> and <style> of generated HTML (folium's, Swagger UI's) given the nonce.

    >>> with_nonce('<script>x()</script><style nonce="n">a{}</style>', "n")
    '<script nonce="n">x()</script><style nonce="n">a{}</style>'
    """
    return _NONCE_ME.sub(rf'<\1 nonce="{nonce}"', html)


class SecurityHeaders:
    """ASGI middleware: a fresh nonce per request, and the headers on every answer."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.tiles = tile_sources(settings.tile_url, settings.tile_subdomains)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})["csp_nonce"] = nonce

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON.items():
                    headers.setdefault(name, value)
                is_page = headers.get("content-type", "").startswith("text/html")
                policy = page_policy(nonce, self.tiles) if is_page else NOT_A_PAGE
                headers.setdefault("Content-Security-Policy", policy)
            await send(message)

        await self.app(scope, receive, send_with_headers)
