"""The FastAPI application factory."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sse_starlette.sse import EventSourceResponse

from api import errors
from api.deps import LangDep, SessionDep
from api.feed import IncidentFeed, account_check, events_for
from api.headers import SecurityHeaders
from api.observability import RequestContextMiddleware, ServiceMetrics
from api.pages import routes as pages
from api.pages.assets import STATIC_DIR, STATIC_URL
from api.params import refuse_bad_text
from api.routes import (
    auth,
    boundaries,
    departments,
    doorstep,
    evaluation,
    incidents,
    maps,
    monitoring,
    notifications,
    ogc,
    open311,
    ops,
    register,
    reports,
    supplies,
    visits,
)
from api.security import (
    bearer_or_query_token,
    current_user_or_query_token,
    hide_query_tokens_in_access_logs,
)
from gridgov import __version__
from gridgov.boundaries.generations import active_generation
from gridgov.cache import GridIndexCache
from gridgov.config import Settings, get_settings
from gridgov.db import make_session_factory
from gridgov.db.health import DatabaseWatchdog, head_revision
from gridgov.fences.index import FenceIndex
from gridgov.i18n import t
from gridgov.incidents.escalation import EscalationScheduler
from gridgov.incidents.photos import ImageSlots
from gridgov.jobs import PeriodicJob
from gridgov.leader import Leadership
from gridgov.logs import configure_logging
from gridgov.notifications.addresses import parse_allow_list
from gridgov.notifications.service import deliver_due
from gridgov.register.daily import run_daily
from gridgov.register.protect import register_keys
from gridgov.runtime import embedded_cluster, prepare_database
from gridgov.sensors.partitions import make_partitions_ahead
from gridgov.supplies.roads import RoadNetworkCache
from gridgov.users.models import User
from gridgov.users.secret import TokenSecret
from gridgov.users.service import HashingSlots
from gridgov.users.throttle import LoginLimits, LoginThrottle


def serve_app() -> FastAPI:
    """The app as `gridgov serve` runs it in each worker: uvicorn starts its workers with
    multiprocessing's spawn, so a worker keeps nothing of the parent's logging set-up."""
    settings = get_settings()
    configure_logging(json_lines=settings.log_format == "json", level=settings.log_level)
    app = create_app(settings)
    app.state.freeze_gc = True  # a serving process, not a test's app
    return app


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], float] = time.time
) -> FastAPI:
    """Build the app; the database is prepared (and migrated) when it starts. ``clock`` (epoch
    seconds) judges token expiry and sign-in lockouts: tests pass one they can move."""
    settings = settings or get_settings()
    hide_query_tokens_in_access_logs()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = prepare_database(settings)
        app.state.engine = engine
        app.state.head_revision = head_revision(engine)
        app.state.sessions = make_session_factory(engine)
        app.state.db_slots = anyio.Semaphore(settings.db_pool_size)
        app.state.grid_index = GridIndexCache(settings.index_check_interval)
        app.state.road_network = RoadNetworkCache()
        app.state.fence_index = FenceIndex()
        conninfo = engine.url.render_as_string(hide_password=False).replace("+psycopg", "")
        feed = IncidentFeed(conninfo)
        feed.start()
        app.state.feed = feed
        sessions = app.state.sessions
        # With several workers (`gridgov serve --workers N`) every process has these jobs;
        # those that change shared state run only in the one holding the leader lock.
        leader = Leadership(conninfo)
        app.state.leader = leader
        # Readings' monthly partitions, made before the month begins (checked hourly).
        jobs = [
            PeriodicJob("partitions", 3600, lambda: make_partitions_ahead(sessions), leader=leader)
        ]
        if settings.db_watchdog_interval > 0:
            watchdog = DatabaseWatchdog(
                engine, cluster=embedded_cluster(settings), interval=settings.db_watchdog_interval
            )
            app.state.database_state = watchdog.state
            jobs.append(watchdog)
        if settings.escalation_interval > 0:
            jobs.append(
                EscalationScheduler(app.state.sessions, settings.escalation_interval, leader=leader)
            )
        allow = parse_allow_list(settings.webhook_allow)
        if settings.delivery_interval > 0:
            jobs.append(
                PeriodicJob(
                    "webhooks",
                    settings.delivery_interval,
                    lambda: deliver_due(sessions, allow=allow),
                    leader=leader,
                )
            )
        if settings.register_daily_interval > 0:
            jobs.append(
                PeriodicJob(
                    "register-daily",
                    settings.register_daily_interval,
                    lambda: run_daily(sessions, settings=settings),
                    leader=leader,
                )
            )
        for job in jobs:
            job.start()
        if getattr(app.state, "freeze_gc", False):
            # What the process made to start lives as long as it: left out of every later
            # garbage collection, which then walks only what requests make (the full
            # collections of a busy process were a third of the fence path's CPU).
            gc.collect()
            gc.freeze()
        yield
        for job in jobs:
            job.stop()
        leader.close()
        feed.stop()
        engine.dispose()

    app = FastAPI(
        title="gridgov",
        version=__version__,
        description="网格化治理：全市一张图 / 网格通 — grid governance on PostGIS",
        lifespan=lifespan,
        # No NUL character (PostgreSQL refuses it) and no NaN reaches a route.
        dependencies=[Depends(refuse_bad_text)],
        docs_url=None,  # served by api.pages from gridgov's own copy of Swagger UI
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.image_slots = ImageSlots(settings.image_workers)
    app.state.clock = clock
    # Made (or read) now: a key file others may read stops the start, not the first sign-in.
    app.state.token_secret = TokenSecret(settings)
    # ID numbers and phones in the register: hashed and sealed with this (docs/PRIVACY.md).
    app.state.register_keys = register_keys(settings)
    app.state.login_throttle = LoginThrottle(
        LoginLimits(
            per_address=settings.login_rate_per_address,
            failures_before_lockout=settings.login_failures_before_lockout,
            failure_window_seconds=settings.login_failure_window_seconds,
            lockout_seconds=settings.login_lockout_seconds,
        ),
        clock=clock,
    )
    app.state.hashing_slots = HashingSlots(
        concurrent=settings.password_hash_concurrency, waiting=settings.password_hash_waiting
    )
    errors.install(app)
    # The map's GeoJSON shrinks about ninefold. Starlette leaves event streams (the live feed)
    # and images alone and flushes streamed bodies as they go.
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=5)
    app.add_middleware(SecurityHeaders, settings=settings)
    # Outermost (added last): the id is set before anything logs, the latency includes gzip.
    app.state.metrics = ServiceMetrics(app.state)
    app.add_middleware(RequestContextMiddleware, latency=app.state.metrics.latency)

    @app.get(
        "/api/v1/incidents/stream", tags=["incidents"], summary="Live changes (server-sent events)"
    )
    async def stream(
        request: Request,
        lang: LangDep,
        user: Annotated[User, Depends(current_user_or_query_token)],
        token: Annotated[str, Depends(bearer_or_query_token)],
    ) -> EventSourceResponse:
        """Every change to an incident the caller may read, within a moment of its commit.
        The stream ends (event ``closed``) once the token expires or the account is
        switched off: both are checked before every event and every
        GRIDGOV_STREAM_RECHECK_SECONDS."""
        state = request.app.state
        recheck = account_check(
            state.sessions, token=token, secret=state.token_secret, clock=state.clock
        )
        events = events_for(
            state.feed,
            user.actor(),
            recheck=recheck,
            recheck_seconds=settings.stream_recheck_seconds,
            closing_message=t("auth.stream_closed", lang),
        )
        return EventSourceResponse(events, ping=15)

    app.include_router(ops.router)
    app.include_router(auth.router)
    app.include_router(boundaries.router)
    app.include_router(departments.router)
    app.include_router(incidents.router)
    app.include_router(evaluation.router)
    app.include_router(supplies.router)
    app.include_router(monitoring.router)
    app.include_router(notifications.router)
    app.include_router(visits.router)
    app.include_router(doorstep.router)  # before register's /{kind}
    app.include_router(register.router)
    app.include_router(reports.router)

    @app.get("/api/v1/health", tags=["service"])
    def health(session: SessionDep) -> dict[str, Any]:
        """Liveness and database reachability."""
        session.execute(text("SELECT 1"))
        generation = active_generation(session)
        return {"status": "ok", "active_generation": generation.id if generation else None}

    app.include_router(maps.router)
    app.include_router(ogc.router)
    app.include_router(open311.router)
    app.include_router(pages.router)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")
    return app
