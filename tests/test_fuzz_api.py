"""Schemathesis over the whole OpenAPI document: every operation, signed in as each role and
as nobody, with valid and invalid inputs. No answer may be a 5xx, and every answer must be
one the document declares, in the shape it declares (errors included).

Bounded and repeatable: a few examples per operation and role, derandomized (the same inputs
on every run), no example database. The live feed is left out: an open event stream never
ends, so it has its own tests (tests/test_live_feed.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from tests.conftest import auth

# Every role of gridgov/users/roles.py, by a demo account; None: not signed in.
ACCOUNTS = ["admin", "operator", "operator_nw", "gridhead", "handler_jw", "emergency", None]
EXAMPLES = 4  # per operation and caller, valid and invalid: 53 operations x 7 callers x 4
SKIPPED = {("GET", "/api/v1/incidents/stream")}  # an event stream: never ends
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def schema(client: TestClient) -> Any:
    """The document as the app serves it, sent to the app (already started by ``client``)."""
    return schemathesis.openapi.from_dict(client.get("/openapi.json").json())


@pytest.fixture
def caller(client: TestClient) -> Iterator[ASGIClient]:
    """Schemathesis' own ASGI client on the test app, without a second lifespan (the
    ``client`` fixture has started it, on the rolled-back test session)."""
    app = client.app

    async def started(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # refused before any message: "no lifespan"
            raise RuntimeError("the lifespan runs once, in the client fixture")
        await app(scope, receive, send)  # type: ignore[operator]

    yield ASGIClient(started)


@pytest.mark.parametrize("account", ACCOUNTS, ids=lambda a: a or "anonymous")
def test_no_server_error_and_every_answer_as_documented(
    schema: Any, caller: ASGIClient, session: Session, account: str | None
) -> None:
    headers = auth(session, account) if account else {}
    failures: list[str] = []
    answered: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50  # the whole document, not a corner of it
    for operation in operations:
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        strategy = st.one_of(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        )

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            label = f"{case.method} {case.formatted_path} as {account or 'anonymous'}"
            try:
                response = case.call(session=caller, base_url="http://testserver", headers=headers)
                answered.append(response.status_code)
                case.validate_response(response, checks=CHECKS, headers=headers)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # a failure group too: every failure is collected
                failures.append(f"{label}: {type(exc).__name__}: {str(exc)[:600]}")

        run()
    assert len(answered) >= len(operations) * 2  # it did call them, several times each
    assert not failures, "\n\n".join(failures[:20]) + f"\n\n({len(failures)} failures)"
