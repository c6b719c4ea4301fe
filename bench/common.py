"""What every benchmark needs: a throw-away migrated database and percentile figures."""

from __future__ import annotations

import os
import secrets
import statistics
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import asyncpg

from booking.db import connect
from booking.holidays_sync import sync_public_holidays
from booking.migrations import apply_migrations

__all__ = ("SERVER_URL", "bench_database", "percentiles", "report_latencies")

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
