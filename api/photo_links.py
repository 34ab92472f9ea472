"""Short-lived signed photo URLs: an <img> cannot send a bearer token, and a token in a URL
would sit in the browser's history, caches and logs for as long as the token lives.

A link is HMAC-SHA256, under a key derived from the app secret, over the incident id, the
photo's hash and an expiry. It is handed only to callers who may read the incident (in the
incident's detail answer) and opens that one photo until it expires. Expiries are rounded
up to the next STEP, so a page that asks again within a few minutes gets the same URL and
the browser's cache answers.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

STEP = 600  # seconds: links made within the same ten minutes are the same link


@dataclass(frozen=True)
class PhotoLinks:
    """Makes and checks photo links with one key at one moment."""

    key: bytes
    lifetime: int
    now: float

    @classmethod
    def for_secret(cls, secret: str, *, lifetime: int, now: float | None = None) -> PhotoLinks:
        """Links under a key of their own, derived from the app secret."""
        key = hmac.new(secret.encode(), b"gridgov photo links v1", hashlib.sha256).digest()
        return cls(key, lifetime, time.time() if now is None else now)

    def url(self, incident_id: int, sha256: str, size: str = "full") -> str:
        """The photo's signed URL (``size``: full or thumb), valid for at least ``lifetime``.

        >>> links = PhotoLinks.for_secret("s", lifetime=3600, now=1000)
        >>> links.url(7, "ab", "thumb")  # doctest: +ELLIPSIS
        '/api/v1/incidents/7/photos/ab?size=thumb&expires=4800&signature=...'
        """
        expires = (int(self.now + self.lifetime) // STEP + 1) * STEP
        signature = self._sign(incident_id, sha256, expires)
        return (
            f"/api/v1/incidents/{incident_id}/photos/{sha256}"
            f"?size={size}&expires={expires}&signature={signature}"
        )

    def valid(self, incident_id: int, sha256: str, expires: int, signature: str) -> bool:
        """Whether the link was made with this key for this photo and has not expired.

        >>> links = PhotoLinks.for_secret("s", lifetime=60, now=0)
        >>> signature = links._sign(7, "ab", 600)
        >>> links.valid(7, "ab", 600, signature), links.valid(8, "ab", 600, signature)
        (True, False)
        >>> PhotoLinks.for_secret("s", lifetime=60, now=601).valid(7, "ab", 600, signature)
        False
        >>> PhotoLinks.for_secret("other", lifetime=60, now=0).valid(7, "ab", 600, signature)
        False
        """
        if expires < self.now:
            return False
        return hmac.compare_digest(self._sign(incident_id, sha256, expires), signature)

    def _sign(self, incident_id: int, sha256: str, expires: int) -> str:
        message = f"{incident_id}:{sha256}:{expires}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()


def photo_links(request: Request) -> PhotoLinks:
    """Photo links under this service's secret, now (rotating the key voids them too)."""
    state = request.app.state
    return PhotoLinks.for_secret(
        state.token_secret.current(), lifetime=state.settings.photo_link_seconds
    )


PhotoLinksDep = Annotated[PhotoLinks, Depends(photo_links)]
