"""``python -m bench booking_sql``: ``book()`` alone, without HTTP, against a bare INSERT.

The database's side of the booking benchmark: N connections call ``book()`` (distinct,
non-conflicting bookings) and, in the same run, the bare INSERT the baseline endpoint does; prints
bookings per second, Postgres CPU milliseconds per booking for each, and, when the server loads
``pg_stat_statements`` with ``track = all``, the statements inside ``book()`` that cost most.

Options: ``--bookings=4000`` per side, ``--connections=16``, ``--rounds=2`` (alternating).
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.booking import _option, _seed
from bench.common import bench_database
from bench.cpu import CpuMeter, postgres_pids
from booking.reservations.queries import book

__all__ = ("run",)

_BARE = (
    "INSERT INTO bench_bookings (room_id, during) VALUES ($1, tstzrange($2, $3, '[)')) RETURNING id"
)


async def _drive(
    pool: asyncpg.Pool, work: list[tuple[uuid.UUID, uuid.UUID, datetime]], bare: bool
) -> float:
    queue = iter(work)

    async def one_connection() -> None:
        async with pool.acquire() as conn:
            for citizen, room, start in queue:
                end = start + timedelta(hours=1)
                if bare:
                    await conn.fetchval(_BARE, room, start, end)
                else:
                    await book(
                        conn, citizen_id=citizen, room_id=room, start=start, end=end,
                        purpose="bench", purpose_public=False, attendees=2,
                        idempotency_key=None, request_hash=None,
                    )  # fmt: skip

    t0 = time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(pool.get_max_size())))
    return time.perf_counter() - t0


async def run(args: list[str]) -> None:
    n = int(_option(args, "bookings", "4000"))
    connections = int(_option(args, "connections", "16"))
    rounds = int(_option(args, "rounds", "2"))
    async with bench_database("booking_sql") as url:
        rooms, _, _ = await _seed(url, secrets.token_urlsafe(48))
        citizens = [
            r["id"] for r in await (await asyncpg.connect(url)).fetch("SELECT id FROM users")
        ]
        meter_pids = await postgres_pids(url)
        pool = await asyncpg.create_pool(url, min_size=connections, max_size=connections)
        assert pool is not None
        has_pgss = await pool.fetchval(
            "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"
        ) or await _try_pgss(pool)
        base = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        offset = 0
        print(f"book() vs bare INSERT: {n} bookings per side per round, {connections} connections")
        for r in range(rounds):
            for bare in (True, False):
                work = [
                    (citizens[i % len(citizens)], rooms[i % len(rooms)],
                     base + timedelta(hours=offset + i // len(rooms)))
                    for i in range(n)
                ]  # fmt: skip
                offset += n // len(rooms) + 1
                if has_pgss and not bare and r == rounds - 1:
                    await pool.execute("SELECT pg_stat_statements_reset()")
                meter = CpuMeter({"Postgres": meter_pids})
                meter.start()
                seconds = await _drive(pool, work, bare)
                meter.stop()
                label = "bare INSERT" if bare else "book()     "
                print(
                    f"round {r + 1} {label}: {n / seconds:7.0f} per second; "
                    + meter.per_request(n),
                    flush=True,
                )
        if has_pgss:
            await _top_statements(pool, n)
        await pool.close()


async def _try_pgss(pool: asyncpg.Pool) -> bool:
    try:
        await pool.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await pool.fetchval("SELECT count(*) FROM pg_stat_statements")
    except asyncpg.PostgresError:
        return False
    return True


async def _top_statements(pool: asyncpg.Pool, n: int) -> None:
    rows = await pool.fetch(
        """
        SELECT calls, total_exec_time, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS q
        FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY total_exec_time DESC LIMIT 25
        """
    )
    print("pg_stat_statements, last book() round (ms per booking, nested statements included):")
    for row in rows:
        print(f"  {row['total_exec_time'] / n:6.3f} ms  {row['calls']:6d}×  {row['q']}")
