"""Request dependencies: the session (the transaction boundary), the grid index, the language."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import contextmanager
from typing import Annotated, cast

import anyio
from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from gridgov.boundaries.index import GridIndex
from gridgov.cache import GridIndexCache
from gridgov.db import session_scope
from gridgov.i18n import pick_language
from gridgov.responsibilities.catalogue import Catalogue


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request: committed when the handler returns, rolled back on error.

    A request first waits, on the event loop, for one of the process's database slots (as
    many as the pool keeps, ``GRIDGOV_DB_POOL_SIZE``). Without them, more concurrent
    requests than the pool holds left every worker thread blocked waiting for a connection
    while the requests holding the connections waited for a thread: nothing was answered
    until the pool's 30 s timeout (64 concurrent reports measured 0 answers)."""
    async with request.app.state.db_slots:
        session = request.app.state.sessions()
        try:
            yield session
        except BaseException:
            with anyio.CancelScope(shield=True):  # a client gone still gives its connection back
                await run_in_threadpool(_discard, session)
            raise
        await run_in_threadpool(_commit, session)


def _commit(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        _discard(session)
        raise
    session.close()


def _discard(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


def _session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.sessions) as session:
        yield session


# scope="function": the commit runs before the answer is sent, so a client never hears "done"
# about a transaction that then failed to commit (FastAPI's default runs it afterwards).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


@contextmanager
def request_session(request: Request) -> Iterator[Session]:
    """The session SessionDep would give, for an async route that needs one only sometimes
    (called in a worker thread; a test's override of ``get_session`` is honoured)."""
    override = request.app.dependency_overrides.get(get_session)
    provider = cast(
        Generator[Session, None, None],
        override() if override is not None else _session(request),
    )
    session = next(provider)
    try:
        yield session
    except BaseException as exc:
        provider.throw(exc)  # rolls back and raises
        raise
    next(provider, None)  # commits


def get_index(request: Request, session: SessionDep) -> GridIndex | None:
    """The in-memory index of the active generation (None when none is active)."""
    cache: GridIndexCache = request.app.state.grid_index
    return cache.get(session)


IndexDep = Annotated[GridIndex | None, Depends(get_index)]


def get_catalogue(request: Request, session: SessionDep) -> Catalogue:
    """Categories, departments and rules as this process keeps them (read when they change)."""
    cache: GridIndexCache = request.app.state.grid_index
    return cache.catalogue(session)


CatalogueDep = Annotated[Catalogue, Depends(get_catalogue)]


def get_lang(request: Request) -> str:
    """zh by default; en when ?lang=en or Accept-Language asks for English first."""
    return pick_language(request.query_params.get("lang") or request.headers.get("accept-language"))


request_language = get_lang  # the same rule where no dependency injection runs (error handlers)


LangDep = Annotated[str, Depends(get_lang)]
