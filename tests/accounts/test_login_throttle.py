"""Failed sign-ins are throttled per account and per client address, in Redis."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from booking.accounts.ratelimit import LoginThrottle, TooManyRequests
from booking.settings import Settings
from tests.accounts.conftest import client_for
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
    settings = make_settings(database_url, redis_url, login_max_failures="3")
    victim = await create_user(db, settings)
    async with client_for(settings) as client:
        for n in range(3):
            assert await attempt(client, f"guess{n}@example.org", "wrong password!") == 401
        assert await attempt(client, victim.email, PASSWORD) == 429


async def test_an_account_is_throttled_across_addresses_and_success_clears_it(
    redis_url: str, settings: Settings
) -> None:
    redis = Redis.from_url(redis_url)
    throttle = LoginThrottle(redis, settings)
    try:
        for n in range(settings.login_max_failures):
            await throttle.check("jimin@example.org", f"10.0.0.{n}")
            await throttle.record_failure("jimin@example.org", f"10.0.0.{n}")

        with pytest.raises(TooManyRequests) as refused:
            await throttle.check("jimin@example.org", "10.9.9.9")
        retry_after = int(refused.value.headers["Retry-After"])
        assert 1 <= retry_after <= settings.login_failure_window_seconds
        await throttle.check("someone.else@example.org", "10.9.9.9")  # others are unaffected

        await throttle.record_success("jimin@example.org", "10.9.9.9")
        await throttle.check("jimin@example.org", "10.9.9.9")
    finally:
        await redis.aclose()
