"""Many more concurrent requests than the database pool holds: every one is answered.

Each request holds its session's connection across several worker-thread hops (the
dependencies, the handler, the commit). Before requests waited for a database slot on the
event loop, 64 concurrent reports left every worker thread blocked on the pool while the
requests holding its connections waited for a thread: nothing was answered until the pool's
30 s timeout. Here the pool is tiny (2 connections, 10 overflow) and 60 requests come at once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlalchemy.orm import Session, sessionmaker

from api.in_thread import served_in_thread
from api.main import create_app
from gridgov.config import Settings
from tests.conftest import TEST_SECRET, token_for

CONCURRENT = 60  # above anyio's 40 worker threads and the pool's 2 + 10 connections


async def _all_at_once(base: str, token: str) -> list[int]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=CONCURRENT)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=25) as client:
        answers = await asyncio.gather(
            *(client.get("/api/v1/incidents", params={"limit": 1}, headers=headers)
              for _ in range(CONCURRENT)),
            return_exceptions=True,
        )  # fmt: skip
    return [a.status_code if isinstance(a, httpx.Response) else 0 for a in answers]


def test_more_concurrent_requests_than_connections_are_all_answered(
    database_url: str, committed: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = Settings(
        database_url=database_url,
        environment="test",
        secret_key=TEST_SECRET,
        escalation_interval=0,
        register_daily_interval=0,
        delivery_interval=0,
        data_dir=tmp_path / "var",
        db_pool_size=2,
    )
    with committed() as session:
        token = token_for(session, "operator")
    with served_in_thread(create_app(settings), start_within=30) as base:
        statuses = asyncio.run(_all_at_once(base, token))
    assert statuses == [200] * CONCURRENT
