"""What every benchmark needs: a throw-away migrated database, the real app served on a loopback
port, and percentile figures."""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg
import uvicorn

from booking.app import create_app
from booking.db import connect
from booking.holidays_sync import sync_public_holidays
from booking.migrations import apply_migrations
from booking.settings import Settings, load_settings

__all__ = (
    "SERVER_URL",
    "app_settings",
    "bench_database",
    "option",
    "percentiles",
    "report_latencies",
    "served_app",
)

SERVER_URL = os.environ.get("BOOKING_DATABASE_URL", "postgresql://nanum@127.0.0.1:55432/nanum")


def _url_for(name: str) -> str:
    base, _, _ = SERVER_URL.rpartition("/")
    return f"{base}/{name}"


@asynccontextmanager
async def bench_database(label: str) -> AsyncIterator[str]:
    """A fresh database built by the real migrations, dropped afterwards; yields its URL."""
    name = f"nanum_bench_{label}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(SERVER_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _url_for(name)
    conn = await connect(url)
    try:
        await apply_migrations(conn)
        await sync_public_holidays(conn)
    finally:
        await conn.close()
    try:
        yield url
    finally:
        admin = await asyncpg.connect(SERVER_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def app_settings(url: str) -> Settings:
    """The app's settings for a benchmark database: test clock, quiet logs."""
    return load_settings(
        {
            "BOOKING_ENV": "test",
            "BOOKING_DATABASE_URL": url,
            "BOOKING_REDIS_URL": load_settings().redis_url,
            "BOOKING_ACCESS_LOG": "false",
            "BOOKING_LOG_LEVEL": "WARNING",
        }
    )


@asynccontextmanager
async def served_app(settings: Settings) -> AsyncIterator[str]:
    """The real app served by uvicorn on a loopback port in this process; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
        )
    )
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        if task.done():
            task.result()
        assert time.monotonic() < deadline, "server did not start"
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 of latencies in milliseconds."""
    if len(samples_ms) < 2:
        only = samples_ms[0] if samples_ms else float("nan")
        return {"p50": only, "p95": only, "p99": only}
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}


def report_latencies(
    label: str, samples_ms: Sequence[float], target_p95_ms: float | None = None
) -> None:
    p = percentiles(samples_ms)
    target = (
        f"  (target p95 <= {target_p95_ms:g} ms: {'met' if p['p95'] <= target_p95_ms else 'MISSED'})"
        if target_p95_ms is not None
        else ""
    )
    print(
        f"{label}: n={len(samples_ms)} p50={p['p50']:.2f} ms p95={p['p95']:.2f} ms p99={p['p99']:.2f} ms{target}",
        flush=True,
    )


def option(args: list[str], name: str, default: str) -> str:
    """The value of ``--name=value`` among a benchmark's arguments, else ``default``."""
    for a in args:
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
    return default
