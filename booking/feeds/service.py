"""Calendar feeds: windows, conditional GET, the rendered-body cache and private feed tokens.

A feed's ETag is derived from a cheap fingerprint (one primary-key read for public feeds: see
``sql/0040_calendar_feeds.sql``), so a revalidation answers 304 without building the calendar.
Rendered bodies are cached by ETag: the ETag names exactly one representation, so a cached body
is never stale, and a full GET of unchanged data costs no rendering.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

import asyncpg

from booking.accounts.auth import Principal
from booking.db import Conn
from booking.errors import NotFound, Problem
from booking.feeds import queries
from booking.feeds.ical import (
    FEED_FORMAT,
    Audience,
    booking_event,
    feed_calendar,
    single_event_calendar,
)
from booking.feeds.queries import FeedBooking, FeedFingerprint, TokenOwner
from booking.settings import Settings

__all__ = (
    "MAX_WINDOW",
    "Conditions",
    "FeedAnswer",
    "FeedWindow",
    "booking_event_feed",
    "calendar_urls",
    "derive_token",
    "feed_window",
    "institution_feed",
    "private_feed",
    "room_feed",
    "rotate_calendar_token",
)

PAST = timedelta(days=30)
AHEAD = timedelta(days=366)  # from the start of today, so at least 365 days ahead of now
MAX_WINDOW = timedelta(days=731)  # two years, one of them leap
CANCELLED_KEPT = timedelta(days=30)
PUBLIC_CACHE = "public, max-age=300"
PRIVATE_CACHE = "private, max-age=300"
EVENT_CACHE = "private, no-cache"
_TOKEN_CONTEXT = b"nanum-calendar-feed-v1:"
_CACHE_BYTES = 64 * 1024 * 1024
_RENDER_IN_THREAD = 200  # events; smaller feeds render faster than a thread hop


class InvalidWindow(Problem):
    status, code, title = 422, "invalid-window", "Invalid feed window"


@dataclass(frozen=True, slots=True)
class FeedWindow:
    """``[start, end)`` of the bookings shown; cancelled ones only if cancelled since
    ``cancelled_since``. ``anchor`` is the day the window was computed for (its start, UTC)."""

    start: datetime
    end: datetime
    cancelled_since: datetime
    anchor: datetime


@dataclass(frozen=True, slots=True)
class Conditions:
    if_none_match: str | None = None
    if_modified_since: str | None = None


@dataclass(frozen=True, slots=True)
class FeedAnswer:
    """A 200 with ``body``, or a 304 (``body`` None); the headers are the same for both."""

    body: bytes | None
    etag: str
    last_modified: datetime | None
    cache_control: str

    @property
    def status(self) -> int:
        return 200 if self.body is not None else 304

    def headers(self) -> dict[str, str]:
        headers = {"ETag": self.etag, "Cache-Control": self.cache_control}
        if self.last_modified is not None:
            headers["Last-Modified"] = http_date(self.last_modified)
        return headers


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def feed_window(now: datetime, start: datetime | None, end: datetime | None) -> FeedWindow:
    """The default window runs from 30 days before today to 365 days ahead (whole UTC days, so
    the feed and its ETag change at most once a day by the clock alone); ``start``/``end``
    choose another, at most two years long."""
    anchor = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    lower = start if start is not None else anchor - PAST
    upper = end if end is not None else anchor + AHEAD
    if upper <= lower:
        raise InvalidWindow("`to` must be later than `from`.")
    if upper - lower > MAX_WINDOW:
        raise InvalidWindow("A feed window may span at most two years (731 days).")
    return FeedWindow(
        start=lower, end=upper, cancelled_since=anchor - CANCELLED_KEPT, anchor=anchor
    )


def _etag(kind: str, key: str, fingerprint: FeedFingerprint, window: FeedWindow, base: str) -> str:
    material = "\x1f".join(
        (
            FEED_FORMAT,
            kind,
            key,
            fingerprint.database,
            fingerprint.title,
            *fingerprint.parts,
            window.start.isoformat(),
            window.end.isoformat(),
            window.cancelled_since.isoformat(),
            base,
        )
    )
    return '"' + hashlib.sha256(material.encode()).hexdigest()[:40] + '"'


def _none_match(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 §13.1.2); ``*`` matches any feed."""
    if header is None:
        return False
    tags = [t.strip() for t in header.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


def _not_modified_since(header: str | None, last_modified: datetime | None) -> bool:
    if header is None or last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False  # an unparsable date is ignored, as RFC 9110 §13.1.3 says
    if since.tzinfo is None:
        return False
    return last_modified.replace(microsecond=0) <= since


class _BodyCache:
    """Rendered feeds by ETag, least recently used out first, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.entries: OrderedDict[str, tuple[bytes, datetime | None]] = OrderedDict()

    def get(self, etag: str) -> tuple[bytes, datetime | None] | None:
        entry = self.entries.get(etag)
        if entry is not None:
            self.entries.move_to_end(etag)
        return entry

    def put(self, etag: str, body: bytes, last_modified: datetime | None) -> None:
        if len(body) > self.max_bytes or etag in self.entries:
            return
        self.entries[etag] = (body, last_modified)
        self.size += len(body)
        while self.size > self.max_bytes:
            _, (old, _) = self.entries.popitem(last=False)
            self.size -= len(old)


_cache = _BodyCache(_CACHE_BYTES)


async def _render(name: str, rows: list[FeedBooking], audience_of: AudienceOf, base: str) -> bytes:
    def build() -> bytes:
        return feed_calendar(name, (booking_event(b, audience_of(b), base) for b in rows))

    if len(rows) >= _RENDER_IN_THREAD:
        return await asyncio.to_thread(build)
    return build()


AudienceOf = Callable[[FeedBooking], Audience]
Rows = Callable[[Conn], Awaitable[list[FeedBooking]]]


async def _answer(
    conn: Conn,
    *,
    kind: str,
    key: str,
    fingerprint: FeedFingerprint,
    window: FeedWindow,
    conditions: Conditions,
    settings: Settings,
    name: str,
    rows: Rows,
    audience_of: AudienceOf,
    cache_control: str,
) -> FeedAnswer:
    base = settings.base_url
    etag = _etag(kind, key, fingerprint, window, base)
    cached = _cache.get(etag)
    if _none_match(conditions.if_none_match, etag):
        last_modified = cached[1] if cached is not None else None
        return FeedAnswer(None, etag, last_modified, cache_control)
    if cached is None:
        included = await rows(conn)
        body = await _render(name, included, audience_of, base)
        # The window slides and old cancellations drop out at the start of each UTC day, so the
        # representation may have changed then even if no row did.
        last_modified = max(
            [b.updated_at for b in included]
            + [window.anchor]
            + ([fingerprint.last_modified] if fingerprint.last_modified else [])
        )
        _cache.put(etag, body, last_modified)
        cached = (body, last_modified)
    body, last_modified = cached
    if conditions.if_none_match is None and _not_modified_since(
        conditions.if_modified_since, last_modified
    ):
        return FeedAnswer(None, etag, last_modified, cache_control)
    return FeedAnswer(body, etag, last_modified, cache_control)


def _public(_: FeedBooking) -> Audience:
    return "public"


async def _public_feed(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    kind: str,
    key: uuid.UUID,
    window: FeedWindow,
    conditions: Conditions,
    fingerprint_of: Callable[[Conn, uuid.UUID], Awaitable[FeedFingerprint | None]],
    rows_of: Callable[
        [Conn, uuid.UUID, datetime, datetime, datetime], Awaitable[list[FeedBooking]]
    ],
    missing: str,
) -> FeedAnswer:
    """A public busy feed (of a room or an institution): one fingerprint read decides 304."""
    async with pool.acquire() as conn:
        fingerprint = await fingerprint_of(conn, key)
        if fingerprint is None:
            raise NotFound(missing)
        return await _answer(
            conn,
            kind=kind,
            key=str(key),
            fingerprint=fingerprint,
            window=window,
            conditions=conditions,
            settings=settings,
            name=f"{fingerprint.title} — 나눔 예약 현황 / Nanum bookings",
            rows=lambda c: rows_of(c, key, window.start, window.end, window.cancelled_since),
            audience_of=_public,
            cache_control=PUBLIC_CACHE,
        )


async def room_feed(
    pool: asyncpg.Pool,
    settings: Settings,
    room_id: uuid.UUID,
    window: FeedWindow,
    conditions: Conditions,
) -> FeedAnswer:
    return await _public_feed(
        pool,
        settings,
        kind="room",
        key=room_id,
        window=window,
        conditions=conditions,
        fingerprint_of=queries.room_fingerprint,
        rows_of=queries.room_feed_rows,
        missing="No such room.",
    )


async def institution_feed(
    pool: asyncpg.Pool,
    settings: Settings,
    institution_id: uuid.UUID,
    window: FeedWindow,
    conditions: Conditions,
) -> FeedAnswer:
    return await _public_feed(
        pool,
        settings,
        kind="institution",
        key=institution_id,
        window=window,
        conditions=conditions,
        fingerprint_of=queries.institution_fingerprint,
        rows_of=queries.institution_feed_rows,
        missing="No such institution.",
    )


# --- private feeds -----------------------------------------------------------------------------


def derive_token(settings: Settings, nonce: bytes) -> str:
    """The URL token: HMAC(secret_key, nonce). The database keeps the nonce and the token's
    sha256 only, so its contents alone open no feed; the URL can be shown again on request."""
    mac = hmac.new(settings.secret_key.encode(), _TOKEN_CONTEXT + nonce, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _new_token(settings: Settings) -> tuple[bytes, str]:
    nonce = secrets.token_bytes(32)
    return nonce, derive_token(settings, nonce)


def _urls(settings: Settings, token: str) -> tuple[str, str]:
    https_url = f"{settings.base_url}/v1/calendars/{token}.ics"
    _, _, rest = https_url.partition("://")
    return https_url, f"webcal://{rest}"


async def calendar_urls(
    pool: asyncpg.Pool, settings: Settings, principal: Principal
) -> tuple[str, str]:
    """The caller's private feed URLs (https, webcal), creating the token on first use."""
    async with pool.acquire() as conn:
        for _ in range(3):
            current = await queries.active_token(conn, principal.id)
            if current is not None:
                nonce, stored_hash = current
                token = derive_token(settings, nonce)
                if hmac.compare_digest(_token_hash(token), stored_hash):
                    return _urls(settings, token)
                # The secret key changed since: the old URL no longer derives; issue a new one.
                return await rotate_calendar_token(pool, settings, principal)
            nonce, token = _new_token(settings)
            # A concurrent first call may win the one-active-token index; then read its token.
            if await queries.insert_token(conn, principal.id, nonce, _token_hash(token)):
                return _urls(settings, token)
    raise Problem("Could not issue a calendar token; try again.", status=409, code="conflict")


async def rotate_calendar_token(
    pool: asyncpg.Pool, settings: Settings, principal: Principal
) -> tuple[str, str]:
    """Revoke the caller's token (its URL answers 404 from now on) and issue a new one."""
    nonce, token = _new_token(settings)
    async with pool.acquire() as conn, conn.transaction():
        await queries.lock_user(conn, principal.id)
        await queries.revoke_tokens(conn, principal.id)
        inserted = await queries.insert_token(conn, principal.id, nonce, _token_hash(token))
        assert inserted, "the user row lock serialises rotations"
    return _urls(settings, token)


async def private_feed(
    pool: asyncpg.Pool,
    settings: Settings,
    token: str,
    window: FeedWindow,
    conditions: Conditions,
) -> FeedAnswer:
    async with pool.acquire() as conn:
        owner = await queries.token_owner(conn, _token_hash(token))
        if owner is None:
            raise NotFound("No such calendar.")
        fingerprint = await queries.private_fingerprint(
            conn, owner, window.start, window.end, window.cancelled_since
        )

        def audience_of(b: FeedBooking) -> Audience:
            return "owner" if b.citizen_id == owner.user_id else "manager"

        return await _answer(
            conn,
            kind="private",
            key=str(owner.user_id),
            fingerprint=fingerprint,
            window=window,
            conditions=conditions,
            settings=settings,
            name=_private_name(owner),
            rows=lambda c: queries.private_feed_rows(
                c,
                owner.user_id,
                owner.institutions,
                window.start,
                window.end,
                window.cancelled_since,
            ),
            audience_of=audience_of,
            cache_control=PRIVATE_CACHE,
        )


def _private_name(owner: TokenOwner) -> str:
    return f"{owner.name} — 나눔 내 일정 / My Nanum calendar"


# --- one booking -------------------------------------------------------------------------------


async def booking_event_feed(
    pool: asyncpg.Pool,
    settings: Settings,
    principal: Principal,
    booking_id: uuid.UUID,
    conditions: Conditions,
) -> FeedAnswer:
    """One booking as a calendar, for its citizen or its institution's managers (else 404)."""
    async with pool.acquire() as conn:
        booking = await queries.booking_event_row(conn, booking_id)
    if booking is None:
        raise NotFound("No such booking.")
    if booking.citizen_id == principal.id:
        audience: Audience = "owner"
    elif principal.manages(booking.institution_id):
        audience = "manager"
    else:
        raise NotFound("No such booking.")
    body = single_event_calendar(booking, audience, settings.base_url)
    etag = '"' + hashlib.sha256(body).hexdigest()[:40] + '"'
    last_modified = booking.updated_at
    if _none_match(conditions.if_none_match, etag) or (
        conditions.if_none_match is None
        and _not_modified_since(conditions.if_modified_since, last_modified)
    ):
        return FeedAnswer(None, etag, last_modified, EVENT_CACHE)
    return FeedAnswer(body, etag, last_modified, EVENT_CACHE)
