"""How many SQL statements the hot paths send: upper bounds, so the count cannot creep back.

The in-memory index and catalogue are warmed first; each process then reads one row (the
active generation and the versions of what it keeps) at most once per check interval.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text, update

from gridgov.boundaries.models import Grid
from gridgov.incidents.reporting import duplicate_query
from gridgov.responsibilities.models import Category
from tests.conftest import auth
from tests.statements import statements

HERE = {"lon": 109.1, "lat": 21.55}  # 青柳社区第7网格 990105009003007
BBOX = "109.05,21.50,109.15,21.60"


@pytest.fixture
def warm(client, session):
    """The client with the index and catalogue loaded and the check interval long."""
    client.get("/api/v1/locate", params=HERE)
    client.get("/api/v1/incidents", headers=auth(session, "admin"))
    client.app.state.grid_index.check_interval = 3600
    return client


def test_locate_reads_nothing_after_warm_up(warm, session, engine):
    with statements(engine) as seen:
        answers = [warm.get("/api/v1/locate", params=HERE) for _ in range(20)]
    assert seen == []
    assert {a.status_code for a in answers} == {200}
    assert answers[0].json()["grid"]["code"] == "990105009003007"


def test_the_generation_check_is_one_statement_per_interval_not_per_request(warm, session, engine):
    warm.app.state.grid_index.invalidate()  # as if the interval had just run out
    with statements(engine) as seen:
        for _ in range(5):
            assert warm.get("/api/v1/locate", params=HERE).status_code == 200
    assert len(seen) == 1 and "cache_versions" in seen[0]


def test_a_changed_grid_head_or_category_name_reaches_the_answers(warm, session):
    session.execute(
        update(Grid).where(Grid.code == "990105009003007").values(grid_head_name="新网格长")
    )
    session.execute(update(Category).where(Category.code == "0102").values(name_zh="暴露垃圾新"))
    warm.app.state.grid_index.invalidate()  # the next check finds the new versions
    assert warm.get("/api/v1/locate", params=HERE).json()["grid_head"]["name"] == "新网格长"
    body = report(warm, session).json()
    assert body["category"]["name"] == "暴露垃圾新"


def report(client, session, headers=None, **fields):
    data = {**HERE, "category": "0102", **fields}
    return client.post("/api/v1/incidents", data=data, headers=headers or auth(session, "gridhead"))


def test_report_sends_at_most_six_statements(warm, session, engine):
    """The user; the incident with its duplicate search inside the INSERT; its events; the
    NOTIFY; the department's inboxes filled from one INSERT ... SELECT; the webhooks."""
    headers = auth(session, "gridhead")
    report(warm, session, headers)  # an earlier report: this one has a duplicate to find
    with statements(engine) as seen:
        answer = report(warm, session, headers, description="井盖缺失", accuracy_m=5)
    assert answer.status_code == 201, answer.text
    assert answer.json()["possible_duplicate_of"] is not None
    assert len(seen) <= 6, "\n".join(seen)


def test_the_report_answer_is_what_reading_the_incident_gives(warm, session):
    first = report(warm, session).json()
    answer = report(warm, session, description="again", lon=109.1001)
    assert answer.status_code == 201
    fresh = answer.json()
    assert fresh["possible_duplicate_of"] == first["id"]
    again = warm.get(f"/api/v1/incidents/{fresh['id']}", headers=auth(session, "gridhead"))
    read = again.json()
    for only_on_reading in ("my_moves", "my_departments"):  # what the caller may do next
        read.pop(only_on_reading, None)
    assert fresh == read


def test_nearest_stockpiles_statements(warm, session, engine):
    headers = auth(session, "emergency")
    params = {**HERE, "item": "tent:10"}
    with statements(engine) as seen:
        answer = warm.get("/api/v1/supplies/nearest", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    assert len(seen) <= 4, "\n".join(seen)


def test_incident_list_by_bbox_statements(warm, session, engine):
    report(warm, session)
    headers = auth(session, "admin")
    with statements(engine) as seen:
        answer = warm.get("/api/v1/incidents", params={"bbox": BBOX}, headers=headers)
    assert answer.status_code == 200 and answer.json()["total"] >= 1
    assert len(seen) <= 3, "\n".join(seen)


@pytest.mark.parametrize(
    ("path", "bound"),
    [
        (f"/api/v1/map/incidents?bbox={BBOX}", 3),
        (f"/api/v1/map/grids?bbox={BBOX}", 2),
        ("/api/v1/map/areas?level=street", 2),
        ("/api/v1/map/streets", 2),
        ("/api/v1/map/stockpiles", 2),
    ],
)
def test_map_layer_statements(warm, session, engine, path, bound):
    headers = auth(session, "operator")
    with statements(engine) as seen:
        answer = warm.get(path, headers=headers)
    assert answer.status_code == 200, answer.text
    assert len(seen) <= bound, "\n".join(seen)


def test_the_duplicate_search_can_use_the_partial_index(session):
    """The open statuses are spelled out in the query, so the planner can prove the partial
    index's predicate (with bound parameters it could not)."""
    query = duplicate_query(category_code="0102", lon=109.1, lat=21.55, now=datetime.now(UTC))
    sql = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    session.execute(text("SET LOCAL enable_seqscan = off"))
    # Whether it can, not which index the costs favour today (rolled back with the test).
    session.execute(text("DROP INDEX ix_incidents_reported_at"))
    plan = "\n".join(session.execute(text(f"EXPLAIN {sql}")).scalars())
    assert "ix_incidents_open_category_position" in plan, plan


def test_while_one_thread_checks_the_others_answer_from_memory(warm, session, engine):
    cache = warm.app.state.grid_index
    cache.invalidate()  # a check is due ...
    assert cache.peek() == (False, None)
    with cache._lock:  # ... and another thread is making it
        fresh, index = cache.peek()
        assert fresh and index is not None
        with statements(engine) as seen:
            assert warm.get("/api/v1/locate", params=HERE).status_code == 200
            assert cache.get(session) is index
        assert seen == []
