"""Connection pool, start-up checks and the one place that knows how to open a connection."""

from __future__ import annotations

from typing import Union

import asyncpg

from booking.migrations import MigrationError, pending_migrations
from booking.settings import Settings

__all__ = ("Conn", "connect", "create_pool", "ensure_migrated")

Conn = Union[
    "asyncpg.Connection[asyncpg.Record]", "asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
]
"""A connection, whether opened directly or acquired from the pool; query functions take one."""


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Every session computes in UTC; local time only ever comes from an institution's timezone.
    await conn.execute("SET TIME ZONE 'UTC'")


async def _reset_connection(conn: asyncpg.Connection) -> None:
    """What a connection needs before the pool hands it out again: nothing more than asyncpg
    always does itself (roll back an open transaction, drop listener callbacks).

    The default reset is one more round trip per request (``pg_advisory_unlock_all(); CLOSE ALL;
    UNLISTEN *; RESET ALL``), and its RESET ALL undid the UTC time zone set by
    :func:`_init_connection`. Code on pooled connections keeps no session state: settings and
    advisory locks are transaction-scoped (``set_config(..., true)``, ``pg_advisory_xact_lock``),
    and LISTEN and session locks use connections of their own (:func:`connect`)."""


async def create_pool(settings: Settings) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        command_timeout=settings.db_command_timeout,
        init=_init_connection,
        reset=_reset_connection,
    )
    assert pool is not None
    return pool


async def connect(database_url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(database_url)
    await _init_connection(conn)
    return conn


async def ensure_migrated(pool: asyncpg.Pool) -> None:
    """Refuse to serve a database whose schema is behind the code, naming what is missing."""
    async with pool.acquire() as conn:
        pending = await pending_migrations(conn)
    if pending:
        raise MigrationError(
            f"database has pending migrations: {', '.join(pending)}; run `python -m booking migrate`"
        )
