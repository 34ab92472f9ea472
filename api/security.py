"""Who is calling: OAuth2 bearer tokens (signed, expiring) on every non-public endpoint."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer

from api.deps import LangDep, SessionDep
from gridgov.i18n import t
from gridgov.users.models import User
from gridgov.users.roles import Action, allowed
from gridgov.users.service import TokenError, user_from_token

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def _unauthorised(lang: str, key: str) -> HTTPException:
    return HTTPException(
        status_code=401, detail={"message": t(key, lang)}, headers={"WWW-Authenticate": "Bearer"}
    )


def app_now(app: FastAPI) -> datetime:
    """Now, by the app's clock (a test may move it; time.time otherwise)."""
    return datetime.fromtimestamp(app.state.clock(), UTC)


def _user(request: Request, session: SessionDep, token: str | None, lang: str) -> User:
    if not token:
        raise _unauthorised(lang, "auth.missing")
    secret = request.app.state.token_secret.current()
    try:
        return user_from_token(session, token=token, secret=secret, now=app_now(request.app))
    except TokenError:
        raise _unauthorised(lang, "auth.invalid") from None


def user_for_token(request: Request, session: SessionDep, token: str | None, lang: str) -> User:
    """The user a token names (401 without a valid one), for a route that finds the token
    somewhere of its own (Open311's ``api_key`` form field)."""
    return _user(request, session, token, lang)


def current_user(
    request: Request,
    session: SessionDep,
    lang: LangDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    """The signed-in user (401 without a valid token)."""
    return _user(request, session, token, lang)


QUERY_TOKEN = re.compile(r"(access_token=)[^&\s\"]+")


class HideQueryTokens(logging.Filter):
    """Access logs keep the path but not a token given as ``?access_token=``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                QUERY_TOKEN.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def hide_query_tokens_in_access_logs() -> None:
    """Install HideQueryTokens on uvicorn's access log (once)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, HideQueryTokens) for f in access.filters):
        access.addFilter(HideQueryTokens())


def bearer_or_query_token(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> str | None:
    """The bearer token, else ``?access_token=``."""
    return token or request.query_params.get("access_token")


def current_user_or_query_token(
    request: Request,
    session: SessionDep,
    lang: LangDep,
    token: Annotated[str | None, Depends(bearer_or_query_token)],
) -> User:
    """As current_user, also reading ``?access_token=``: EventSource cannot send headers.
    Only for the live feed (photos have signed links instead); the access log hides it
    (HideQueryTokens)."""
    return _user(request, session, token, lang)


UserDep = Annotated[User, Depends(current_user)]


def require(user: User, action: Action, lang: str) -> None:
    """403 unless the user's role may do ``action`` somewhere."""
    if not allowed(user.actor(), action):
        raise HTTPException(
            status_code=403,
            detail={"message": t("incident.forbidden", lang, action=t("action." + action, lang))},
        )
