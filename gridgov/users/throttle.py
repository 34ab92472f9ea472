"""Sign-in throttling: attempts per client address, and a temporary lockout of an account
after repeated failures, whoever makes them.

Counting is done by the ``limits`` library (moving windows, kept in this process's memory);
the lockout's end is read from an injectable clock so tests can let it lapse without
waiting. With several worker processes each keeps its own counts, so the limits hold per
worker; a shared store (``limits``' Redis or Memcached storage) would make them global.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoginLimits:
    """How many attempts and failures are tolerated (see Settings.login_*)."""

    per_address: str = "30/minute"
    failures_before_lockout: int = 10
    failure_window_seconds: int = 900
    lockout_seconds: int = 900


class LoginRefused(Exception):
    """Too many attempts: refuse without checking the password; ``retry_after`` in seconds."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(f"{reason}: retry after {retry_after} s")
        self.reason = reason  # "address" or "account"
        self.retry_after = retry_after


class LoginThrottle:
    """Counts sign-in attempts by address and failures by account; locks accounts out."""

    def __init__(self, limits: LoginLimits, *, clock: Callable[[], float] = time.time) -> None:
        self.limits = limits
        self._clock = clock
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_address: list[RateLimitItem] = parse_many(limits.per_address)
        self._failures = RateLimitItemPerSecond(
            limits.failures_before_lockout, limits.failure_window_seconds
        )
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, *, username: str, address: str) -> None:
        """Count an attempt; LoginRefused if the account is locked or the address is over its
        limit (then the password is not even looked at)."""
        now = self._clock()
        with self._lock:
            until = self._locked_until.get(username, 0.0)
        if until > now:
            raise LoginRefused("account", math.ceil(until - now))
        for item in self._per_address:
            if not self._limiter.hit(item, "login-address", address):
                reset = self._limiter.get_window_stats(item, "login-address", address).reset_time
                raise LoginRefused("address", max(1, math.ceil(reset - time.time())))

    def failed(self, *, username: str, address: str) -> bool:
        """Count a failure; lock the account when it reaches the limit. True if it did."""
        self._limiter.hit(self._failures, "login-account", username)
        if self._limiter.test(self._failures, "login-account", username):
            return False
        self._limiter.clear(self._failures, "login-account", username)
        now = self._clock()
        with self._lock:
            # Forget lockouts that are over, so the table does not grow for ever.
            self._locked_until = {k: v for k, v in self._locked_until.items() if v > now}
            self._locked_until[username] = now + self.limits.lockout_seconds
        log.warning(
            "sign-in locked for %s s: account %r after %s failed attempts (the last from %s)",
            self.limits.lockout_seconds,
            username,
            self.limits.failures_before_lockout,
            address,
        )
        return True

    def succeeded(self, *, username: str) -> None:
        """A right password starts the account's failure count afresh."""
        self._limiter.clear(self._failures, "login-account", username)
