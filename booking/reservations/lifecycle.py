"""Booking lifecycle over time: the citizen's check-in, no-show release and completion.

Moved here from ``booking/notifications/`` (issue 10): these change a booking's status; the
outbox row each change writes is what makes ``notifications`` send a message. Cron jobs in
``workers/jobs.py`` and the check-in route call these functions.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

import asyncpg

from booking.accounts.auth import Principal
from booking.errors import Conflict, Forbidden, NotFound, refusal_problem
from booking.localtime import to_local
from booking.reservations import queries
from booking.reservations.queries import transition
from schemas.jobs import CheckInResult

__all__ = (
    "CHECK_IN_OPENS_BEFORE",
    "check_in",
    "complete_ended_bookings",
    "mark_no_show",
    "release_no_shows",
)

log = logging.getLogger("booking.reservations")

CHECK_IN_OPENS_BEFORE = timedelta(minutes=15)


async def _transition_each(
    pool: asyncpg.Pool, ids: list[uuid.UUID], to_status: str, reason: str, topic: str
) -> list[uuid.UUID]:
    """Move each booking in its own transaction; one that changed meanwhile (checked in,
    cancelled) is refused by ``booking_transition`` and skipped."""
    done: list[uuid.UUID] = []
    for booking_id in ids:
        try:
            async with pool.acquire() as conn, conn.transaction():
                await transition(
                    conn,
                    booking_id,
                    to_status,
                    from_statuses=("confirmed",)
                    if to_status == "no_show"
                    else (
                        "confirmed",
                        "checked_in",
                    ),
                    actor_id=None,
                    reason=reason,
                    topic=topic,
                )
        except asyncpg.PostgresError as exc:
            if refusal_problem(exc) is None:
                raise
            log.info("skipped %s -> %s: %s", booking_id, to_status, exc)
            continue
        done.append(booking_id)
    return done


async def release_no_shows(pool: asyncpg.Pool, now: datetime) -> list[uuid.UUID]:
    """Bookings not checked in within their room's grace period become ``no_show``; that
    status does not hold a slot, so the room is free again. The outbox row tells the citizen."""
    async with pool.acquire() as conn:
        ids = await queries.due_no_shows(conn, now)
    return await _transition_each(
        pool,
        ids,
        "no_show",
        "not checked in within the grace period; slot released",
        "booking.no_show",
    )


async def complete_ended_bookings(pool: asyncpg.Pool, now: datetime) -> list[uuid.UUID]:
    async with pool.acquire() as conn:
        ids = await queries.due_completions(conn, now)
    return await _transition_each(pool, ids, "completed", "ended", "booking.completed")


async def check_in(
    pool: asyncpg.Pool,
    principal: Principal,
    booking_id: uuid.UUID,
    now: datetime,
    *,
    at_desk: bool = False,
) -> CheckInResult:
    """The owner checks in from 15 minutes before the start until the grace period ends; at the
    front desk (``at_desk``) the institution's managers check an arriving person in, in the
    same window."""
    async with pool.acquire() as conn, conn.transaction():
        row = await queries.booking_for_check_in(conn, booking_id)
        if row is None or (
            row.citizen_id != principal.id and not principal.manages(row.institution_id)
        ):
            raise NotFound("No such booking.")
        if row.citizen_id != principal.id and not at_desk:
            raise Forbidden("Only the citizen who booked can check in.")
        opens = row.starts_at - CHECK_IN_OPENS_BEFORE
        closes = min(row.starts_at + timedelta(minutes=row.check_in_grace_minutes), row.ends_at)
        window = {
            "current_status": row.status,
            "check_in_opens_at": to_local(opens, row.timezone).isoformat(),
            "check_in_closes_at": to_local(closes, row.timezone).isoformat(),
        }
        if row.status == "checked_in":
            return CheckInResult(booking_id=booking_id, status="checked_in")
        if row.status != "confirmed":
            raise Conflict(
                f"A {row.status} booking cannot be checked in.",
                code="check-in-refused",
                title="Check-in refused",
                extra=window,
            )
        if not opens <= now < closes:
            raise Conflict(
                "Check-in is open from 15 minutes before the start until the grace period ends.",
                code="check-in-closed" if now >= closes else "check-in-not-open",
                title="Check-in not possible now",
                extra=window,
            )
        await transition(
            conn,
            booking_id,
            "checked_in",
            from_statuses=("confirmed",),
            actor_id=principal.id,
            reason="checked in",
            topic="booking.checked_in",
        )
    return CheckInResult(booking_id=booking_id, status="checked_in")


async def mark_no_show(
    pool: asyncpg.Pool, principal: Principal, booking_id: uuid.UUID, now: datetime
) -> None:
    """The front desk marks a confirmed booking that has started without its person as a
    no-show (the slot is released, the citizen told); before the start it is refused."""
    async with pool.acquire() as conn, conn.transaction():
        row = await queries.booking_for_check_in(conn, booking_id)
        if row is None or not principal.manages(row.institution_id):
            raise NotFound("No such booking.")
        if row.status != "confirmed":
            raise Conflict(
                f"A {row.status} booking cannot be marked as a no-show.",
                code="illegal-transition",
                title="Not possible in this status",
                extra={"current_status": row.status},
            )
        if now < row.starts_at:
            raise Conflict(
                "A booking can be marked as a no-show once it has started.",
                code="no-show-too-early",
                title="Not started yet",
                extra={"current_status": row.status},
            )
        await transition(
            conn,
            booking_id,
            "no_show",
            from_statuses=("confirmed",),
            actor_id=principal.id,
            reason="marked at the front desk",
            topic="booking.no_show",
        )
