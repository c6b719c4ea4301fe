"""The per-user write rate limit: Redis-backed, one window per user or address, fails open."""

from __future__ import annotations

import logging
import socket

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from tests.accounts.conftest import client_for
from tests.accounts.helpers import captured_logs
from tests.conftest import make_settings
from tests.factories import create_cast

PASSWORD = "correct horse battery staple"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: nothing listens there


async def register(client: AsyncTestClient[Litestar], n: int) -> int:
    response = await client.post(
        "/v1/auth/register",
        json={"email": f"writer{n}@example.org", "password": PASSWORD, "name": "작성자"},
    )
    return response.status_code


async def test_write_rate_limit_engages_per_user(
    database_url: str, redis_url: str, db: asyncpg.Pool
) -> None:
    settings = make_settings(database_url, redis_url, write_rate_limit_per_minute="3")
    cast = await create_cast(db, settings)
    path = f"/v1/institutions/{cast.institution_x}/managers"
    body = {"user_id": str(cast.citizen_b.id)}
    async with client_for(settings) as client:
        statuses = [
            (await client.post(path, json=body, headers=cast.headers("citizen_a"))).status_code
            for _ in range(4)
        ]
        assert statuses == [403, 403, 403, 429]

        limited = await client.post(path, json=body, headers=cast.headers("citizen_a"))
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.headers["content-type"].startswith("application/problem+json")
        assert limited.json()["type"].endswith("/too-many-requests")

        # Reads are not limited, and other users have their own budget.
        assert (await client.get("/v1/me", headers=cast.headers("citizen_a"))).status_code == 200
        other = await client.post(path, json=body, headers=cast.headers("citizen_b"))
        assert other.status_code == 403


async def test_anonymous_writes_are_limited_per_address(database_url: str, redis_url: str) -> None:
    settings = make_settings(database_url, redis_url, write_rate_limit_per_minute="3")
    async with client_for(settings) as client:
        statuses = [await register(client, n) for n in range(4)]

    assert statuses == [202, 202, 202, 429]


async def test_login_is_exempt_from_the_write_limit(
    database_url: str, redis_url: str, db: asyncpg.Pool
) -> None:
    settings = make_settings(database_url, redis_url, write_rate_limit_per_minute="2")
    cast = await create_cast(db, settings)
    async with client_for(settings) as client:
        statuses = [
            (
                await client.post(
                    "/v1/auth/login",
                    json={"email": cast.citizen_a.email, "password": cast.citizen_a.password},
                )
            ).status_code
            for _ in range(4)
        ]

    assert statuses == [200] * 4


async def test_the_limit_is_shared_through_redis_by_separate_app_processes(
    database_url: str, redis_url: str
) -> None:
    settings = make_settings(database_url, redis_url, write_rate_limit_per_minute="3")
    async with client_for(settings) as first, client_for(settings) as second:
        statuses = [
            await register(first, 0),
            await register(second, 1),
            await register(first, 2),
            await register(second, 3),
        ]

    assert statuses == [202, 202, 202, 429]


async def test_the_limit_uses_one_redis_key_per_subject_with_a_ttl(
    database_url: str, redis_url: str
) -> None:
    settings = make_settings(database_url, redis_url)
    async with client_for(settings) as client:
        assert await register(client, 0) == 202
    redis = Redis.from_url(redis_url)
    try:
        keys = [k async for k in redis.scan_iter("nanum:rl:write:*")]
        assert len(keys) == 1
        assert 0 < await redis.ttl(keys[0]) <= 60
    finally:
        await redis.aclose()


async def test_writes_and_logins_still_work_when_redis_is_down(
    database_url: str, db: asyncpg.Pool
) -> None:
    settings = make_settings(
        database_url,
        f"redis://127.0.0.1:{closed_port()}/0",
        write_rate_limit_per_minute="1",
        login_max_failures="1",
    )
    async with client_for(settings) as client:
        with captured_logs(logging.WARNING) as lines:
            statuses = [await register(client, n) for n in range(3)]
            wrong = [
                (
                    await client.post(
                        "/v1/auth/login",
                        json={"email": "writer0@example.org", "password": "wrong password"},
                    )
                ).status_code
                for _ in range(2)
            ]
            right = await client.post(
                "/v1/auth/login", json={"email": "writer0@example.org", "password": PASSWORD}
            )

    assert statuses == [202, 202, 202]
    assert wrong == [401, 401]
    assert right.status_code == 200
    assert any("rate limit unavailable" in line for line in lines)
    assert any("login throttle unavailable" in line for line in lines)
