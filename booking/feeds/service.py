"""Calendar feeds: windows, conditional GET, the rendered caches and private feed tokens.

A feed's ETag is derived from a cheap fingerprint (for public feeds: the count and row versions
of the feed's bookings, and the room's and institution's update times; see
``queries.room_fingerprint``), so a revalidation answers 304 without building the calendar. Each process keeps a public feed's
fingerprint for up to ``FINGERPRINT_TTL`` (one second), so a burst of revalidations costs no
database round trip, and a change shows in the ETag within that second on every process.
Rendered bodies are cached by ETag (an ETag names exactly one representation, so a cached body
is never stale); rendered events are cached by everything they are made of, so after one change
a feed re-renders that one event and reassembles the rest; and concurrent first requests for one
ETag share one render.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import cast

import asyncpg
from prometheus_client import Counter

from booking.accounts.auth import Principal
from booking.db import Conn
from booking.errors import NotFound, Problem
from booking.feeds import queries
from booking.feeds.ical import (
    FEED_FORMAT,
    Audience,
    event_bytes,
    feed_calendar,
    single_event_calendar,
)
from booking.feeds.queries import FeedBooking, FeedFingerprint, FeedKey, TokenOwner
from booking.settings import Settings

__all__ = (
    "EVENT_RENDERS",
    "FEED_RENDERS",
    "FINGERPRINT_TTL",
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
_EVENT_CACHE_BYTES = 32 * 1024 * 1024
_RENDER_IN_THREAD = 200  # events to render; fewer render faster than a thread hop
FINGERPRINT_TTL = 1.0
"""Seconds a process reuses a public feed's fingerprint (the bound on a stale ETag)."""


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

EventKey = tuple[object, ...]


class _EventCache:
    """Serialized VEVENTs keyed by what they were made from — a public event by its booking's
    key (id, sequence, updated_at) and the feed's context stamps, a private one by its whole
    row (a frozen Struct) — with the audience and the base URL; least recently used out first,
    bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.entries: OrderedDict[EventKey, bytes] = OrderedDict()

    def get(self, key: EventKey) -> bytes | None:
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
        return entry

    def put(self, key: EventKey, event: bytes) -> None:
        if key in self.entries:
            return
        self.entries[key] = event
        self.size += len(event)
        while self.size > self.max_bytes:
            _, old = self.entries.popitem(last=False)
            self.size -= len(old)


_events = _EventCache(_EVENT_CACHE_BYTES)
FEED_RENDERS = Counter("nanum_feed_renders_total", "Calendar feed bodies assembled (cache misses)")
EVENT_RENDERS = Counter("nanum_feed_event_renders_total", "VEVENTs rendered (event cache misses)")


async def _assemble(
    name: str,
    keys: list[EventKey],
    rows: Callable[[list[int]], Awaitable[list[FeedBooking | None]]],
) -> bytes:
    """The feed of these events: cached ones reused, the others rendered from ``rows`` (asked
    for the positions of the missing ones) and cached. Each key ends with audience, base URL."""
    known = [_events.get(k) for k in keys]
    positions = [n for n, e in enumerate(known) if e is None]
    if positions:
        fetched = await rows(positions)
        todo = [
            (n, b, cast(Audience, keys[n][-2]), cast(str, keys[n][-1]))
            for n, b in zip(positions, fetched, strict=True)
            if b is not None
        ]

        def build() -> list[bytes]:
            return [event_bytes(b, audience, url) for _, b, audience, url in todo]

        fresh = await asyncio.to_thread(build) if len(todo) >= _RENDER_IN_THREAD else build()
        for (n, _, _, _), event in zip(todo, fresh, strict=True):
            known[n] = event
            _events.put(keys[n], event)
        EVENT_RENDERS.inc(len(fresh))
    FEED_RENDERS.inc()
    return feed_calendar(name, (e for e in known if e is not None))


# ETag -> the render in progress, so concurrent first requests for one feed share it.
_rendering: dict[str, asyncio.Future[tuple[bytes, datetime | None]]] = {}


class _FingerprintCache:
    """Public feeds' fingerprints per process for ``FINGERPRINT_TTL`` seconds."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.entries: OrderedDict[
            tuple[str, uuid.UUID, FeedWindow], tuple[float, FeedFingerprint]
        ] = OrderedDict()

    def get(self, kind: str, key: uuid.UUID, window: FeedWindow) -> FeedFingerprint | None:
        entry = self.entries.get((kind, key, window))
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def put(
        self, kind: str, key: uuid.UUID, window: FeedWindow, fingerprint: FeedFingerprint
    ) -> None:
        self.entries[(kind, key, window)] = (time.monotonic() + self.ttl, fingerprint)
        self.entries.move_to_end((kind, key, window))
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)


_fingerprints = _FingerprintCache(FINGERPRINT_TTL)


AudienceOf = Callable[[FeedBooking], Audience]
Build = Callable[[], Awaitable[tuple[bytes, list[datetime]]]]
"""Reads and renders a feed: its body and the update times of the bookings in it."""


