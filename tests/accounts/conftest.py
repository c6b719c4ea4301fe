"""Fixtures of the accounts tests: the real app with the write rate limit applied."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp
from redis.asyncio import Redis

from booking.accounts.ratelimit import WriteRateLimitMiddleware, wrap_rate_limit
from booking.app import create_app
from booking.settings import Settings


def _has_rate_limit(handler: ASGIApp | None) -> bool:
    while handler is not None:
        if isinstance(handler, WriteRateLimitMiddleware):
            return True
        handler = getattr(handler, "app", None)
    return False


def rate_limited_app(settings: Settings) -> Litestar:
    """The real app with the write rate limit (applied here unless ``create_app`` already
    does, so this keeps working once the app wires it in)."""
    app = create_app(settings)
    if not _has_rate_limit(app.asgi_handler):

        def redis_getter() -> Redis | None:
            redis: Redis | None = app.state.get("redis")
            return redis

        app.asgi_handler = wrap_rate_limit(app.asgi_handler, settings, redis_getter)
    return app


@asynccontextmanager
async def client_for(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A test client of the rate-limited app built with these settings."""
    async with AsyncTestClient(
        app=rate_limited_app(settings), raise_server_exceptions=False
    ) as test_client:
        yield test_client


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return rate_limited_app(settings)
