"""One way to get a database in tests: a template built by the real migrations, cloned per test.

- ``database_url``: a fresh database cloned from the migrated template (fast, fully isolated).
- ``db``: an asyncpg pool on it, for factories and audit queries.
- ``settings`` / ``app`` / ``client``: the real app on that database, via AsyncTestClient.
- ``live_server``: the same app served by uvicorn on a real loopback port, for tests that need
  many real HTTP connections at once (see ``tests.concurrency``).
- ``redis_url``: the configured Redis (``BOOKING_REDIS_URL``), flushed before each test.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from booking.app import create_app
from booking.db import connect
from booking.holidays_sync import sync_public_holidays
from booking.migrations import apply_migrations
from booking.settings import Settings, load_settings
from tests.factories import Cast, create_cast
from tests.postgres_server import PrivatePostgres
from tests.redis_server import PrivateRedis

SERVER_URL = os.environ.get("BOOKING_DATABASE_URL", "postgresql://nanum@127.0.0.1:55432/nanum")
REDIS_URL = os.environ.get("BOOKING_REDIS_URL", "redis://127.0.0.1:56379/0")


def database_url_for(name: str) -> str:
    base, _, _ = SERVER_URL.rpartition("/")
    return f"{base}/{name}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(SERVER_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _build_template(name: str) -> None:
    await _admin(f'CREATE DATABASE "{name}"')
    conn = await connect(database_url_for(name))
    try:
        await apply_migrations(conn)
        await sync_public_holidays(conn)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template_database() -> Iterator[str]:
    name = f"nanum_tpl_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_build_template(name))
    yield name
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def database_url(template_database: str) -> AsyncIterator[str]:
    name = f"nanum_t_{secrets.token_hex(6)}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield database_url_for(name)
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=10)
    assert pool is not None
    yield pool
    await pool.close()


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    client = Redis.from_url(REDIS_URL)
    await client.flushdb()
    await client.aclose()
    yield REDIS_URL


def make_settings(database_url: str, redis_url: str, **overrides: str) -> Settings:
    env = {
        "BOOKING_ENV": "test",
        "BOOKING_DATABASE_URL": database_url,
        "BOOKING_REDIS_URL": redis_url,
        "BOOKING_ACCESS_LOG": "false",
        "BOOKING_LOG_LEVEL": "WARNING",
        # Tests make many writes per user; the rate-limit tests set their own low limits.
        "BOOKING_WRITE_RATE_LIMIT_PER_MINUTE": "1000000",
    }
    env.update({f"BOOKING_{k.upper()}": v for k, v in overrides.items()})
    return load_settings(env)


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Settings:
    return make_settings(database_url, redis_url)


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as test_client:
        yield test_client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def serve(app: Litestar) -> AsyncIterator[str]:
    """``app`` behind uvicorn on a free loopback port, in the running event loop; yields its URL."""
    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        backlog=2048,
        limit_concurrency=None,
        # Longer than httpx's keep-alive expiry (5 s, as uvicorn's default): with equal timers a
        # client may reuse a connection the loaded server is just closing (httpx.ReadError).
        timeout_keep_alive=75,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not server.started:
        if task.done():
            task.result()
        assert loop.time() < deadline, "server did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def live_server(app: Litestar) -> AsyncIterator[str]:
    """The app behind uvicorn on a loopback port, in this test's event loop."""
    async with serve(app) as url:
        yield url


@pytest.fixture
async def cast(db: asyncpg.Pool, settings: Settings) -> Cast:
    """Anonymous, citizens A and B, managers of institutions X and Y, an admin; a room each."""
    return await create_cast(db, settings)


@pytest.fixture
async def private_redis() -> AsyncIterator[PrivateRedis]:
    """A redis-server of this test alone, so the test can stop and restart it."""
    server = PrivateRedis()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    """A PostgreSQL server of this test alone (migrated), so the test can stop and restart it."""
    server = PrivatePostgres()
    try:
        await server.init()
        yield server
    finally:
        await server.remove()
