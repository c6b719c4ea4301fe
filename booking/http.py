"""HTTP helpers shared by every feature's routes: app resources, query-string instants, page
sizes, choices and the OpenAPI entries of problem answers; and the one door every input passes
(strict JSON bodies, the accepted range of instants, no control characters).

Handlers get the pool, settings and Redis client from the app state through :func:`pool_of`,
:func:`settings_of` and :func:`redis_of` (one way, and the cheapest: no per-request dependency
resolution, which measured as a third of a feed revalidation and more than the booking's own
Python work). Validation problems are built with :func:`booking.errors.invalid`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import uuid
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Annotated, Any, get_args
from urllib.parse import parse_qsl

import asyncpg
import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter
from litestar.types import ASGIApp, Empty, Message, Receive, Scope, Send
from redis.asyncio import Redis

from booking.errors import Problem, invalid, problem_spec
from booking.settings import Settings
from schemas.common import INSTANT_MAX, INSTANT_MIN, FieldError

__all__ = (
    "CONTENT_SECURITY_POLICY",
    "MAX_PAGE",
    "PAGE_CONTENT_SECURITY_POLICY",
    "PAGE_SECURITY_HEADERS",
    "SECURITY",
    "ApiRequest",
    "PageLimit",
    "SecurityHeadersMiddleware",
    "check_body",
    "check_instant",
    "check_text",
    "choice",
    "cursor_uuid",
    "decode_cursor",
    "encode_cursor",
    "parse_instant",
    "pool_of",
    "problems",
    "redis_of",
    "refuse_control_characters",
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


# --- the accepted range of instants ----------------------------------------------------------

_OUT_OF_RANGE = "must lie from 1970-01-01T00:00:00Z up to (not including) 2200-01-01T00:00:00Z"


def check_instant(moment: datetime, field: str) -> datetime:
    """``moment`` if it has an offset and lies in [INSTANT_MIN, INSTANT_MAX); else a 422 naming
    ``field``. The one range check of the API (bodies, query strings, cursors)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise invalid(field, "needs an offset, e.g. 2026-12-05T19:00:00+09:00")
    try:
        utc = moment.astimezone(UTC)  # years 1 and 9999 with an offset overflow here
    except OverflowError:
        raise invalid(field, _OUT_OF_RANGE) from None
    if not INSTANT_MIN <= utc < INSTANT_MAX:
        raise invalid(field, _OUT_OF_RANGE)
    return moment


def check_date(day: date, field: str) -> date:
    """A calendar date inside the same range as instants (validity dates of weekly windows)."""
    if not INSTANT_MIN.date() <= day < INSTANT_MAX.date():
        raise invalid(field, "must lie from 1970-01-01 up to (not including) 2200-01-01")
    return day


def parse_instant(value: str | None, field: str) -> datetime | None:
    """An RFC 3339 time from a query string (or a cursor), parsed exactly as in JSON bodies, in
    the accepted range; a ``+`` decoded as a space is put back."""
    if value is None:
        return None
    check_text(value, field)
    text = _LOCAL_OFFSET_WITHOUT_PLUS.sub(r"+\1", value.strip())
    try:
        moment = msgspec.convert(text, datetime)
    except msgspec.ValidationError:
        raise invalid(field, "not an RFC 3339 date-time") from None
    return check_instant(moment, field)


# --- text: no control characters, no lone surrogates ------------------------------------------

# Tabs are ordinary whitespace (trimmed where it matters, e.g. around e-mail addresses).
_SINGLE_LINE_BAD = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
_MULTI_LINE_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def check_text(value: str, field: str, *, multiline: bool = False) -> str:
    """``value`` unless it holds a control character other than a tab (line breaks are allowed
    in multi-line fields) or a lone surrogate; else a 422 naming ``field``."""
    bad = (_MULTI_LINE_BAD if multiline else _SINGLE_LINE_BAD).search(value)
    if bad is not None:
        what = "a lone surrogate" if "\ud800" <= bad.group() <= "\udfff" else "a control character"
        raise invalid(field, f"contains {what} (U+{ord(bad.group()):04X})")
    return value


async def refuse_control_characters(request: Request[Any, Any, Any]) -> None:
    """App-wide ``before_request`` hook: every query parameter (name and value) is text without
    control characters, or the request is refused with 422 naming the parameter before any
    handler runs."""
    query = request.scope.get("query_string", b"")
    if not query:
        return
    try:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise invalid("query", "is not UTF-8") from None
    for name, value in pairs:
        check_text(name, "query")
        check_text(value, name)


# --- request bodies: JSON only, decoded strictly, then checked -------------------------------


def _is_multiline(annotation: object) -> bool:
    """Whether a field's annotation carries the ``MULTILINE`` marker (inside unions too)."""
    if isinstance(annotation, msgspec.Meta):
        return bool((annotation.extra or {}).get("multiline"))
    return any(_is_multiline(arg) for arg in get_args(annotation))


@lru_cache(maxsize=256)
def _struct_fields(cls: type[msgspec.Struct]) -> tuple[tuple[str, str, bool], ...]:
    """(attribute, name in JSON, multi-line?) of each field of a body Struct."""
    return tuple(
        (f.name, f.encode_name, _is_multiline(f.type)) for f in msgspec.structs.fields(cls)
    )


