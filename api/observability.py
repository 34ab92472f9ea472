"""Every request gets an id, one log line and a latency sample; Prometheus reads the rest.

The id comes from the client's ``X-Request-ID`` when it is sane (short, printable), else it
is made here; it goes back in the ``X-Request-ID`` header, into every log line written while
the request is served, and into the audit rows it writes (through ``gridgov.context``).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, text
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gridgov.context import new_request_id, request_context, sane_request_id
from gridgov.db.health import DatabaseState, database_unavailable
from gridgov.incidents.lifecycle import Status

log = logging.getLogger("gridgov.http")

REQUEST_ID_HEADER = "X-Request-ID"
# Seconds; a report with photos or a large batch may take a few seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def route_template(scope: Scope) -> str:
    """The route's path template (``/api/v1/incidents/{incident_id}``), never the raw path:
    one time series per route, whatever ids the clients send."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class RequestContextMiddleware:
    """Request id, one log line per request, and the latency histogram (pure ASGI, so the
    event streams pass through unbuffered)."""

    def __init__(self, app: ASGIApp, latency: Histogram) -> None:
        self.app = app
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = (
            sane_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER)) or new_request_id()
        )
        status = 500  # what the client gets if the app fails before it answers

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        started = time.perf_counter()
        with request_context(request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                route = route_template(scope)
                self.latency.labels(scope["method"], route, str(status)).observe(elapsed)
                log.info(
                    "%s %s %d",
                    scope["method"],
                    scope["path"],  # no query string: it may carry a token
                    status,
                    extra={
                        "method": scope["method"],
                        "route": route,
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 1),
                    },
                )


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time (one short query each), the pool's
    counts, and the watchdog's view. When the database is away, only what needs no query."""

    def __init__(self, state: Any) -> None:
        self.state = state  # the app's state: engine and watchdog appear when it starts

    def collect(self) -> list[Metric]:
        engine: Engine | None = getattr(self.state, "engine", None)
        if engine is None:
            return []
        metrics = _pool_metrics(engine)
        watch: DatabaseState | None = getattr(self.state, "database_state", None)
        if watch is not None:
            up = GaugeMetricFamily("gridgov_database_up", "1 when the database answered last")
            up.add_metric([], 1.0 if watch.reachable else 0.0)
            restarts = CounterMetricFamily(
                "gridgov_database_restarts", "Times the watchdog started the embedded cluster"
            )
            restarts.add_metric([], watch.restarts)
            metrics += [up, restarts]
        try:
            metrics += _table_metrics(engine)
        except Exception as error:
            if not database_unavailable(error):
                raise
        return metrics


def _pool_metrics(engine: Engine) -> list[Metric]:
    pool: Any = engine.pool
    gauge = GaugeMetricFamily(
        "gridgov_db_pool_connections", "Connections of the pool, by state", labels=["state"]
    )
    for state, method in (
        ("checked_out", "checkedout"),
        ("checked_in", "checkedin"),
        ("overflow", "overflow"),
    ):
        if hasattr(pool, method):
            gauge.add_metric([state], float(getattr(pool, method)()))
    size = GaugeMetricFamily("gridgov_db_pool_size", "Connections the pool keeps")
    size.add_metric([], float(pool.size()) if hasattr(pool, "size") else 0.0)
    return [gauge, size]


def _table_metrics(engine: Engine) -> list[Metric]:
    with engine.connect() as conn:
        conn.execute(text("SET LOCAL statement_timeout = 2000"))
        by_status: dict[str, int] = dict(
            conn.execute(text("SELECT status, count(*) FROM incidents GROUP BY status")).all()
        )
        backlog: dict[str, int] = dict(
            conn.execute(
                text(
                    "SELECT status, count(*) FROM webhook_deliveries"
                    " WHERE status <> 'delivered' GROUP BY status"
                )
            ).all()
        )
    incidents = GaugeMetricFamily("gridgov_incidents", "Incidents by status", labels=["status"])
    for status in Status:
        incidents.add_metric([status.value], float(by_status.get(status.value, 0)))
    webhooks = GaugeMetricFamily(
        "gridgov_webhook_backlog",
        "Webhook deliveries not delivered: pending (waiting or retrying) and dead",
        labels=["status"],
    )
    for state in ("pending", "dead"):
        webhooks.add_metric([state], float(backlog.get(state, 0)))
    return [incidents, webhooks]


class ServiceMetrics:
    """One app's metrics: its own registry (request latency, database gauges) plus the
    process-wide counters of ``gridgov.metrics`` in the default registry."""

    def __init__(self, state: Any) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "gridgov_http_request_duration_seconds",
            "Time to answer a request, by route template",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(DatabaseCollector(state))

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(REGISTRY) + generate_latest(self.registry)


def may_read_metrics(request: Request, token: str | None) -> bool:
    """Loopback clients may; others only with ``Authorization: Bearer <metrics token>``.

    Behind a reverse proxy on the same machine, uvicorn puts the forwarded client address
    in place of the proxy's (it trusts X-Forwarded-For from 127.0.0.1 by default), so remote
    clients do not pass as loopback.
    """
    host = request.client.host if request.client else ""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return True
    except ValueError:
        pass
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    return bool(
        token and scheme.lower() == "bearer" and hmac.compare_digest(value.encode(), token.encode())
    )
