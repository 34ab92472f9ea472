"""Create users, check passwords, issue and read signed tokens."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from pwdlib import PasswordHash
from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.boundaries.models import Area, Grid
from gridgov.departments.models import Department
from gridgov.errors import FieldError
from gridgov.users.models import User
from gridgov.users.roles import Role
from gridgov.users.throttle import LoginThrottle

TOKEN_ALGORITHM = "HS256"
DEFAULT_TOKEN_HOURS = 12
# A token without these is refused: one without exp would be valid for ever.
REQUIRED_CLAIMS = ("exp", "iat", "sub")
# Clocks of the machines that issue and check tokens may differ this much.
CLOCK_SKEW_SECONDS = 30
_hasher = PasswordHash.recommended()  # argon2id


class UserError(FieldError):
    """A user that cannot be created as asked: names the field and, by key, the reason."""


class TokenError(ValueError):
    """A token that is missing, forged, expired or names no active user."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


class HashingBusy(RuntimeError):
    """Every hashing slot is taken and the waiting line is full: try again in a moment."""


class HashingSlots:
    """At most ``concurrent`` password hashes at once and ``waiting`` callers in line, so a
    crowd of sign-ins (or of guessers) cannot take every core and thread from other requests.

    >>> slots = HashingSlots(concurrent=1, waiting=0)
    >>> with slots.slot():
    ...     slots.slot().__enter__()
    Traceback (most recent call last):
    gridgov.users.service.HashingBusy: every password hashing slot is taken
    """

    def __init__(self, *, concurrent: int, waiting: int) -> None:
        self._running = threading.BoundedSemaphore(concurrent)
        self._admitted = threading.BoundedSemaphore(concurrent + waiting)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one hashing slot (waiting in line if there is room; HashingBusy if not)."""
        if not self._admitted.acquire(blocking=False):
            raise HashingBusy("every password hashing slot is taken")
        try:
            with self._running:
                yield
        finally:
            self._admitted.release()


UNBOUNDED = HashingSlots(concurrent=1_000_000, waiting=0)  # scripts and the CLI


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def password_matches(user: User, password: str) -> bool:
    """Whether ``password`` is the user's (active or not)."""
    return _hasher.verify(password, user.password_hash)


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role | str,
    display_name: str | None = None,
    area_code: str | None = None,
    department_code: str | None = None,
    grid_code: str | None = None,
) -> User:
    """Add a user after checking that the role's scope exists."""
    try:
        role = Role(role)
    except ValueError as exc:
        raise UserError("role", "user.bad_role", roles=", ".join(r.value for r in Role)) from exc
    if len(password) < 8:
        raise UserError("password", "user.short_password", length=8)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserError("username", "user.taken", username=username)
    _check_scope(session, role, area_code, department_code, grid_code)
    user = User(
        username=username,
        password_hash=hash_password(password),
        display_name=display_name or username,
        role=role.value,
        area_code=area_code,
        department_code=department_code,
        grid_code=grid_code,
    )
    session.add(user)
    session.flush()
    return user


def _check_scope(
    session: Session,
    role: Role,
    area_code: str | None,
    department_code: str | None,
    grid_code: str | None,
) -> None:
    needs = {
        Role.OPERATOR: "area_code",
        Role.EMERGENCY: "area_code",
        Role.HANDLER: "department_code",
        Role.GRID_HEAD: "grid_code",
    }.get(role)
    values = {"area_code": area_code, "department_code": department_code, "grid_code": grid_code}
    if needs and not values[needs]:
        raise UserError(needs, "user.scope_needed", role=role.value)
    if area_code and session.scalar(select(Area.id).where(Area.code == area_code)) is None:
        raise UserError("area_code", "error.not_found.area", code=area_code)
    if department_code and (
        session.scalar(select(Department.id).where(Department.code == department_code)) is None
    ):
        raise UserError("department_code", "error.not_found.department", code=department_code)
    if grid_code and session.scalar(select(Grid.id).where(Grid.code == grid_code)) is None:
        raise UserError("grid_code", "error.not_found.grid", code=grid_code)


def authenticate(
    session: Session, *, username: str, password: str, slots: HashingSlots = UNBOUNDED
) -> User | None:
    """The active user with this username and password, or None (HashingBusy when ``slots``
    are all taken)."""
    user = session.scalar(select(User).where(User.username == username, User.is_active))
    with slots.slot():
        if user is None:
            _hasher.hash(password)  # spend the same time whether or not the user exists
            return None
        valid, new_hash = _hasher.verify_and_update(password, user.password_hash)
    if not valid:
        return None
    if new_hash:
        user.password_hash = new_hash
    return user


def sign_in(
    session: Session,
    *,
    username: str,
    password: str,
    address: str,
    throttle: LoginThrottle,
    slots: HashingSlots,
) -> User | None:
    """authenticate() behind the throttle: LoginRefused before any hashing when the account
    is locked or the address is over its limit, HashingBusy when too many hash at once; a
    failure counts towards the account's lockout, a success clears its count."""
    throttle.check(username=username, address=address)
    user = authenticate(session, username=username, password=password, slots=slots)
    if user is None:
        throttle.failed(username=username, address=address)
    else:
        throttle.succeeded(username=username)
    return user


def issue_token(
    user: User, *, secret: str, hours: float = DEFAULT_TOKEN_HOURS, now: datetime | None = None
) -> IssuedToken:
    """A signed token naming the user, valid for ``hours``."""
    now = now or datetime.now(UTC)
    expires = now + timedelta(hours=hours)
    claims = {"sub": str(user.id), "role": user.role, "iat": now, "exp": expires}
    return IssuedToken(jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM), expires)


def _timestamp(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"not a time: {value!r}")
    return float(value)


def user_id_from_token(token: str, *, secret: str, now: datetime | None = None) -> int:
    """The user id a token names if it is signed with ``secret``, carries exp, iat and sub,
    and has not expired at ``now``; TokenError otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            # exp and iat are compared below, with the caller's clock.
            options={"require": list(REQUIRED_CLAIMS), "verify_exp": False, "verify_iat": False},
        )
        user_id = int(claims["sub"])
        expires, issued = _timestamp(claims["exp"]), _timestamp(claims["iat"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError, OverflowError) as exc:
        raise TokenError(str(exc) or "invalid token") from exc
    if not 0 < user_id < 2**31:  # a users.id; larger ones would only upset the database
        raise TokenError("the token names no user")
    moment = (now or datetime.now(UTC)).timestamp()
    if expires <= moment:
        raise TokenError("the token has expired")
    if issued > moment + CLOCK_SKEW_SECONDS:
        raise TokenError("the token is issued in the future")
    return user_id


def user_from_token(
    session: Session, *, token: str, secret: str, now: datetime | None = None
) -> User:
    """The active user a valid token names; TokenError otherwise."""
    user = session.get(User, user_id_from_token(token, secret=secret, now=now))
    if user is None or not user.is_active:
        raise TokenError("the token names no active user")
    return user
