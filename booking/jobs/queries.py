"""SQL of the job plumbing: the outbox relay's claims and the failed-jobs record.

Every function takes the connection it runs on; transactions belong to the caller.
"""

from __future__ import annotations

import asyncpg

from booking.db import Conn

__all__ = (
    "claim_outbox",
    "failed_job",
    "insert_failed_job",
    "list_failed_jobs",
    "mark_dispatched",
    "mark_failed_job_retried",
    "outbox_backlog",
    "release_claims",
    "release_stale_claims",
)

# --- outbox relay -------------------------------------------------------------------------


async def claim_outbox(conn: Conn, limit: int) -> list[asyncpg.Record]:
    """Claim up to ``limit`` undispatched rows, oldest first; concurrent relays skip each
    other's rows. The claim commits on its own so a crash leaves evidence for the sweep."""
    return await conn.fetch(
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
        RETURNING o.id, o.topic, o.booking_id
        """,
        limit,
    )


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


async def outbox_backlog(conn: Conn) -> asyncpg.Record:
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
    return row


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


async def list_failed_jobs(conn: Conn, *, include_retried: bool) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT id, job_id, job_name, args::text AS args, error, attempts, failed_at, retried_at
        FROM failed_jobs
        WHERE $1 OR retried_at IS NULL
        ORDER BY id
        """,
        include_retried,
    )


async def failed_job(conn: Conn, failed_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT id, job_id, job_name, args::text AS args, error, attempts, failed_at, retried_at
        FROM failed_jobs WHERE id = $1
        """,
        failed_id,
    )


async def mark_failed_job_retried(conn: Conn, failed_id: int) -> None:
    await conn.execute("UPDATE failed_jobs SET retried_at = now() WHERE id = $1", failed_id)
