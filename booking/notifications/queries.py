"""SQL of notifications: the event and booking a notice is about, its recipients, deliveries
that happen once, and due reminders.

Every function takes the connection it runs on; transactions belong to the caller.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from booking.db import Conn

__all__ = (
    "NoticeBooking",
    "OutboxEvent",
    "Recipient",
    "begin_delivery",
    "due_reminders",
    "institution_managers",
    "mark_delivery_failed",
    "mark_delivery_sent",
    "notice_booking",
    "outbox_event",
)

# --- what a notification needs to know ----------------------------------------------------


class OutboxEvent(msgspec.Struct, frozen=True):
    id: int
    topic: str
    booking_id: uuid.UUID | None


class NoticeBooking(msgspec.Struct, frozen=True):
    """A booking as read fresh by a job: times (UTC), status, citizen, room and institution.
    Built positionally from the columns of :func:`notice_booking`, in this field order."""

    id: uuid.UUID
    status: str
    holds_slot: bool
    starts_at: datetime
    ends_at: datetime
    citizen_id: uuid.UUID
    citizen_email: str
    citizen_name: str
    citizen_active: bool
    """False once the account is deleted or disabled: it gets no mail."""
    room_name: str
    check_in_grace_minutes: int
    institution_id: uuid.UUID
    institution_name: str
    timezone: str
    address: str | None


class Recipient(msgspec.Struct, frozen=True):
    id: uuid.UUID
    email: str
    name: str


async def outbox_event(conn: Conn, outbox_id: int) -> OutboxEvent | None:
    row = await conn.fetchrow("SELECT id, topic, booking_id FROM outbox WHERE id = $1", outbox_id)
    return None if row is None else OutboxEvent(*row)


async def notice_booking(conn: Conn, booking_id: uuid.UUID) -> NoticeBooking | None:
    row = await conn.fetchrow(
        """
        SELECT b.id, b.status, b.holds_slot, lower(b.during) AS starts_at,
               upper(b.during) AS ends_at,
               u.id AS citizen_id,
               -- A walk-in booking's person is told at the address they gave, if any.
               CASE WHEN b.walk_in_name IS NULL THEN u.email ELSE coalesce(b.walk_in_email, '')
               END AS citizen_email,
               coalesce(b.walk_in_name, u.name) AS citizen_name,
               CASE WHEN b.walk_in_name IS NULL THEN u.deleted_at IS NULL AND u.disabled_at IS NULL
                    ELSE b.walk_in_email IS NOT NULL END AS citizen_active,
               r.name AS room_name, r.check_in_grace_minutes,
               i.id AS institution_id, i.name AS institution_name, i.timezone, i.address
        FROM bookings b
        JOIN users u ON u.id = b.citizen_id
        JOIN rooms r ON r.id = b.room_id
        JOIN institutions i ON i.id = r.institution_id
        WHERE b.id = $1
        """,
        booking_id,
    )
    return None if row is None else NoticeBooking(*row)


async def institution_managers(conn: Conn, institution_id: uuid.UUID) -> list[Recipient]:
    """The institution's active managers, by id."""
    rows = await conn.fetch(
        """
        SELECT u.id, u.email, u.name FROM institution_managers m
        JOIN users u ON u.id = m.user_id
        WHERE m.institution_id = $1 AND u.deleted_at IS NULL AND u.disabled_at IS NULL
        ORDER BY u.id
        """,
        institution_id,
    )
    return [Recipient(*r) for r in rows]


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
    return [r[0] for r in rows]
