"""Tokens run out, and a production service refuses the public development secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from gridgov.config import DEFAULT_SECRET, Settings
from gridgov.users.models import User
from gridgov.users.service import issue_token


def bearer(client, session, *, issued: datetime, hours: float) -> dict[str, str]:
    """A token signed with the running service's own secret."""
    secret = client.app.state.settings.secret_key.get_secret_value()
    user = session.scalar(select(User).where(User.username == "operator"))
    token = issue_token(user, secret=secret, hours=hours, now=issued).token
    return {"Authorization": f"Bearer {token}"}


def test_a_token_is_refused_once_it_has_run_out(client, session):
    now = datetime.now(UTC)
    fresh = bearer(client, session, issued=now - timedelta(hours=11), hours=12)
    assert client.get("/api/v1/auth/me", headers=fresh).status_code == 200
    stale = bearer(client, session, issued=now - timedelta(hours=12, minutes=1), hours=12)
    assert client.get("/api/v1/auth/me", headers=stale).status_code == 401


def test_production_refuses_the_development_secret():
    with pytest.raises(ValidationError, match="GRIDGOV_SECRET_KEY"):
        Settings(environment="production", secret_key=DEFAULT_SECRET)
    with pytest.raises(ValidationError, match="GRIDGOV_SECRET_KEY"):
        Settings(_env_file=None, environment="production")
    chosen = Settings(environment="production", secret_key="a-real-secret-" + "x" * 32)
    assert chosen.secret_key.get_secret_value() != DEFAULT_SECRET
    # Development and tests may run on it.
    assert Settings(environment="test", secret_key=DEFAULT_SECRET).environment == "test"
