"""Failed sign-ins are throttled per account and per client address, in Redis."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send
from redis.asyncio import Redis

from booking.accounts.ratelimit import LoginThrottle, TooManyRequests
from booking.settings import Settings
from tests.accounts.conftest import client_for, rate_limited_app
from tests.conftest import make_settings
from tests.factories import create_user

PASSWORD = "correct horse battery"  # the factories' default


async def attempt(client: AsyncTestClient[Litestar], email: str, password: str) -> int:
    response = await client.post("/v1/auth/login", json={"email": email, "password": password})
    if response.status_code == 429:
        assert int(response.headers["retry-after"]) >= 1
        assert response.headers["content-type"].startswith("application/problem+json")
    return response.status_code


async def test_login_throttle_engages_after_the_allowed_failures_and_releases(
    database_url: str, redis_url: str, db: asyncpg.Pool
) -> None:
    settings = make_settings(
        database_url, redis_url, login_max_failures="3", login_failure_window_seconds="1"
    )
    user = await create_user(db, settings)
    async with client_for(settings) as client:
        assert [await attempt(client, user.email, "wrong password!") for _ in range(3)] == [401] * 3

        # Even the right password is refused while throttled: guessing gains nothing.
        response = await client.post(
            "/v1/auth/login", json={"email": user.email, "password": PASSWORD}
        )
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1"
        assert "exist" not in response.text

        deadline = asyncio.get_running_loop().time() + 10
        while (status := await attempt(client, user.email, PASSWORD)) == 429:
            assert asyncio.get_running_loop().time() < deadline, "throttle never released"
            await asyncio.sleep(0.1)
        assert status == 200


async def test_unknown_emails_are_throttled_like_real_ones(
    database_url: str, redis_url: str
) -> None:
    settings = make_settings(database_url, redis_url, login_max_failures="2")
    async with client_for(settings) as client:
        statuses = [await attempt(client, "ghost@example.org", "whatever123") for _ in range(3)]

    assert statuses == [401, 401, 429]


async def test_one_address_failing_on_many_accounts_is_throttled(
    database_url: str, redis_url: str, db: asyncpg.Pool
) -> None:
    # The per-address limit has its own, looser setting since issue 15 (a shared address,
    # e.g. a library's, should not be locked by a few typos); the rule is unchanged.
    settings = make_settings(database_url, redis_url, login_address_max_failures="3")
    victim = await create_user(db, settings)
    async with client_for(settings) as client:
        for n in range(3):
            assert await attempt(client, f"guess{n}@example.org", "wrong password!") == 401
        assert await attempt(client, victim.email, PASSWORD) == 429


async def test_an_account_is_throttled_per_address_and_success_clears_it(
    redis_url: str, settings: Settings
) -> None:
    """Issue 15 replaced "an account is throttled across addresses" (which let anyone lock
    anyone out): the lockout is per (account, address); other addresses are unaffected."""
    redis = Redis.from_url(redis_url)
    throttle = LoginThrottle(redis, settings)
    try:
        for _ in range(settings.login_max_failures):
            await throttle.check("jimin@example.org", "10.0.0.1")
            await throttle.record_failure("jimin@example.org", "10.0.0.1")

        with pytest.raises(TooManyRequests) as refused:
            await throttle.check("jimin@example.org", "10.0.0.1")
        retry_after = int(refused.value.headers["Retry-After"])
        assert 1 <= retry_after <= 60  # the first lockout
        await throttle.check("jimin@example.org", "10.9.9.9")  # the owner's address: free
        await throttle.check("someone.else@example.org", "10.0.0.1")  # other accounts too

        await throttle.record_success("jimin@example.org", "10.0.0.1")
        await throttle.check("jimin@example.org", "10.0.0.1")
    finally:
        await redis.aclose()


async def test_each_further_failure_doubles_the_lockout_up_to_the_window(
    redis_url: str, settings: Settings
) -> None:
    redis = Redis.from_url(redis_url)
    throttle = LoginThrottle(redis, settings)
    email = f"slow-{secrets.token_hex(4)}@example.org"
    try:
        seen = []
        for n in range(settings.login_max_failures + 6):
            await throttle.record_failure(email, "10.1.1.1")
            if n + 1 >= settings.login_max_failures:
                with pytest.raises(TooManyRequests) as refused:
                    await throttle.check(email, "10.1.1.1")
                seen.append(int(refused.value.headers["Retry-After"]))
        window = settings.login_failure_window_seconds
        assert seen == [min(window, 60 << k) for k in range(7)]
        assert seen[-1] == window
    finally:
        await redis.aclose()


class _Peer:
    """The connection's peer taken from the test-only ``x-test-peer`` header, as if each
    request came from another machine (the test client always says "testclient")."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            peer = dict(scope["headers"]).get(b"x-test-peer")
            if peer is not None:
                scope["client"] = (peer.decode(), 40000)
        await self.app(scope, receive, send)


