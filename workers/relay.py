"""The outbox relay: committed outbox rows -> arq jobs, at least once, never lost.

Each pass claims undispatched rows (``FOR UPDATE SKIP LOCKED``, ``claimed_at`` set and
committed), enqueues one arq job per row with ``_job_id=f"outbox:{id}"`` (arq refuses a second
job with the same id, so a re-enqueue is harmless), then marks the rows dispatched. When the
enqueue fails (Redis down) the claims are given back at once; when the relay dies between
claim and dispatch, the periodic sweep gives them back after ``STALE_CLAIM_SECONDS``.
A job marks its row ``processed_at`` when done; a row dispatched more than
``REDISPATCH_AFTER_SECONDS`` ago and never processed (its job was lost inside Redis: a restart
without persistence, a flush) is given back to the relay by the same sweep and enqueued again
under the same job id, so its delivery keys are the same and nothing already sent goes twice.
The relay polls every ``POLL_SECONDS`` (no ``LISTEN``: since sql/0051 nothing sends
``NOTIFY outbox``, because a NOTIFY per booking serialised every booking commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from arq.connections import ArqRedis
from redis.exceptions import RedisError

from booking.jobs import service as outbox

__all__ = (
    "BATCH_SIZE",
    "OUTBOX_JOB",
    "POLL_SECONDS",
    "REDISPATCH_AFTER_SECONDS",
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
REDISPATCH_AFTER_SECONDS = 120.0
"""Longer than a job's whole life with its retries (5 tries, 5+10+15+20 s apart, 8 s each); a
row whose job is still queued, running or finished in Redis is re-enqueued as a no-op anyway."""
_ERROR_BACKOFF_SECONDS = 1.0


def outbox_job_id(outbox_id: int) -> str:
    return f"outbox:{outbox_id}"


async def sweep_stale_claims(
    pool: asyncpg.Pool,
    older_than: float = STALE_CLAIM_SECONDS,
    redispatch_after: float = REDISPATCH_AFTER_SECONDS,
) -> int:
    """Give back claims never dispatched, and rows dispatched but never processed; how many."""
    released = await outbox.release_stale_claims(pool, older_than)
    if released:
        log.warning("released %d outbox rows claimed but never dispatched", released)
    lost = await outbox.redispatch_unprocessed(pool, redispatch_after)
    if lost:
        log.warning("dispatching again %d outbox rows dispatched but never processed", lost)
    return released + lost


class Relay:
    """Moves outbox rows into arq; ``run_forever`` is started by the worker's on_startup."""

    def __init__(self, pool: asyncpg.Pool, redis: ArqRedis) -> None:
        self.pool = pool
        self.redis = redis
        self.stopping = asyncio.Event()

    async def run_once(self) -> int:
        """One pass; returns how many rows were dispatched."""
        ids = await outbox.claim_outbox(self.pool, BATCH_SIZE)
        if not ids:
            return 0
        results = await asyncio.gather(
            *(self.redis.enqueue_job(OUTBOX_JOB, i, _job_id=outbox_job_id(i)) for i in ids),
            return_exceptions=True,
        )
        done = [i for i, r in zip(ids, results, strict=True) if not isinstance(r, BaseException)]
        failed = [i for i, r in zip(ids, results, strict=True) if isinstance(r, BaseException)]
        await outbox.settle_outbox(self.pool, done, failed)
        if failed:
            error = next(r for r in results if isinstance(r, BaseException))
            raise ConnectionError(f"could not enqueue {len(failed)} outbox rows: {error}")
        return len(done)

    async def run_forever(self) -> None:
        while not self.stopping.is_set():
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

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)

    def stop(self) -> None:
        self.stopping.set()
