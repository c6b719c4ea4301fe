"""One typed settings object, decoded from ``BOOKING_*`` environment variables at start-up."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from booking.client_address import parse_networks

__all__ = ("REPO_ROOT", "ConfigError", "Settings", "load_settings")

REPO_ROOT = Path(__file__).resolve().parent.parent
PREFIX = "BOOKING_"


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line naming the variable."""


Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Positive = Annotated[int, msgspec.Meta(ge=1)]


class Settings(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Every setting of the API and the worker. Field ``x`` comes from ``BOOKING_X``."""

    env: Literal["development", "test", "production"] = "development"
    """Deployment kind. ``production`` refuses to start without an explicit secret key."""
    database_url: str = "postgresql://nanum@127.0.0.1:55432/nanum"
    """asyncpg DSN of the Postgres database (>= 15 with btree_gist)."""
    redis_url: str = "redis://127.0.0.1:56379/0"
    """Redis URL used by arq jobs, rate limits and login throttling."""
    secret_key: str = ""
    """HMAC key for signing tokens. Development generates one into .devdata/secret_key."""
    host: str = "127.0.0.1"
    """Interface the API binds to."""
    port: Port = 8000
    """Port the API listens on."""
    public_base_url: str = ""
    """Absolute base URL used in links (feeds, e-mails). Default: http://{host}:{port}."""
    db_pool_min: Annotated[int, msgspec.Meta(ge=0)] = 2
    """Minimum connections kept open per process."""
    db_pool_max: Positive = 20
    """Maximum connections per process."""
    db_command_timeout: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    """Seconds before a single SQL command is abandoned."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Log level of the JSON logs."""
    access_log: bool = True
    """Emit one JSON line per request."""
    token_ttl_seconds: Positive = 3600
    """Lifetime of an access token."""
    token_audience: str = "nanum-api"
    """Audience claim required on access tokens."""
    token_issuer: str = "nanum"
    """Issuer claim put on and required of access tokens."""
    login_max_failures: Positive = 5
    """Failed logins of one account from one client address before that pair is locked out
    (then each further failure doubles the lockout, from 60 s up to the window)."""
    login_failure_window_seconds: Positive = 900
    """Window of the login throttle's counters, and the longest lockout, in seconds."""
    login_address_max_failures: Positive = 20
    """Failed logins from one client address (any accounts) allowed within the window."""
    login_account_max_failures: Positive = 50
    """Failed logins of one account (from all addresses) within the window after which only
    addresses with a good history (a sign-in to this account in the last 90 days) may sign in."""
    trusted_proxies: str = ""
    """Comma-separated IPs/CIDRs of reverse proxies whose ``X-Forwarded-For`` is believed
    (empty: none; the connection's peer is the client)."""
    write_rate_limit_per_minute: Positive = 120
    """Write requests (POST/PUT/PATCH/DELETE) one user or address may make per minute."""
    smtp_host: str = "127.0.0.1"
    """SMTP server for outgoing mail."""
    smtp_port: Port = 1025
    """SMTP port."""
    smtp_username: str = ""
    """SMTP user (empty: no authentication)."""
    smtp_password: str = ""
    """SMTP password."""
    smtp_starttls: bool = False
    """Use STARTTLS with the SMTP server."""
    mail_from: str = "Nanum <no-reply@nanum.localhost>"
    """From address of outgoing mail."""
    mail_dir: str = ""
    """Where the development SMTP sink writes .eml files. Default: .devdata/mail."""
    metrics_token: str = ""
    """Bearer token ``/metrics`` requires (empty: ``/metrics`` answers 404 to everyone)."""

    @property
    def base_url(self) -> str:
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")


def _field_names() -> tuple[str, ...]:
    return tuple(f.name for f in msgspec.structs.fields(Settings))


def _dev_secret(devdata: Path) -> str:
    """A random secret generated once per checkout and kept in .devdata/ (never committed)."""
    path = devdata / "secret_key"
    if path.exists():
        return path.read_text().strip()
    devdata.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Decode settings from the environment, or raise ConfigError naming the bad variable."""
    env = dict(os.environ if environ is None else environ)
    names = set(_field_names())
    raw: dict[str, str] = {}
    for key, value in env.items():
        if key.startswith(PREFIX):
            name = key[len(PREFIX) :].lower()
            if name in names:
                raw[name] = value
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    if not settings.secret_key:
        if settings.env == "production":
            raise ConfigError(f"{PREFIX}SECRET_KEY is required when {PREFIX}ENV=production")
        secret = (
            secrets.token_urlsafe(48)
            if settings.env == "test"
            else _dev_secret(REPO_ROOT / ".devdata")
        )
        settings = msgspec.structs.replace(settings, secret_key=secret)
    elif len(settings.secret_key) < 32:
        raise ConfigError(f"{PREFIX}SECRET_KEY: expected at least 32 characters")
    try:
        parse_networks(settings.trusted_proxies)
    except ValueError as exc:
        raise ConfigError(f"{PREFIX}TRUSTED_PROXIES: {exc}") from None
    if settings.metrics_token and len(settings.metrics_token) < 16:
        raise ConfigError(f"{PREFIX}METRICS_TOKEN: expected at least 16 characters")
    return settings


def _describe(exc: msgspec.ValidationError) -> str:
    # msgspec says e.g. "Expected `int`, got `str` - at `$.port`"; name the variable instead.
    message = str(exc)
    if " - at `$." in message:
        what, _, where = message.rpartition(" - at `$.")
        field = where.rstrip("`").split(".")[0].split("[")[0]
        return f"{PREFIX}{field.upper()}: {what[0].lower()}{what[1:]}"
    return f"invalid configuration: {message}"
