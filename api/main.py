"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from sqlalchemy import text

from api import errors
from api.deps import SessionDep
from api.routes import boundaries
from gridgov import __version__
from gridgov.boundaries.generations import active_generation
from gridgov.boundaries.index import GridIndexCache
from gridgov.config import Settings, get_settings
from gridgov.db import make_session_factory
from gridgov.runtime import prepare_database


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the database is prepared (and migrated) when it starts."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = prepare_database(settings)
        app.state.sessions = make_session_factory(engine)
        app.state.grid_index = GridIndexCache(settings.index_check_interval)
        yield
        engine.dispose()

    app = FastAPI(
        title="gridgov",
        version=__version__,
        description="网格化治理：全市一张图 / 网格通 — grid governance on PostGIS",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(boundaries.router)

    @app.get("/api/v1/health", tags=["service"])
    def health(session: SessionDep) -> dict[str, Any]:
        """Liveness and database reachability."""
        session.execute(text("SELECT 1"))
        generation = active_generation(session)
        return {"status": "ok", "active_generation": generation.id if generation else None}

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app
