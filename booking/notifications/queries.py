"""SQL of background jobs: outbox relay, deliveries, failed jobs, status sweeps, check-in.

Every function takes the connection it runs on; transactions belong to the caller.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from booking.db import Conn

__all__ = (
    "begin_delivery",
    "booking_for_check_in",
    "claim_outbox",
    "due_completions",
    "due_no_shows",
    "due_reminders",
    "failed_job",
    "insert_failed_job",
    "institution_managers",
    "list_failed_jobs",
    "mark_delivery_failed",
    "mark_delivery_sent",
    "mark_dispatched",
    "mark_failed_job_retried",
    "notice_booking",
    "outbox_backlog",
    "outbox_event",
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


async def outbox_event(conn: Conn, outbox_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, topic, booking_id, created_at FROM outbox WHERE id = $1", outbox_id
    )


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


# --- what a notification needs to know ----------------------------------------------------


async def notice_booking(conn: Conn, booking_id: uuid.UUID) -> asyncpg.Record | None:
    """A booking as read fresh by a job: times, status, citizen, room and institution."""
    return await conn.fetchrow(
        """
        SELECT b.id, b.status, lower(b.during) AS starts_at, upper(b.during) AS ends_at,
               b.sequence, b.attendees, b.purpose, b.created_at,
               u.id AS citizen_id, u.email AS citizen_email, u.name AS citizen_name,
               (u.deleted_at IS NULL AND u.disabled_at IS NULL) AS citizen_active,
               r.id AS room_id, r.name AS room_name, r.name_en AS room_name_en,
               r.requires_check_in, r.check_in_grace_minutes,
               i.id AS institution_id, i.name AS institution_name, i.timezone, i.address
        FROM bookings b
        JOIN users u ON u.id = b.citizen_id
        JOIN rooms r ON r.id = b.room_id
        JOIN institutions i ON i.id = r.institution_id
        WHERE b.id = $1
        """,
        booking_id,
    )


async def institution_managers(conn: Conn, institution_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT u.id, u.email, u.name FROM institution_managers m
        JOIN users u ON u.id = m.user_id
        WHERE m.institution_id = $1 AND u.deleted_at IS NULL AND u.disabled_at IS NULL
        ORDER BY u.id
        """,
        institution_id,
    )


# --- deliveries: each effect once ---------------------------------------------------------


async def begin_delivery(
    conn: Conn, key: str, kind: str, booking_id: uuid.UUID | None, recipient: str
) -> bool:
    """Record that ``key`` is being sent; False when it was already sent (skip it)."""
    row = await conn.fetchrow(
        """
        INSERT INTO deliveries (delivery_key, kind, booking_id, recipient)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (delivery_key) DO UPDATE
            SET status = 'sending', attempts = deliveries.attempts + 1, updated_at = now()
            WHERE deliveries.status <> 'sent'
        RETURNING attempts
        """,
        key,
        kind,
        booking_id,
        recipient,
    )
    return row is not None


async def mark_delivery_sent(conn: Conn, key: str) -> None:
    await conn.execute(
        """
        UPDATE deliveries SET status = 'sent', sent_at = now(), updated_at = now(),
                              last_error = NULL
        WHERE delivery_key = $1
        """,
        key,
    )


async def mark_delivery_failed(conn: Conn, key: str, error: str) -> None:
    await conn.execute(
        """
        UPDATE deliveries SET status = 'failed', last_error = $2, updated_at = now()
        WHERE delivery_key = $1 AND status <> 'sent'
        """,
        key,
        error[:2000],
    )


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


# --- reminders ----------------------------------------------------------------------------


async def due_reminders(
    conn: Conn, kind: str, lead_seconds: int, floor_seconds: int, now: datetime
) -> list[uuid.UUID]:
    """Confirmed bookings starting within ``lead`` (but more than ``floor`` from now), booked
    earlier than ``lead`` before their start, whose ``kind`` reminder was not sent yet."""
    rows = await conn.fetch(
        """
        SELECT b.id FROM bookings b
        WHERE b.status = 'confirmed'
          AND lower(b.during) > $2::timestamptz + make_interval(secs => $4)
          AND lower(b.during) <= $2::timestamptz + make_interval(secs => $3)
          AND b.created_at <= lower(b.during) - make_interval(secs => $3)
          AND NOT EXISTS (
              SELECT 1 FROM deliveries d
              WHERE d.delivery_key = 'booking:' || b.id::text || ':' || $1 AND d.status = 'sent'
          )
        ORDER BY lower(b.during)
        LIMIT 1000
        """,
        kind,
        now,
        lead_seconds,
        floor_seconds,
    )
    return [r["id"] for r in rows]


# --- status sweeps (the change itself goes through reservations' booking_transition) -------


async def due_no_shows(conn: Conn, now: datetime, limit: int = 500) -> list[uuid.UUID]:
    """Confirmed bookings of rooms requiring check-in whose grace period has passed."""
    rows = await conn.fetch(
        """
        SELECT b.id FROM bookings b JOIN rooms r ON r.id = b.room_id
        WHERE r.requires_check_in AND b.status = 'confirmed'
          AND lower(b.during) + make_interval(mins => r.check_in_grace_minutes) <= $1
        ORDER BY lower(b.during)
        LIMIT $2
        """,
        now,
        limit,
    )
    return [r["id"] for r in rows]


async def due_completions(conn: Conn, now: datetime, limit: int = 500) -> list[uuid.UUID]:
    """Ended bookings to complete: checked-in ones, and confirmed ones of rooms that do not
    require check-in (the others turn ``no_show`` instead)."""
    rows = await conn.fetch(
        """
        SELECT b.id FROM bookings b JOIN rooms r ON r.id = b.room_id
        WHERE upper(b.during) <= $1
          AND (b.status = 'checked_in' OR (b.status = 'confirmed' AND NOT r.requires_check_in))
        ORDER BY upper(b.during)
        LIMIT $2
        """,
        now,
        limit,
    )
    return [r["id"] for r in rows]


# --- check-in -----------------------------------------------------------------------------


async def booking_for_check_in(conn: Conn, booking_id: uuid.UUID) -> asyncpg.Record | None:
    """The booking, locked for the change, with what the check-in rule needs."""
    return await conn.fetchrow(
        """
        SELECT b.id, b.citizen_id, b.status, b.during, lower(b.during) AS starts_at,
               upper(b.during) AS ends_at, r.institution_id, r.requires_check_in,
               r.check_in_grace_minutes
        FROM bookings b JOIN rooms r ON r.id = b.room_id
        WHERE b.id = $1
        FOR UPDATE OF b
        """,
        booking_id,
    )
