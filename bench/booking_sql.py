"""``python -m bench booking_sql``: where the database's time per booking goes, without HTTP.

N connections write distinct, non-conflicting bookings four ways, in alternating rounds of one
run: the baseline endpoint's bare INSERT (a table with only the exclusion constraint), one
``bookings`` row (its indexes, foreign keys, checks and triggers), that row with its history and
outbox rows, and ``book()`` (every rule as well). Prints bookings per second and Postgres CPU
milliseconds per booking for each: the steps between them are what each part costs. When the
server loads ``pg_stat_statements`` with ``track = all``, the statements inside ``book()`` that
cost most are listed too.

Options: ``--bookings=3000`` per variant and round, ``--connections=16``, ``--rounds=2``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.booking import seed
from bench.common import bench_database, option
from bench.cpu import CpuMeter, postgres_pids

__all__ = ("run",)

_ROW = """
    INSERT INTO bookings (room_id, citizen_id, during, status, purpose, purpose_public, attendees)
    VALUES ($2, $1, tstzrange($3, $4, '[)'), 'confirmed', 'bench', false, 2)
"""
VARIANTS = {
    "bare INSERT (baseline)": (
        "INSERT INTO bench_bookings (room_id, during) "
        "VALUES ($2, tstzrange($3, $4, '[)')) RETURNING $1::uuid"
    ),
    "bookings row": _ROW + " RETURNING id",
    "row + history + outbox": f"""
        WITH nb AS ({_ROW} RETURNING *),
        h AS (INSERT INTO booking_history (booking_id, actor_id, from_status, to_status, during,
                                           reason, at)
              SELECT nb.id, $1, NULL, nb.status, nb.during, '', now() FROM nb),
        o AS (INSERT INTO outbox (topic, booking_id, created_at)
              SELECT 'booking.created', nb.id, now() FROM nb)
        SELECT id FROM nb
    """,
    "book() (every rule)": "SELECT * FROM book($1, $2, $3, $4, 'bench', false, 2, NULL, NULL)",
}


async def _drive(
    pool: asyncpg.Pool,
    sql: str,
    work: Iterator[tuple[uuid.UUID, uuid.UUID, datetime]],
    connections: int,
) -> float:
    async def one_connection() -> None:
        async with pool.acquire() as conn:
            for citizen, room, start in work:
                await conn.fetchrow(sql, citizen, room, start, start + timedelta(hours=1))

    t0 = time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return time.perf_counter() - t0


async def run(args: list[str]) -> None:
    n = int(option(args, "bookings", "3000"))
    connections = int(option(args, "connections", "16"))
    rounds = int(option(args, "rounds", "2"))
    async with bench_database("booking_sql") as url:
        rooms, _, _ = await seed(url, secrets.token_urlsafe(48))
        pool = await asyncpg.create_pool(url, min_size=connections, max_size=connections)
        assert pool is not None
        citizens = [r["id"] for r in await pool.fetch("SELECT id FROM users")]
        meter = CpuMeter({"Postgres": await postgres_pids(url)})
        has_pgss = await _try_pgss(pool)
        base = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
        offset = 0
        print(
            f"{n} distinct bookings per variant and round, {connections} connections, "
            "no HTTP; Postgres CPU ms per booking = CPU time of all its processes / bookings"
        )
        for r in range(rounds):
            for label, sql in VARIANTS.items():
                work = iter(
                    [
                        (citizens[i % len(citizens)], rooms[i % len(rooms)],
                         base + timedelta(hours=offset + i // len(rooms)))
                        for i in range(n)
                    ]
                )  # fmt: skip
                offset += n // len(rooms) + 1
                last_book = label.startswith("book()") and r == rounds - 1
                if has_pgss and last_book:
                    await pool.execute("SELECT pg_stat_statements_reset()")
                meter.start()
                seconds = await _drive(pool, sql, work, connections)
                meter.stop()
                assert meter.used is not None
                print(
                    f"round {r + 1} {label:24s} {n / seconds:6.0f} per second; "
                    f"Postgres CPU {1000 * meter.used['Postgres'] / n:.3f} ms per booking",
                    flush=True,
                )
        if has_pgss:
            await _top_statements(pool, n)
        await pool.close()


async def _try_pgss(pool: asyncpg.Pool) -> bool:
    """Whether pg_stat_statements is loaded by the server (only then can it be created)."""
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
        print(f"  {row['total_exec_time'] / n:6.3f} ms  {row['calls']:6d}x  {row['q']}")
