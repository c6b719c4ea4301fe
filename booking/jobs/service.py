"""The job plumbing the worker runs: outbox claims for the relay, and failed jobs recorded.

``workers/`` calls these (never the queries): the relay claims a batch, enqueues it, then
settles it; the job marks its row processed when done; the sweep gives back stale claims and
dispatches again the rows whose job was lost inside Redis; a job's last failure is recorded for
``python -m booking jobs failed``.
"""

from __future__ import annotations

import json
import uuid

import asyncpg
from arq.connections import ArqRedis

from booking.jobs import queries
from booking.jobs.queries import FailedJob

__all__ = (
    "claim_outbox",
    "failed_jobs",
    "mark_processed",
    "record_failed_job",
    "redispatch_unprocessed",
    "release_stale_claims",
    "retry_failed_job",
    "settle_outbox",
)


async def claim_outbox(pool: asyncpg.Pool, limit: int) -> list[int]:
    """Ids of up to ``limit`` undispatched outbox rows, oldest first, claimed (committed)."""
    async with pool.acquire() as conn:
        return await queries.claim_outbox(conn, limit)


async def settle_outbox(pool: asyncpg.Pool, dispatched: list[int], failed: list[int]) -> None:
    """Mark the enqueued rows dispatched and give the others back to the relay."""
    async with pool.acquire() as conn:
        if dispatched:
            await queries.mark_dispatched(conn, dispatched)
        if failed:
            await queries.release_claims(conn, failed)


async def release_stale_claims(pool: asyncpg.Pool, older_than_seconds: float) -> int:
    """Rows claimed long ago but never dispatched (a relay died mid-way) go back; how many."""
    async with pool.acquire() as conn:
        return await queries.release_stale_claims(conn, older_than_seconds)


async def mark_processed(pool: asyncpg.Pool, outbox_id: int) -> None:
    """The job of an outbox row finished (sent, or failed for good and recorded)."""
    async with pool.acquire() as conn:
        await queries.mark_processed(conn, outbox_id)


async def redispatch_unprocessed(pool: asyncpg.Pool, older_than_seconds: float) -> int:
    """Rows dispatched long ago and never processed (their job was lost inside Redis) go back
    to the relay, under the same job id; how many."""
    async with pool.acquire() as conn:
        return await queries.redispatch_unprocessed(conn, older_than_seconds)


async def record_failed_job(
    pool: asyncpg.Pool, job_id: str, job_name: str, args_json: str, error: str, attempts: int
) -> int:
    """Store a job's last failure; returns its ``failed_jobs`` id."""
    async with pool.acquire() as conn:
        return await queries.insert_failed_job(conn, job_id, job_name, args_json, error, attempts)


async def failed_jobs(pool: asyncpg.Pool, *, include_retried: bool = False) -> list[FailedJob]:
    async with pool.acquire() as conn:
        return await queries.list_failed_jobs(conn, include_retried=include_retried)


async def retry_failed_job(pool: asyncpg.Pool, arq: ArqRedis, failed_id: int) -> str | None:
    """Enqueue a failed job again under a new job id and mark it retried; the new job id, or
    None when there is no such failed job."""
    async with pool.acquire() as conn:
        row = await queries.failed_job(conn, failed_id)
        if row is None:
            return None
        job_id = f"retry:{row.id}:{uuid.uuid4().hex[:8]}"
        await arq.enqueue_job(row.job_name, *json.loads(row.args), _job_id=job_id)
        await queries.mark_failed_job_retried(conn, row.id)
    return job_id
