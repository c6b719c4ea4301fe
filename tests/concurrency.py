"""Real concurrency for tests: many HTTP connections (or DB connections) at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import httpx

__all__ = ("concurrent_client", "run_at_once")

T = TypeVar("T")


def concurrent_client(base_url: str, connections: int) -> httpx.AsyncClient:
    """An HTTP client that opens up to ``connections`` sockets, one per in-flight request."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60.0)


async def run_at_once(calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Start every call together, released by one barrier so they really overlap."""
    gate = asyncio.Event()

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        await gate.wait()
        return await call()

    tasks = [asyncio.create_task(one(c)) for c in calls]
    await asyncio.sleep(0)
    gate.set()
    return await asyncio.gather(*tasks)
