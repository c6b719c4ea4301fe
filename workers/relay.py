"""The outbox relay: committed outbox rows -> arq jobs, at least once, never lost.

Each pass claims undispatched rows (``FOR UPDATE SKIP LOCKED``, ``claimed_at`` set and
committed), enqueues one arq job per row with ``_job_id=f"outbox:{id}"`` (arq refuses a second
job with the same id, so a re-enqueue is harmless), then marks the rows dispatched. When the
enqueue fails (Redis down) the claims are given back at once; when the relay dies between
claim and dispatch, the periodic sweep gives them back after ``STALE_CLAIM_SECONDS``.
The relay polls every ``POLL_SECONDS`` and also wakes on ``NOTIFY outbox`` (no trigger sends
it since sql/0051: a NOTIFY per booking serialised every booking commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from arq.connections import ArqRedis
from redis.exceptions import RedisError

from booking.db import connect
from booking.notifications import queries

__all__ = (
    "BATCH_SIZE",
    "OUTBOX_JOB",
    "POLL_SECONDS",
    "STALE_CLAIM_SECONDS",
    "Relay",
    "outbox_job_id",
    "sweep_stale_claims",
)

log = logging.getLogger("workers.relay")

OUTBOX_JOB = "handle_outbox_event"
BATCH_SIZE = 200
POLL_SECONDS = 0.2
STALE_CLAIM_SECONDS = 30.0
_ERROR_BACKOFF_SECONDS = 1.0


def outbox_job_id(outbox_id: int) -> str:
    return f"outbox:{outbox_id}"


async def sweep_stale_claims(pool: asyncpg.Pool, older_than: float = STALE_CLAIM_SECONDS) -> int:
    async with pool.acquire() as conn:
        released = await queries.release_stale_claims(conn, older_than)
    if released:
        log.warning("released %d outbox rows claimed but never dispatched", released)
    return released


class Relay:
    """Moves outbox rows into arq; ``run_forever`` is started by the worker's on_startup."""

    def __init__(self, pool: asyncpg.Pool, redis: ArqRedis, database_url: str) -> None:
        self.pool = pool
        self.redis = redis
        self.database_url = database_url
        self.wake = asyncio.Event()
        self.stopping = asyncio.Event()

    async def run_once(self) -> int:
        """One pass; returns how many rows were dispatched."""
        async with self.pool.acquire() as conn:
            rows = await queries.claim_outbox(conn, BATCH_SIZE)
        if not rows:
            return 0
        ids = [int(r["id"]) for r in rows]
        results = await asyncio.gather(
            *(self.redis.enqueue_job(OUTBOX_JOB, i, _job_id=outbox_job_id(i)) for i in ids),
            return_exceptions=True,
        )
        done = [i for i, r in zip(ids, results, strict=True) if not isinstance(r, BaseException)]
        failed = [i for i, r in zip(ids, results, strict=True) if isinstance(r, BaseException)]
        async with self.pool.acquire() as conn:
            if done:
                await queries.mark_dispatched(conn, done)
            if failed:
                await queries.release_claims(conn, failed)
        if failed:
            error = next(r for r in results if isinstance(r, BaseException))
            raise ConnectionError(f"could not enqueue {len(failed)} outbox rows: {error}")
        return len(done)

    async def _listen(self) -> asyncpg.Connection | None:
        try:
            conn = await connect(self.database_url)
            await conn.add_listener("outbox", self._notified)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("LISTEN outbox unavailable, polling only: %s", exc)
            return None
        return conn

    def _notified(self, *_: Any) -> None:
        self.wake.set()

    async def run_forever(self) -> None:
        listener = await self._listen()
        try:
            while not self.stopping.is_set():
                self.wake.clear()
                try:
                    moved = await self.run_once()
                except (
                    OSError,
                    ConnectionError,
                    RedisError,
                    asyncpg.PostgresError,
                    asyncpg.InterfaceError,
                ) as exc:
                    log.warning("outbox relay pass failed, retrying: %s", exc)
                    await self._pause(_ERROR_BACKOFF_SECONDS)
                    continue
                if moved < BATCH_SIZE:
                    await self._pause(POLL_SECONDS)
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.close(timeout=2)

    async def _pause(self, seconds: float) -> None:
        stop = asyncio.ensure_future(self.stopping.wait())
        wake = asyncio.ensure_future(self.wake.wait())
        try:
            await asyncio.wait({stop, wake}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            wake.cancel()

    def stop(self) -> None:
        self.stopping.set()
