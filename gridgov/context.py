"""Who asked: the id of the request (or background run) the current code works for.

The web layer sets it for each request and background jobs set it for each run; the domain
only reads it (audit rows carry it, log lines show it), so ``gridgov/`` never imports the
web layer to know which request it serves.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("gridgov_request_id", default=None)

# What a client may send as its own id: short, printable, no spaces or quotes (it goes into
# log lines and a response header as it is).
_SANE = re.compile(r"[A-Za-z0-9._:@/+=-]{1,64}")


def current_request_id() -> str | None:
    """The id of the request or run being served, None outside any."""
    return _request_id.get()


def new_request_id() -> str:
    """A fresh id: 32 hexadecimal digits."""
    return uuid.uuid4().hex


def sane_request_id(value: str | None) -> str | None:
    """``value`` if it is fit to log and echo back, else None.

    >>> sane_request_id("phone-7/000123")
    'phone-7/000123'
    >>> sane_request_id("a b") is None, sane_request_id("x" * 65) is None, sane_request_id(None)
    (True, True, None)
    """
    if value and _SANE.fullmatch(value):
        return value
    return None


@contextmanager
def request_context(request_id: str) -> Iterator[str]:
    """Serve ``request_id`` inside the block (the id is restored after it)."""
    token = _request_id.set(request_id)
    try:
        yield request_id
    finally:
        _request_id.reset(token)
