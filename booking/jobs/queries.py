"""SQL of the job plumbing: the outbox relay's claims and the failed-jobs record.

Every function takes the connection it runs on; transactions belong to the caller.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from booking.db import Conn

__all__ = (
    "FailedJob",
    "OutboxBacklog",
    "claim_outbox",
    "failed_job",
    "insert_failed_job",
    "list_failed_jobs",
    "mark_dispatched",
    "mark_failed_job_retried",
    "mark_processed",
    "outbox_backlog",
    "redispatch_unprocessed",
    "release_claims",
    "release_stale_claims",
)


class OutboxBacklog(msgspec.Struct, frozen=True):
    """Undispatched outbox rows, how many of them are claimed, and the oldest one (if any)."""

    undispatched: int
    claimed: int
    oldest_id: int | None
    oldest_created_at: datetime | None


class FailedJob(msgspec.Struct, frozen=True):
    """A job's last failure; ``args`` is the JSON text of its arguments."""

    id: int
    job_id: str
    job_name: str
    args: str
    error: str
    attempts: int
    failed_at: datetime
    retried_at: datetime | None


_FAILED_JOB = "id, job_id, job_name, args::text AS args, error, attempts, failed_at, retried_at"
"""The columns of :class:`FailedJob`, in its field order."""

# --- outbox relay -------------------------------------------------------------------------


async def claim_outbox(conn: Conn, limit: int) -> list[int]:
    """Claim up to ``limit`` undispatched rows, oldest first, and return their ids; concurrent
    relays skip each other's rows. The claim commits on its own so a crash leaves evidence for
    the sweep."""
    rows = await conn.fetch(
        """
        WITH picked AS (
            SELECT id FROM outbox
            WHERE dispatched_at IS NULL AND claimed_at IS NULL
            ORDER BY id
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE outbox o SET claimed_at = now()
        FROM picked WHERE o.id = picked.id
        RETURNING o.id
        """,
        limit,
    )
    return [r[0] for r in rows]


async def mark_dispatched(conn: Conn, ids: list[int]) -> None:
    await conn.execute(
        "UPDATE outbox SET dispatched_at = now() WHERE id = ANY($1::bigint[])",
        ids,
    )


async def release_claims(conn: Conn, ids: list[int]) -> None:
    """Give claimed rows back to the relay (the enqueue failed, e.g. Redis is down)."""
    await conn.execute(
        "UPDATE outbox SET claimed_at = NULL WHERE id = ANY($1::bigint[]) AND dispatched_at IS NULL",
        ids,
    )


async def release_stale_claims(conn: Conn, older_than_seconds: float) -> int:
    """Rows claimed long ago but never marked dispatched (a relay died mid-way) go back."""
    result = await conn.execute(
        """
        UPDATE outbox SET claimed_at = NULL
        WHERE dispatched_at IS NULL AND claimed_at IS NOT NULL
          AND claimed_at < now() - make_interval(secs => $1)
        """,
        older_than_seconds,
    )
    return int(result.split()[-1])


async def mark_processed(conn: Conn, outbox_id: int) -> None:
    """The row's job is done: its notices went out, or its last failure is in failed_jobs."""
    await conn.execute(
        "UPDATE outbox SET processed_at = now() WHERE id = $1 AND processed_at IS NULL", outbox_id
    )


async def redispatch_unprocessed(conn: Conn, older_than_seconds: float) -> int:
    """Rows dispatched long ago whose job never finished (lost inside Redis) go back to the
    relay, which enqueues them under the same job id; returns how many. A job still queued,
    running or kept as a result in Redis makes that enqueue a no-op, so this is harmless for
    rows that were merely slow."""
    result = await conn.execute(
        """
        UPDATE outbox SET dispatched_at = NULL, claimed_at = NULL
        WHERE dispatched_at IS NOT NULL AND processed_at IS NULL
          AND dispatched_at < now() - make_interval(secs => $1)
        """,
        older_than_seconds,
    )
    return int(result.split()[-1])


async def outbox_backlog(conn: Conn) -> OutboxBacklog:
    """Undispatched rows, how many of them are claimed, and the oldest one."""
    row = await conn.fetchrow(
        """
        SELECT count(*) AS undispatched,
               count(*) FILTER (WHERE claimed_at IS NOT NULL) AS claimed,
               min(id) AS oldest_id,
               min(created_at) AS oldest_created_at
        FROM outbox WHERE dispatched_at IS NULL
        """
    )
    assert row is not None
    return OutboxBacklog(*row)


# --- failed jobs --------------------------------------------------------------------------


async def insert_failed_job(
    conn: Conn, job_id: str, job_name: str, args_json: str, error: str, attempts: int
) -> int:
    failed_id: int = await conn.fetchval(
        """
        INSERT INTO failed_jobs (job_id, job_name, args, error, attempts)
        VALUES ($1, $2, $3::jsonb, $4, $5) RETURNING id
        """,
        job_id,
        job_name,
        args_json,
        error[:2000],
        attempts,
    )
    return failed_id


async def list_failed_jobs(conn: Conn, *, include_retried: bool) -> list[FailedJob]:
    rows = await conn.fetch(
        f"SELECT {_FAILED_JOB} FROM failed_jobs WHERE $1 OR retried_at IS NULL ORDER BY id",  # noqa: S608 - constant
        include_retried,
    )
    return [FailedJob(*r) for r in rows]


async def failed_job(conn: Conn, failed_id: int) -> FailedJob | None:
    row = await conn.fetchrow(
        f"SELECT {_FAILED_JOB} FROM failed_jobs WHERE id = $1",  # noqa: S608 - constant
        failed_id,
    )
    return None if row is None else FailedJob(*row)


async def mark_failed_job_retried(conn: Conn, failed_id: int) -> None:
    await conn.execute("UPDATE failed_jobs SET retried_at = now() WHERE id = $1", failed_id)
