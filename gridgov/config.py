"""Settings, read from GRIDGOV_* environment variables and validated once."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import (
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridgov.boundaries.follow import DEFAULT_EDGE_TOLERANCE_M

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Shorter configured secrets are refused: HS256 wants at least 256 bits of key.
MIN_SECRET_LENGTH = 32
# Secrets that were once published as defaults: whoever holds them can sign any token.
PUBLIC_SECRETS = frozenset({"development-only-secret-change-me"})


class Settings(BaseSettings):
    """Everything gridgov can be told from the environment."""

    model_config = SettingsConfigDict(env_prefix="GRIDGOV_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    # None means: start the embedded PostGIS cluster under data_dir.
    database_url: str | None = None
    data_dir: Path = PROJECT_ROOT / "var"
    geodata_dir: Path = PROJECT_ROOT / "geodata"
    # Signs the tokens. None: a random key made on first start, kept in data_dir/secret_key.
    secret_key: SecretStr | None = None
    # Hashes and seals ID numbers and phones in the register. None: a random key made on first
    # start, kept in data_dir/register_key (0600). Back it up: without it nothing sealed opens.
    register_key: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    # How often (seconds) a worker checks whether the active boundary generation changed.
    index_check_interval: float = 1.0
    token_hours: float = 12.0
    # An open live feed re-checks its token and account this often (and before every event).
    stream_recheck_seconds: PositiveFloat = 30.0
    # Sign-in throttling (limits' notation, e.g. "30/minute" or "30/minute;300/hour").
    login_rate_per_address: str = "30/minute"
    # This many failed sign-ins for one account within the window lock it for lockout_seconds.
    login_failures_before_lockout: PositiveInt = 10
    login_failure_window_seconds: PositiveInt = 900
    login_lockout_seconds: PositiveInt = 900
    # Password hashes computed at once (argon2 is CPU- and memory-heavy), and sign-ins that may
    # wait for one; beyond that a sign-in is answered 429 at once.
    password_hash_concurrency: PositiveInt = 1
    password_hash_waiting: NonNegativeInt = 8
    # Seconds between escalation runs inside the service (0: no scheduler, use cron).
    escalation_interval: float = 30.0
    max_photo_bytes: int = 8 * 1024 * 1024
    # Width × height a photo may unpack to (a phone camera takes 12-50 MP); more is refused.
    max_photo_pixels: int = Field(default=50_000_000, ge=1)
    # How long a signed photo URL opens its photo (it is rounded up to the next 10 minutes).
    photo_link_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    # Photos decoded at once (uploads' checks and thumbnails): each may take 200 MB.
    image_workers: int = Field(default=2, ge=1)
    # A fence crossing counts once the tracker stayed on the new side this long or this often.
    fence_dwell_seconds: float = 30.0
    fence_dwell_positions: int = 3
    # Seconds between webhook delivery passes inside the service (0: none).
    delivery_interval: float = 2.0
    # Stockpiles and sensors this close outside every grid (a pier, a river-bank station)
    # are attached to the nearest grid on import; farther out they are refused.
    edge_tolerance_m: float = DEFAULT_EDGE_TOLERANCE_M
    # A live report may say when it was seen on the phone (queued offline): at most this long
    # ago, and at most this far ahead of the server's clock (the phone's clock may be fast).
    observed_max_age_hours: float = Field(default=7 * 24, gt=0)
    observed_clock_skew_seconds: float = Field(default=300, ge=0)
    # Seconds between runs of the register's daily job (retier, visit-due reminders, old
    # patrol traces removed); every run is safe to repeat (0: none, use cron).
    register_daily_interval: float = Field(default=24 * 3600, ge=0)
    # A patrol passes a house or enterprise that comes within this many metres of its track.
    patrol_within_m: float = Field(default=30.0, gt=0, le=500)
    # How long a grid head's patrol positions (the trace) and what they passed are kept.
    patrol_trace_days: int = Field(default=31, ge=1)
    patrol_pass_days: int = Field(default=400, ge=31)
    # Distinct visiting units in a month above which a community is yellow, and red.
    visit_yellow_above: int = 30
    visit_red_above: int = 35
    # Webhooks go to public addresses only; a city's internal receivers are listed here:
    # CIDRs, addresses or host names, separated by commas or spaces ("10.8.0.0/16 hooks.lan").
    webhook_allow: str = ""
    # One batch of readings or positions: at most this many rows and bytes (413 beyond).
    batch_max_rows: int = Field(default=50_000, ge=1)
    batch_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # The city's own time zone: stock expires by the local calendar.
    timezone: str = "Asia/Shanghai"
    # The map's base layer: a tile URL template ({z}/{x}/{y}), e.g. the city's own tile server
    # or Tianditu with a key. None: no tiles; the map draws the city's boundaries and streets.
    tile_url: str | None = None
    tile_attribution: str = ""
    # What {s} in the tile URL runs over, one character each (Tianditu: t{s} with 01234567).
    tile_subdomains: str = "abc"

    # Seconds between checks that the database answers; the embedded cluster is started again
    # when its server is gone (0: no watchdog).
    db_watchdog_interval: float = 2.0
    # Database connections an API process keeps: also how many requests hold a session at
    # once (the others wait on the event loop, not in a worker thread). Background jobs use
    # the overflow of 10 above it.
    db_pool_size: int = Field(default=20, ge=1, le=1000)
    # Who may read /metrics: clients on the loopback address always, others only with
    # "Authorization: Bearer <this token>" (None: loopback only).
    metrics_token: SecretStr | None = None
    # Log lines: one JSON object each (for collectors), or readable key=value for a terminal.
    log_format: Literal["json", "console"] = "json"
    log_level: str = "INFO"

    def today(self) -> date:
        """Today's date in the city."""
        return datetime.now(ZoneInfo(self.timezone)).date()

    @property
    def media_dir(self) -> Path:
        """Where photos are stored, by content hash."""
        return self.data_dir / "media"

    @field_validator("webhook_allow")
    @classmethod
    def _allow_list_parses(cls, value: str) -> str:
        from gridgov.notifications.addresses import parse_allow_list

        parse_allow_list(value)  # a typo in a CIDR stops the start, it does not open a hole
        return value

    @model_validator(mode="after")
    def _refuse_weak_secret(self) -> Settings:
        # In every environment: a development server is reachable too, and a public or short
        # key lets anyone sign an admin token. Unset is fine: a random key is generated.
        if self.secret_key is not None:
            value = self.secret_key.get_secret_value()
            if value in PUBLIC_SECRETS:
                raise ValueError("GRIDGOV_SECRET_KEY is a published default: set a random one")
            if len(value) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"GRIDGOV_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters"
                    " (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
                )
        register_key = self.register_key.get_secret_value() if self.register_key else None
        if register_key is not None and len(register_key) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"GRIDGOV_REGISTER_KEY must be at least {MIN_SECRET_LENGTH} characters"
            )
        return self

    @field_validator("login_rate_per_address")
    @classmethod
    def _rate_limit_notation(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit such as '30/minute': {value!r}") from exc
        return value


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (read once)."""
    return Settings()
