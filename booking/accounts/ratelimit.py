"""Abuse limits backed by Redis, so they hold across API processes.

- :class:`LoginThrottle`: failed sign-ins per (account, address) with a lockout that grows
  with every failure, per address, and per account with a ceiling that still lets the owner's
  usual addresses in: nobody can lock another person out.
- :class:`WriteRateLimitMiddleware` (:func:`wrap_rate_limit`): POST/PUT/PATCH/DELETE per user
  (from the token's claims, no database lookup) or per client address, a fixed one-minute
  window, one Redis round trip per request (concurrent requests share one pipeline). If Redis
  does not answer it fails open: the request goes through and a warning is logged (bookings
  must not depend on Redis).

Both count with the same Lua script: INCR a key and give it a TTL when it is new, atomically.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any, cast

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

from booking.accounts.security import bearer_token, decode_token
from booking.client_address import client_address
from booking.errors import Problem, problem_response
from booking.settings import Settings

__all__ = (
    "LoginThrottle",
    "TooManyRequests",
    "WriteRateLimitMiddleware",
    "wrap_rate_limit",
)

log = logging.getLogger("booking.accounts.ratelimit")

_KEY_PREFIX = "nanum:rl:"
# INCR the key; a new key (or one that somehow lost its TTL) gets ARGV[1] seconds to live.
# Returns {count, seconds left}. One key per call, so it works on Redis Cluster too.
_COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if count == 1 or ttl < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""
_COUNT_SHA = hashlib.sha1(_COUNT_SCRIPT.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1
_WRITE_WINDOW_SECONDS = 60
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_EXEMPT_PATHS = frozenset({"/v1/auth/login"})  # has its own, stricter throttle
# How long a Redis call may take on the request path, and how long to stop asking after it
# failed (so an unreachable Redis costs one timeout per pause, not one per request).
_REDIS_TIMEOUT_SECONDS = 0.5
_PAUSE_AFTER_FAILURE_SECONDS = 5.0
_REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


class TooManyRequests(Problem):
    status, code, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


async def _count(redis: Redis, key: str, window_seconds: int) -> tuple[int, int]:
    """Increment a windowed counter in one round trip; (count, seconds left in the window)."""
    try:
        result = await redis.evalsha(_COUNT_SHA, 1, key, str(window_seconds))  # type: ignore[misc]
    except NoScriptError:
        # First use on this Redis (or after SCRIPT FLUSH): EVAL also caches the script.
        result = await redis.eval(_COUNT_SCRIPT, 1, key, str(window_seconds))  # type: ignore[misc]
    count, ttl = cast("list[int]", result)
    return int(count), int(ttl)


_PAIR_MEMORY_SECONDS = 24 * 3600  # how long a (account, address) pair's failures count
_FIRST_LOCKOUT_SECONDS = 60
_KNOWN_ADDRESS_SECONDS = 90 * 24 * 3600  # a sign-in makes the address "good" this long


class LoginThrottle:
    """Failed sign-ins, counted in Redis so that nobody can lock another person out.

    - **(account, address)**: ``login_max_failures`` failures are free; each further one locks
      this pair out for 60 s, doubling per failure, capped at ``login_failure_window_seconds``
      (the failures are remembered for 24 h; a correct password clears them). An attacker is
      slowed down on the victim from their own address; the victim's address is untouched.
    - **address** (any accounts): ``login_address_max_failures`` failures in the window lock
      that address out until the window ends (one address guessing many accounts).
    - **account** (all addresses): past ``login_account_max_failures`` in the window (guessing
      spread over many addresses), only addresses that signed in to this account within the
      last 90 days may try; everyone else gets 429. The owner's usual address never does.

    If Redis does not answer the throttle fails open (a warning is logged): sign-in keeps
    working, unthrottled, until it is back.
    """

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.max_failures = settings.login_max_failures
        self.address_max = settings.login_address_max_failures
        self.account_max = settings.login_account_max_failures
        self.window = settings.login_failure_window_seconds

    @staticmethod
    def _keys(email: str, address: str) -> dict[str, str]:
        # The e-mail is hashed so that Redis never holds a list of addresses people tried.
        account = hashlib.sha256(email.encode()).hexdigest()[:32]
        where = hashlib.sha256(address.encode()).hexdigest()[:32]
        base = f"{_KEY_PREFIX}login:"
        return {
            "pair": f"{base}pair:{account}:{where}",
            "lock": f"{base}lock:{account}:{where}",
            "address": f"{base}address:{where}",
            "account": f"{base}account:{account}",
            "known": f"{base}known:{account}:{where}",
        }

    def _lockout(self, failures: int) -> int:
        """Seconds a pair is locked out after its ``failures``-th failure (0: not locked)."""
        beyond = failures - self.max_failures
        if beyond < 0:
            return 0
        return min(self.window, _FIRST_LOCKOUT_SECONDS << min(beyond, 20))

    async def check(self, email: str, address: str) -> None:
        """Raise :class:`TooManyRequests` while this attempt may not be made."""
        keys = self._keys(email, address)
        try:
            async with asyncio.timeout(_REDIS_TIMEOUT_SECONDS):
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.ttl(keys["lock"])
                    pipe.get(keys["address"])
                    pipe.ttl(keys["address"])
                    pipe.get(keys["account"])
                    pipe.ttl(keys["account"])
                    pipe.exists(keys["known"])
                    (
                        lock_ttl,
                        by_address,
                        address_ttl,
                        by_account,
                        account_ttl,
                        known,
                    ) = await pipe.execute()
        except _REDIS_FAILURES as exc:
            log.warning("login throttle unavailable, not enforced: %s", type(exc).__name__)
            return
        waits: list[int] = []
        if int(lock_ttl) > 0:
            waits.append(int(lock_ttl))
        if by_address is not None and int(by_address) >= self.address_max:
            waits.append(int(address_ttl))
        if by_account is not None and int(by_account) >= self.account_max and not int(known):
            waits.append(int(account_ttl))
        if waits:
            raise TooManyRequests(
                "Too many failed sign-in attempts. Try again later.", retry_after=max(waits)
            )

    async def record_failure(self, email: str, address: str) -> None:
        keys = self._keys(email, address)
        try:
            async with asyncio.timeout(_REDIS_TIMEOUT_SECONDS):
                failures, _ = await _count(self.redis, keys["pair"], _PAIR_MEMORY_SECONDS)
                await _count(self.redis, keys["address"], self.window)
                await _count(self.redis, keys["account"], self.window)
                lockout = self._lockout(failures)
                if lockout:
                    await self.redis.set(keys["lock"], "1", ex=lockout)
        except _REDIS_FAILURES as exc:
            log.warning("login throttle unavailable, failure not counted: %s", type(exc).__name__)

    async def record_success(self, email: str, address: str) -> None:
        """A correct password clears this pair's failures (not the address's or the account's)
        and makes the address a good one for this account."""
        keys = self._keys(email, address)
        try:
            async with asyncio.timeout(_REDIS_TIMEOUT_SECONDS):
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.delete(keys["pair"], keys["lock"])
                    pipe.set(keys["known"], "1", ex=_KNOWN_ADDRESS_SECONDS)
                    await pipe.execute()
        except _REDIS_FAILURES as exc:
            log.warning("login throttle unavailable: %s", type(exc).__name__)


def _authorization(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value.decode("latin-1")
    return ""


class _CountBatcher:
    """Counts of concurrent requests sent to Redis together: while one pipeline of EVALSHAs is
    in flight, the requests that arrive wait for the next one. Each request still increments
    its own key exactly once; under load this is one round trip (and one connection) for many
    requests instead of one each, and a burst of a thousand writes opens no thousand
    connections."""

    def __init__(self, window_seconds: int) -> None:
        self._window = str(window_seconds)
        self._queue: list[tuple[str, asyncio.Future[tuple[int, int]]]] = []
        self._flushing = False

    async def count(self, redis: Redis, key: str) -> tuple[int, int]:
        future: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()
        self._queue.append((key, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush(redis))
        return await future

    async def _flush(self, redis: Redis) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    results = await self._send(redis, [key for key, _ in batch])
                except Exception as exc:  # noqa: BLE001 - every waiting request gets it (fails open)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                except BaseException:
                    for _, future in batch:
                        future.cancel()
                    raise
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._flushing = False

    async def _send(self, redis: Redis, keys: list[str]) -> list[tuple[int, int]]:
        for attempt in range(2):
            async with redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.evalsha(_COUNT_SHA, 1, key, self._window)
                replies = await pipe.execute(raise_on_error=False)
            if attempt == 0 and any(isinstance(r, NoScriptError) for r in replies):
                # First use on this Redis (or after SCRIPT FLUSH): load it, send again.
                await redis.script_load(_COUNT_SCRIPT)
                continue
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
            return [(int(count), int(ttl)) for count, ttl in replies]
        raise RedisError("rate limit script not loaded")


class WriteRateLimitMiddleware:
    """Pure ASGI: at most ``write_rate_limit_per_minute`` writes per user or address."""

    def __init__(
        self, app: ASGIApp, settings: Settings, redis_getter: Callable[[], Redis | None]
    ) -> None:
        self.app = app
        self.settings = settings
        self.limit = settings.write_rate_limit_per_minute
        self.redis_getter = redis_getter
        self._paused_until = 0.0
        self._counter = _CountBatcher(_WRITE_WINDOW_SECONDS)

    def _subject(self, scope: Scope) -> str:
        token = bearer_token(_authorization(scope))
        claims = decode_token(self.settings, token) if token else None
        if claims is not None:
            return f"user:{claims.user_id}"
        return f"address:{client_address(scope, self.settings)}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != ScopeType.HTTP
            or cast("dict[str, Any]", scope)["method"] not in _WRITE_METHODS
            or scope["path"] in _EXEMPT_PATHS
        ):
            await self.app(scope, receive, send)
            return
        retry_after = await self._over_limit(scope)
        if retry_after is None:
            await self.app(scope, receive, send)
            return
        response = problem_response(
            429,
            "too-many-requests",
            "Too many requests",
            f"At most {self.limit} write requests per minute are allowed. Try again later.",
            instance=scope["path"],
        )
        body = response.content
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", str(response.media_type).encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _over_limit(self, scope: Scope) -> int | None:
        """Seconds to wait if this request is over the limit, else None (also when Redis is
        unreachable: the limiter fails open)."""
        redis = self.redis_getter()
        if redis is None or time.monotonic() < self._paused_until:
            return None
        key = f"{_KEY_PREFIX}write:{self._subject(scope)}"
        try:
            async with asyncio.timeout(_REDIS_TIMEOUT_SECONDS):
                count, ttl = await self._counter.count(redis, key)
        except _REDIS_FAILURES as exc:
            self._paused_until = time.monotonic() + _PAUSE_AFTER_FAILURE_SECONDS
            log.warning(
                "write rate limit unavailable, not enforced for %.0f s: %s",
                _PAUSE_AFTER_FAILURE_SECONDS,
                type(exc).__name__,
            )
            return None
        if count <= self.limit:
            return None
        return max(1, math.ceil(ttl))


def wrap_rate_limit(
    asgi_app: ASGIApp, settings: Settings, redis_getter: Callable[[], Redis | None]
) -> ASGIApp:
    """``asgi_app`` behind the per-user write rate limit. ``redis_getter`` returns the app's
    Redis client, or None before the lifespan created it."""
    return WriteRateLimitMiddleware(asgi_app, settings, redis_getter)
