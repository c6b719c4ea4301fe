"""A Postgres or Redis outage is told as an outage: 503 problem+json with Retry-After, logged
once per outage; 500 stays for bugs. Recovery needs no restart."""

from __future__ import annotations

import json
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis.exceptions
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from booking.app import create_app
from booking.errors import exception_handlers
from tests.accounts.helpers import captured_logs
from tests.conftest import make_settings
from tests.hardening.proxy import TcpProxy


def _via(url: str, port: int) -> str:
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


def _outage_lines(lines: list[str]) -> list[dict[str, object]]:
    parsed = [json.loads(line) for line in lines]
    return [p for p in parsed if p.get("message") == "dependency unavailable"]


async def test_a_postgres_outage_answers_503_with_retry_after_and_is_logged_once(
    database_url: str, redis_url: str
) -> None:
    upstream = urlsplit(database_url)
    proxy = TcpProxy(upstream.hostname or "127.0.0.1", upstream.port or 5432)
    await proxy.start()
    app = create_app(
        make_settings(_via(database_url, proxy.port), redis_url, db_pool_min="1", db_pool_max="4")
    )
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        assert (await client.get("/v1/institutions")).status_code == 200
        await proxy.cut()
        with captured_logs() as lines:
            answers = [await client.get("/v1/institutions") for _ in range(5)]
            answers.append(await client.get("/v1/rooms", params={"q": "회의실"}))
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] == "5"
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert answer.json()["type"].endswith("/service-unavailable")
        assert len(_outage_lines(lines)) == 1, lines
        assert not [line for line in lines if "unhandled error" in line]
        # Back without restarting the app.
        await proxy.start()
        assert (await client.get("/v1/institutions")).status_code == 200
    await proxy.close()


@pytest.mark.parametrize(
    "error",
    [
        redis.exceptions.ConnectionError("Connection refused"),
        redis.exceptions.TimeoutError("Timeout reading from socket"),
        ConnectionRefusedError(111, "Connect call failed"),
        TimeoutError(),
        asyncpg.exceptions.ConnectionDoesNotExistError(
            "connection was closed in the middle of operation"
        ),
        asyncpg.InterfaceError("cannot call Connection.fetch(): connection is closed"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_dependency_errors_where_redis_or_postgres_is_required_are_503(
    error: Exception,
) -> None:
    """The mapping itself, for code paths that need Redis (nothing in the API does yet: its
    rate limits fail open) and for pool acquire timeouts and refused connects."""

    @get("/needs-it")
    async def needs_it() -> None:
        raise error

    app = Litestar([needs_it], exception_handlers=exception_handlers)
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        answer = await client.get("/needs-it")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"


async def test_a_real_bug_is_still_a_500() -> None:
    @get("/bug")
    async def bug() -> None:
        raise FileNotFoundError("templates/missing.html")

    app = Litestar([bug], exception_handlers=exception_handlers)
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        answer = await client.get("/bug")
    assert answer.status_code == 500