async def _answer(
    *,
    kind: str,
    key: str,
    fingerprint: FeedFingerprint,
    window: FeedWindow,
    conditions: Conditions,
    settings: Settings,
    build: Build,
    cache_control: str,
) -> FeedAnswer:
    base = settings.base_url
    etag = _etag(kind, key, fingerprint, window, base)
    cached = _cache.get(etag)
    if _none_match(conditions.if_none_match, etag):
        last_modified = cached[1] if cached is not None else None
        return FeedAnswer(None, etag, last_modified, cache_control)
    if cached is None:
        cached = await _render_once(etag, fingerprint, window, build)
    body, last_modified = cached
    if conditions.if_none_match is None and _not_modified_since(
        conditions.if_modified_since, last_modified
    ):
        return FeedAnswer(None, etag, last_modified, cache_control)
    return FeedAnswer(body, etag, last_modified, cache_control)


async def _render_once(
    etag: str, fingerprint: FeedFingerprint, window: FeedWindow, build: Build
) -> tuple[bytes, datetime | None]:
    """Read and render the feed named by ``etag`` once, however many ask for it at a time."""
    running = _rendering.get(etag)
    if running is not None:
        return await asyncio.shield(running)
    future: asyncio.Future[tuple[bytes, datetime | None]] = (
        asyncio.get_running_loop().create_future()
    )
    _rendering[etag] = future
    try:
        body, stamps = await build()
        # The window slides and old cancellations drop out at the start of each UTC day, so the
        # representation may have changed then even if no row did.
        last_modified = max(
            stamps
            + [window.anchor]
            + ([fingerprint.last_modified] if fingerprint.last_modified else [])
        )
        _cache.put(etag, body, last_modified)
        future.set_result((body, last_modified))
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: waiters see it, a lone failure is not "never retrieved"
        raise
    finally:
        del _rendering[etag]
    return body, last_modified


async def _public_feed(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    kind: str,
    key: uuid.UUID,
    window: FeedWindow,
    conditions: Conditions,
    fingerprint_of: Callable[
        [Conn, uuid.UUID, datetime, datetime, datetime], Awaitable[FeedFingerprint | None]
    ],
    keys_of: Callable[[Conn, uuid.UUID, datetime, datetime, datetime], Awaitable[list[FeedKey]]],
    missing: str,
) -> FeedAnswer:
    """A public busy feed (of a room or an institution): one fingerprint read, at most once a
    second per process, decides 304."""
    fingerprint = _fingerprints.get(kind, key, window)
    if fingerprint is None:
        async with pool.acquire() as conn:
            fingerprint = await fingerprint_of(
                conn, key, window.start, window.end, window.cancelled_since
            )
        if fingerprint is None:
            raise NotFound(missing)
        _fingerprints.put(kind, key, window, fingerprint)

    base = settings.base_url
    context = fingerprint.context

    async def build() -> tuple[bytes, list[datetime]]:
        # Three columns per booking decide which events are still rendered; full rows are read
        # only for the others (after one change: one).
        async with pool.acquire() as conn:
            keys = await keys_of(conn, key, window.start, window.end, window.cancelled_since)

        async def rows(positions: list[int]) -> list[FeedBooking | None]:
            async with pool.acquire() as conn:
                found = await queries.feed_rows_by_id(conn, [keys[n].id for n in positions])
            by_id = {b.id: b for b in found}
            return [by_id.get(keys[n].id) for n in positions]

        event_keys: list[EventKey] = [
            (k.id, k.sequence, k.updated_at, context, "public", base) for k in keys
        ]
        body = await _assemble(
            f"{fingerprint.title} — 나눔 예약 현황 / Nanum bookings", event_keys, rows
        )
        return body, [k.updated_at for k in keys]

    return await _answer(
        kind=kind,
        key=str(key),
        fingerprint=fingerprint,
        window=window,
        conditions=conditions,
        settings=settings,
        build=build,
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
        keys_of=queries.room_feed_keys,
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
        keys_of=queries.institution_feed_keys,
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

    base = settings.base_url

    async def build() -> tuple[bytes, list[datetime]]:
        async with pool.acquire() as conn:
            included = await queries.private_feed_rows(
                conn,
                owner.user_id,
                owner.institutions,
                window.start,
                window.end,
                window.cancelled_since,
            )

        async def rows(positions: list[int]) -> list[FeedBooking | None]:
            return [included[n] for n in positions]

        # A private event shows the booker and purpose: keyed by its whole row.
        event_keys: list[EventKey] = [(b, audience_of(b), base) for b in included]
        body = await _assemble(_private_name(owner), event_keys, rows)
        return body, [b.updated_at for b in included]

    return await _answer(
        kind="private",
        key=str(owner.user_id),
        fingerprint=fingerprint,
        window=window,
        conditions=conditions,
        settings=settings,
        build=build,
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
