"""HTTP helpers shared by every feature's routes: app resources, query-string instants, page
sizes, choices and the OpenAPI entries of problem answers.

Handlers get the pool, settings and Redis client from the app state through :func:`pool_of`,
:func:`settings_of` and :func:`redis_of` (one way, and the cheapest: no per-request dependency
resolution, which measured as a third of a feed revalidation and more than the booking's own
Python work). Validation problems are built with :func:`booking.errors.invalid`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from litestar.connection import ASGIConnection
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter
from redis.asyncio import Redis

from booking.errors import invalid, problem_spec
from booking.settings import Settings

__all__ = (
    "MAX_PAGE",
    "SECURITY",
    "PageLimit",
    "choice",
    "cursor_uuid",
    "decode_cursor",
    "encode_cursor",
    "parse_instant",
    "pool_of",
    "problems",
    "redis_of",
    "settings_of",
)

MAX_PAGE = 100
"""The largest page a catalogue listing answers."""

SECURITY: list[dict[str, list[str]]] = [{"BearerToken": []}]
"""OpenAPI security requirement of the handlers that need an access token."""

PageLimit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description="page size")]

_LOCAL_OFFSET_WITHOUT_PLUS = re.compile(r" (\d{2}:?\d{2})$")


def pool_of(connection: ASGIConnection[Any, Any, Any, Any]) -> asyncpg.Pool:
    """The asyncpg pool the lifespan put on the app state."""
    pool: asyncpg.Pool = connection.app.state.pool
    return pool


def settings_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Settings:
    """The settings object the app was built with."""
    settings: Settings = connection.app.state.settings
    return settings


def redis_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Redis:
    """The redis.asyncio client the lifespan put on the app state."""
    redis: Redis = connection.app.state.redis
    return redis


def problems(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem+json answers a handler can give."""
    meaning = {
        401: "No or invalid access token",
        403: "Signed in, but this role may not do this",
        404: "No such object, or the caller may not see it",
        422: "Invalid input; `errors` names the field",
    }
    return {code: problem_spec(meaning[code]) for code in codes}


def parse_instant(value: str | None, field: str) -> datetime | None:
    """An RFC 3339 time from a query string; a ``+`` decoded as a space is put back."""
    if value is None:
        return None
    text = _LOCAL_OFFSET_WITHOUT_PLUS.sub(r"+\1", value.strip())
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(field, "not an RFC 3339 date-time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise invalid(field, "needs an offset, e.g. 2026-12-05T19:00:00+09:00")
    return moment


def choice(value: str | None, field: str, allowed: tuple[str, ...]) -> str | None:
    """``value`` if it is one of ``allowed`` (or None); otherwise a 422 naming the field."""
    if value is not None and value not in allowed:
        raise invalid(field, f"unknown value {value!r}; one of: {', '.join(allowed)}")
    return value


# --- keyset cursors: an opaque, url-safe JSON list led by a kind tag --------------------------


def encode_cursor(key: list[object]) -> str:
    raw = json.dumps(key, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str, arity: int) -> list[object]:
    """The sort key inside an opaque cursor; 422 naming ``cursor`` if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid("cursor", "not a cursor returned by this endpoint") from None
    if not isinstance(key, list) or len(key) != arity + 1 or key[0] != kind:
        raise invalid("cursor", "not a cursor returned by this endpoint (or for other filters)")
    return key[1:]


def cursor_uuid(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise invalid("cursor", "not a cursor returned by this endpoint") from None
