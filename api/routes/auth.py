"""Sign in (OAuth2 password flow) and who am I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import LangDep, SessionDep
from api.security import UserDep, app_now
from gridgov.i18n import t
from gridgov.users.models import User
from gridgov.users.roles import Action, Role, scopes_for
from gridgov.users.service import HashingBusy, issue_token, sign_in
from gridgov.users.throttle import LoginRefused

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def user_out(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "area_code": user.area_code,
        "department_code": user.department_code,
        "grid_code": user.grid_code,
        # What the role may do somewhere (the scope is checked on each request): pages use
        # it to leave out what would only be refused.
        "may": [a.value for a in Action if scopes_for(Role(user.role), a)],
    }


def _too_many(lang: str, key: str, seconds: int) -> HTTPException:
    return HTTPException(
        status_code=429,
        detail={"message": t(key, lang, seconds=seconds)},
        headers={"Retry-After": str(seconds)},
    )


@router.post(
    "/token",
    summary="Sign in: exchange a username and password for a bearer token",
    responses={
        401: {"description": "Wrong username or password"},
        429: {"description": "Too many attempts (see Retry-After): address or account limit"},
    },
)
def token(
    request: Request,
    session: SessionDep,
    lang: LangDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> dict[str, Any]:
    """OAuth2 password flow; the token is signed and expires. Attempts are limited per client
    address, and an account is locked for a while after repeated failures."""
    state = request.app.state
    try:
        user = sign_in(
            session,
            username=form.username,
            password=form.password,
            address=request.client.host if request.client else "unknown",
            throttle=state.login_throttle,
            slots=state.hashing_slots,
        )
    except LoginRefused as refused:
        key = "auth.account_locked" if refused.reason == "account" else "auth.too_many_attempts"
        raise _too_many(lang, key, refused.retry_after) from None
    except HashingBusy:
        raise _too_many(lang, "auth.busy", 1) from None
    if user is None:
        raise HTTPException(
            status_code=401,
            detail={"message": t("auth.bad_credentials", lang)},
            headers={"WWW-Authenticate": "Bearer"},
        )
    issued = issue_token(
        user,
        secret=state.token_secret.current(),
        hours=state.settings.token_hours,
        now=app_now(request.app),
    )
    return {
        "access_token": issued.token,
        "token_type": "bearer",
        "expires_at": issued.expires_at.isoformat(),
        "user": user_out(user),
    }


@router.get("/me", summary="The signed-in user")
def me(user: UserDep) -> dict[str, Any]:
    return user_out(user)
