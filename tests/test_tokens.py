"""Tokens on a default install: no public key, a generated one kept private, exp and iat
required, rotation voids every token; a server that is not a demo has no known password."""

from __future__ import annotations

import re
import stat
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from pydantic import ValidationError
from sqlalchemy import delete, select
from typer.testing import CliRunner

from gridgov.cli import app as cli
from gridgov.config import PROJECT_ROOT, Settings, get_settings
from gridgov.db import session_scope
from gridgov.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, prepare_demo
from gridgov.users.models import User
from gridgov.users.secret import SecretKeyError, TokenSecret, rotate_secret, secret_path
from gridgov.users.service import authenticate, hash_password, issue_token
from tests.conftest import TEST_SECRET, auth

# What gridgov/config.py shipped as its default key until it made its own.
ONCE_PUBLIC = "development-only-secret-change-me"
runner = CliRunner()


def admin_id(session) -> int:
    return session.scalar(select(User.id).where(User.username == "admin"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_signed_with_the_once_public_key_is_refused(app_client, session):
    # A default install: no GRIDGOV_SECRET_KEY, development.
    client = app_client(secret_key=None, environment="development")
    now = datetime.now(UTC)
    claims = {"sub": str(admin_id(session)), "iat": now, "exp": now + timedelta(hours=1)}
    forged = jwt.encode(claims, ONCE_PUBLIC, algorithm="HS256")
    response = client.get("/api/v1/auth/me", headers=bearer(forged))
    assert response.status_code == 401


@pytest.mark.parametrize("missing", ["exp", "iat", "sub"])
def test_a_token_without_exp_or_iat_is_refused_even_when_signed_with_the_key(
    client, session, missing
):
    now = datetime.now(UTC)
    claims = {"sub": str(admin_id(session)), "iat": now, "exp": now + timedelta(hours=1)}
    del claims[missing]
    token = jwt.encode(claims, TEST_SECRET, algorithm="HS256")
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/auth/me", headers=auth(session, "admin")).status_code == 200


@pytest.mark.parametrize("sub", ["9223372036854775808", "0", "-1", "admin"])
def test_a_signed_token_naming_no_possible_user_is_a_401(client, session, sub):
    now = datetime.now(UTC)
    claims = {"sub": sub, "iat": now, "exp": now + timedelta(hours=1)}
    token = jwt.encode(claims, TEST_SECRET, algorithm="HS256")
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401


def test_an_expired_token_is_refused(client, session):
    admin = session.get(User, admin_id(session))
    old = issue_token(
        admin, secret=TEST_SECRET, hours=1, now=datetime.now(UTC) - timedelta(hours=2)
    )
    response = client.get("/api/v1/auth/me", headers=bearer(old.token))
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


def test_the_generated_key_is_random_private_and_kept(tmp_path):
    settings = Settings(data_dir=tmp_path / "a", environment="development")
    first = TokenSecret(settings)
    path = secret_path(settings.data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.current() == TokenSecret(settings).current()  # kept across restarts
    assert len(first.current()) >= 32 and first.current() != ONCE_PUBLIC
    other = TokenSecret(Settings(data_dir=tmp_path / "b", environment="development"))
    assert other.current() != first.current()  # each install its own


def test_a_key_file_others_may_read_is_refused(tmp_path):
    settings = Settings(data_dir=tmp_path, environment="development")
    TokenSecret(settings)
    secret_path(tmp_path).chmod(0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        TokenSecret(settings)


@pytest.mark.parametrize("environment", ["development", "test", "production"])
@pytest.mark.parametrize("secret", [ONCE_PUBLIC, "short-secret", "x" * 31])
def test_a_public_or_short_configured_key_is_refused_everywhere(environment, secret):
    with pytest.raises(ValidationError, match="GRIDGOV_SECRET_KEY"):
        Settings(environment=environment, secret_key=secret)


def test_production_may_use_the_generated_key(tmp_path):
    settings = Settings(environment="production", data_dir=tmp_path)
    assert settings.secret_key is None
    assert len(TokenSecret(settings).current()) >= 32


def test_rotating_the_kept_key_voids_every_token_at_once(app_client, session, tmp_path):
    client = app_client(secret_key=None, data_dir=tmp_path / "var")
    signed_in = client.post(
        "/api/v1/auth/token", data={"username": "admin", "password": DEMO_PASSWORD}
    )
    token = signed_in.json()["access_token"]
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200
    rotate_secret(tmp_path / "var")
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    again = client.post("/api/v1/auth/token", data={"username": "admin", "password": DEMO_PASSWORD})
    assert client.get("/api/v1/auth/me", headers=bearer(again.json()["access_token"])).is_success


@pytest.fixture
def cli_env(monkeypatch, database_url, tmp_path, demo_generation_id):
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", database_url)
    monkeypatch.setenv("GRIDGOV_LANG", "en")
    monkeypatch.setenv("GRIDGOV_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("GRIDGOV_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "var"
    get_settings.cache_clear()


def test_secret_rotate_replaces_the_kept_key(cli_env):
    before = TokenSecret(get_settings()).current()
    result = runner.invoke(cli, ["secret", "rotate"])
    assert result.exit_code == 0, result.output
    assert TokenSecret(get_settings()).current() != before
    assert stat.S_IMODE(secret_path(cli_env).stat().st_mode) == 0o600


def test_secret_rotate_refuses_when_the_key_comes_from_the_environment(cli_env, monkeypatch):
    monkeypatch.setenv("GRIDGOV_SECRET_KEY", TEST_SECRET)
    get_settings.cache_clear()
    result = runner.invoke(cli, ["secret", "rotate"])
    assert result.exit_code == 1 and "GRIDGOV_SECRET_KEY" in result.output
    assert not secret_path(cli_env).exists()


def test_serve_refuses_the_demo_in_production(cli_env, monkeypatch):
    monkeypatch.setenv("GRIDGOV_ENVIRONMENT", "production")
    get_settings.cache_clear()
    result = runner.invoke(cli, ["serve", "--demo"])
    assert result.exit_code == 1 and "production" in result.output
    result = runner.invoke(cli, ["demo", "load"])
    assert result.exit_code == 1 and "production" in result.output


def demo_users_with_the_public_password(session) -> list[str]:
    names = [a.username for a in DEMO_ACCOUNTS]
    return [
        name
        for name in names
        if authenticate(session, username=name, password=DEMO_PASSWORD) is not None
    ]


def test_without_the_demo_no_account_has_a_known_password(session):
    assert demo_users_with_the_public_password(session)  # the demo city's accounts
    # A demo account given a real password is a real account: it stays.
    kept = session.scalar(select(User).where(User.username == "operator_nw"))
    kept.password_hash = hash_password("a-real-password-42")
    session.flush()

    changed = prepare_demo(session, geodata_dir=PROJECT_ROOT / "geodata", load=False)

    assert demo_users_with_the_public_password(session) == []
    assert "admin" in changed and "operator_nw" not in changed
    assert authenticate(session, username="operator_nw", password="a-real-password-42")
    # Serving the demo again switches them back on.
    prepare_demo(session, geodata_dir=PROJECT_ROOT / "geodata", load=True)
    assert "admin" in demo_users_with_the_public_password(session)


def test_users_add_can_generate_a_password_shown_once(cli_env, committed):
    try:
        result = runner.invoke(
            cli, ["users", "add", "chief", "--role", "admin", "--generate-password"]
        )
        assert result.exit_code == 0, result.output
        password = re.search(r"password \(shown this once\): (\S+)", result.output)[1]
        with session_scope(committed) as session:
            assert authenticate(session, username="chief", password=password) is not None
            assert authenticate(session, username="chief", password=DEMO_PASSWORD) is None
    finally:
        with session_scope(committed) as session:
            session.execute(delete(User).where(User.username == "chief"))


def test_a_data_folder_that_cannot_keep_a_key_says_what_to_do(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(SecretKeyError, match="GRIDGOV_SECRET_KEY"):
        TokenSecret(Settings(data_dir=blocker / "var", environment="development"))


def test_serve_stops_on_a_key_file_others_may_read(cli_env):
    TokenSecret(get_settings())
    secret_path(cli_env).chmod(0o640)
    result = runner.invoke(cli, ["serve", "--no-demo"])
    assert result.exit_code == 1 and "chmod 600" in result.output