def check_body(value: object, field: str = "body", *, multiline: bool = False) -> None:
    """Walk a decoded body: every instant in range, every date in range, every string free of
    control characters (except line breaks in ``MULTILINE`` fields). Raises a 422 naming the
    first offending field (``policy.slot_minutes``, ``photos[0]``)."""
    if isinstance(value, str):
        check_text(value, field, multiline=multiline)
    elif isinstance(value, datetime):
        check_instant(value, field)
    elif isinstance(value, date):
        check_date(value, field)
    elif isinstance(value, msgspec.Struct):
        for attribute, name, is_multiline in _struct_fields(type(value)):
            path = name if field == "body" else f"{field}.{name}"
            check_body(getattr(value, attribute), path, multiline=is_multiline)
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            check_body(item, f"{field}[{index}]", multiline=multiline)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_body(key, field)
            check_body(item, f"{field}.{key}", multiline=multiline)
    elif value is not None and not isinstance(value, bool | int | float | uuid.UUID | time):
        check_body(str(value), field)


@lru_cache(maxsize=256)
def _decoder(target: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(target, strict=True)


class UnsupportedMediaType(HTTPException):
    status_code = 415


class ApiRequest(Request[Any, Any, Any]):
    """The app's request class. A JSON body must be sent as ``application/json`` (else 415, so
    no cross-site "simple request" gets a body in), and is decoded strictly into the handler's
    body type (no integers as times or booleans, no strings as numbers), then checked with
    :func:`check_body`. Malformed JSON is 400; a wrong shape 422 naming the field."""

    async def json(self) -> Any:
        if self._json is not Empty:
            return self._json
        media_type, _ = self.content_type
        if media_type != "application/json" and not (
            media_type.startswith("application/") and media_type.endswith("+json")
        ):
            raise UnsupportedMediaType(
                detail="Send the body as application/json.",
                headers={"Accept-Post": "application/json"},
            )
        body = await self.body()
        data = self.route_handler.parsed_fn_signature.parameters.get("data")
        target: Any = data.annotation if data is not None else Any
        try:
            value = _decoder(target).decode(body)
        except msgspec.ValidationError as exc:
            message, _, where = str(exc).partition(" - at `$")
            field = where.rstrip("`").lstrip(".") or "body"
            raise invalid(field, message) from None
        except (msgspec.DecodeError, RecursionError):
            raise Problem(
                "The body is not well-formed JSON (or nests too deeply).",
                status=400,
                code="malformed-json",
                title="Malformed JSON",
                errors=[FieldError(field="body", message="not well-formed JSON")],
            ) from None
        check_body(value)
        self._json = value
        return value


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
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise invalid("cursor", "not a cursor returned by this endpoint") from None
    if not isinstance(key, list) or len(key) != arity + 1 or key[0] != kind:
        raise invalid("cursor", "not a cursor returned by this endpoint (or for other filters)")
    # A tampered cursor: nesting, lone surrogates, control characters, non-finite numbers.
    for part in key[1:]:
        if isinstance(part, bool) or not isinstance(part, str | int | float):
            raise invalid("cursor", "not a cursor returned by this endpoint")
        if isinstance(part, str):
            check_text(part, "cursor")
        elif not math.isfinite(part) or abs(part) > 1e15:
            raise invalid("cursor", "not a cursor returned by this endpoint")
    return key[1:]


def cursor_uuid(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise invalid("cursor", "not a cursor returned by this endpoint") from None


# --- response headers every answer carries ---------------------------------------------------

CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
"""CSP of every non-HTML answer (JSON, problem+json, .ics, metrics): nothing may load or frame
it. HTML answers set their own policy: the pages through ``PAGE_SECURITY_HEADERS``, the API docs
their own."""
# No inline script or style anywhere (htmx is configured from /static, with its indicator
# styles off); forms post only here; nobody may frame the pages.
PAGE_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
PAGE_SECURITY_HEADERS = (
    ("content-security-policy", PAGE_CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    ("permissions-policy", "geolocation=(self), camera=(), microphone=()"),
    ("cross-origin-opener-policy", "same-origin"),
)
"""The pages' security headers (``booking.web.security.PageMiddleware`` sets them on every page;
an HTML answer sent from outside it, such as a page-shaped refusal of the CSRF check or of an
oversized body, gets them here)."""
_DOCS_PATH = "/schema"  # the API docs (Swagger UI) bring their own policy
# Answers about one person: never stored by a browser or a shared cache.
_PERSONAL_PATH = re.compile(r"^/v1/(?:me|bookings|institutions/[^/]+/bookings)(?:/|$)")


class SecurityHeadersMiddleware:
    """ASGI wrapper adding ``X-Content-Type-Options: nosniff`` to every answer, the restrictive
    CSP to every answer that is not ``text/html`` (and sets none itself), the pages' headers to an
    HTML answer without a policy (not the API docs), and
    ``Cache-Control: no-store`` to personal answers (``/v1/me…``, ``/v1/bookings…``,
    ``/v1/institutions/{id}/bookings``, and any request sent with credentials) except calendar
    files, which keep their own ``private`` caching for calendar apps."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        personal = bool(_PERSONAL_PATH.match(scope["path"])) or any(
            name == b"authorization" for name, _ in scope["headers"]
        )
        page_exempt = scope["path"].startswith(_DOCS_PATH)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if not (personal and name.lower() == b"cache-control") or _is_calendar(message)
                ]
                names = {name.lower() for name, _ in headers}
                content_type = next(
                    (value for name, value in headers if name.lower() == b"content-type"), b""
                )
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                    names.add(b"x-content-type-options")
                if not content_type.startswith(b"text/html"):
                    if b"content-security-policy" not in names:
                        headers.append(
                            (b"content-security-policy", CONTENT_SECURITY_POLICY.encode())
                        )
                elif b"content-security-policy" not in names and not page_exempt:
                    headers.extend(
                        (name.encode(), value.encode())
                        for name, value in PAGE_SECURITY_HEADERS
                        if name.encode() not in names
                    )
                if personal and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _is_calendar(message: Message) -> bool:
    headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))  # type: ignore[call-overload]
    return any(
        name.lower() == b"content-type" and value.startswith(b"text/calendar")
        for name, value in headers
    )
