"""Log lines as JSON objects (or readable key=value lines), each naming its request id.

The code logs through the standard library (``logging.getLogger(__name__)``), as do uvicorn,
SQLAlchemy and Alembic; structlog only formats: one ``ProcessorFormatter`` on the root
handler turns every record, ours and the libraries', into one JSON object with the time,
level, logger, message, the ``extra`` fields and the id of the request or background run
being served (``gridgov.context``).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from gridgov.context import current_request_id


def add_request_id(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Put the current request id into the line (when there is one)."""
    if (request_id := current_request_id()) is not None:
        event.setdefault("request_id", request_id)
    return event


def formatter(*, json_lines: bool = True) -> logging.Formatter:
    """The formatter every handler of the service uses."""
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)  # Chinese stays readable
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            add_request_id,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes, not the stream it was when
    logging was set up (a test runner or a daemon may replace it, and close the old one)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(*, json_lines: bool = True, level: str = "INFO") -> None:
    """Send every logger's records to stderr through :func:`formatter` (the service does this
    once at start; uvicorn is told not to set up its own handlers)."""
    handler = StderrHandler()
    handler.setFormatter(formatter(json_lines=json_lines))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