@asynccontextmanager
async def peer_client(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = rate_limited_app(settings)
    app.asgi_handler = _Peer(app.asgi_handler)
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        yield client


async def sign_in(
    client: AsyncTestClient[Litestar], email: str, password: str, peer: str, **headers: str
) -> int:
    response = await client.post(
        "/v1/auth/login",
        json={"email": email, "password": password},
        headers={"x-test-peer": peer, **headers},
    )
    assert response.status_code in (200, 401, 429), response.text
    return response.status_code


async def test_an_attacker_failing_100_times_does_not_lock_the_victim_out(
    database_url: str, redis_url: str, db: asyncpg.Pool
) -> None:
    """The issue's test: 100 wrong passwords on the victim from another address, while the
    victim signs in from theirs (never used before: no history needed for this)."""
    settings = make_settings(database_url, redis_url, write_rate_limit_per_minute="100000")
    victim = await create_user(db, settings)
    async with peer_client(settings) as client:
        attacker = []
        for n in range(100):
            attacker.append(await sign_in(client, victim.email, f"guess-{n:04d}!!", "203.0.113.9"))
            if n % 10 == 0:
                assert await sign_in(client, victim.email, PASSWORD, "198.51.100.7") == 200
        assert await sign_in(client, victim.email, PASSWORD, "198.51.100.7") == 200
    # The attacker got five real tries, then only 429s (which are not even checked).
    assert attacker[:5] == [401] * 5
    assert set(attacker[5:]) == {429}


async def test_guessing_spread_over_many_addresses_never_blocks_the_owners_usual_address(
    database_url: str, redis_url: str, db: asyncpg.Pool
) -> None:
    """Past the account's ceiling (guesses from 60 addresses, 2 each, so no per-address lock
    engages), only addresses that signed in to the account before may try: the owner's usual
    address keeps working; a never-seen address is refused even with the right password."""
    settings = make_settings(
        database_url,
        redis_url,
        write_rate_limit_per_minute="100000",
        login_account_max_failures="50",
    )
    victim = await create_user(db, settings)
    async with peer_client(settings) as client:
        assert await sign_in(client, victim.email, PASSWORD, "198.51.100.7") == 200  # history
        attacker = []
        for n in range(120):
            peer = f"203.0.113.{n // 2}"
            attacker.append(await sign_in(client, victim.email, f"guess-{n:04d}!!", peer))
            if n % 15 == 0:
                assert await sign_in(client, victim.email, PASSWORD, "198.51.100.7") == 200
        assert attacker[:50] == [401] * 50
        assert set(attacker[50:]) == {429}
        assert await sign_in(client, victim.email, PASSWORD, "198.51.100.7") == 200
        # The documented trade-off while the account is under attack:
        assert await sign_in(client, victim.email, PASSWORD, "192.0.2.55") == 429


async def test_a_forged_x_forwarded_for_does_not_change_the_throttle_key(
    database_url: str, redis_url: str, db: asyncpg.Pool
) -> None:
    """From a peer that is not a configured proxy, X-Forwarded-For is ignored: an attacker
    cannot escape their lockout, nor spend the victim's address's tries."""
    settings = make_settings(database_url, redis_url, write_rate_limit_per_minute="100000")
    victim = await create_user(db, settings)
    async with peer_client(settings) as client:
        statuses = [
            await sign_in(
                client,
                victim.email,
                "wrong password!",
                "203.0.113.9",
                **{"x-forwarded-for": f"198.51.100.{n}"},
            )
            for n in range(8)
        ]
        assert statuses == [401] * 5 + [429] * 3
        assert await sign_in(client, victim.email, PASSWORD, "198.51.100.1") == 200


async def test_a_trusted_proxy_passes_the_client_address_through(
    database_url: str, redis_url: str, db: asyncpg.Pool
) -> None:
    settings = make_settings(
        database_url,
        redis_url,
        write_rate_limit_per_minute="100000",
        trusted_proxies="10.0.0.0/8",
    )
    victim = await create_user(db, settings)
    async with peer_client(settings) as client:
        # Through the proxy, the attacker (203.0.113.9) is locked out...
        for expected in [401] * 5 + [429]:
            assert (
                await sign_in(
                    client,
                    victim.email,
                    "wrong password!",
                    "10.1.2.3",
                    **{"x-forwarded-for": "203.0.113.9"},
                )
                == expected
            )
        # ...and the victim behind the same proxy is not, even if the attacker prepends
        # the victim's address (only the hop the proxy appended is believed).
        assert (
            await sign_in(
                client,
                victim.email,
                PASSWORD,
                "10.1.2.3",
                **{"x-forwarded-for": "198.51.100.7"},
            )
            == 200
        )
        assert (
            await sign_in(
                client,
                victim.email,
                "wrong password!",
                "10.1.2.3",
                **{"x-forwarded-for": "198.51.100.7, 203.0.113.9"},
            )
            == 429
        )
