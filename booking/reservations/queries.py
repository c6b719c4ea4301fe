"""SQL of reservations; every function takes the connection it runs on.

The booking transaction itself is the SQL function ``book()`` (sql/0030_reservations.sql), so a
booking costs one round trip; lifecycle changes go through ``booking_transition()`` and
``reschedule_booking()``, which write history, bump the iCal sequence and add the outbox row.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from booking.db import Conn
from schemas.reservations import BookingStatus

__all__ = (
    "BOOKING_COLUMNS",
    "BookResult",
    "BookingRow",
    "CheckInRow",
    "ConflictRow",
    "book",
    "book_walk_in",
    "booking_for_check_in",
    "conflict",
    "delete_expired_idempotency_keys",
    "due_completions",
    "due_no_shows",
    "fetch_booking",
    "institution_exists",
    "list_citizen_bookings",
    "list_institution_bookings",
    "lock_booking",
    "reschedule",
    "taken_row",
    "transition",
)

BOOKING_COLUMNS = """
    b.id, b.status, b.room_id, lower(b.during) AS start, upper(b.during) AS "end", b.purpose,
    b.purpose_public, b.attendees, b.sequence, b.created_at, b.updated_at, b.citizen_id,
    r.institution_id, i.timezone, booking_fee(b.room_id, lower(b.during), upper(b.during))::text
"""
"""The columns of :class:`BookingRow`, in its field order (``citizen_name`` follows)."""
_BOOKING_FROM = """
    bookings b JOIN rooms r ON r.id = b.room_id JOIN institutions i ON i.id = r.institution_id
"""


class BookingRow(msgspec.Struct, frozen=True):
    """A booking as the services see it (UTC instants; ``timezone`` is its institution's)."""

    id: uuid.UUID
    status: BookingStatus
    room_id: uuid.UUID
    start: datetime
    end: datetime
    purpose: str
    purpose_public: bool
    attendees: int
    sequence: int
    created_at: datetime
    updated_at: datetime
    citizen_id: uuid.UUID
    institution_id: uuid.UUID
    timezone: str
    fee: str
    """The price quote as JSON text (``booking_fee()``)."""
    citizen_name: str | None


class BookResult(msgspec.Struct, frozen=True):
    """What ``book()`` answers: the HTTP status, the answer's JSON text (instants in the
    institution's offset), the new booking's id (None on a replay), whether it is a replay."""

    status_code: int
    body: str
    booking_id: uuid.UUID | None
    replayed: bool


class _TakenBody(msgspec.Struct, frozen=True):
    stamp: str
    timezone: str
    fee: msgspec.Raw
    conflicts: list[tuple[datetime, datetime]]


_taken_body = msgspec.json.Decoder(_TakenBody)


def taken_row(body: str) -> ConflictRow:
    """The 409 body ``book()`` writes for a slot already taken (sql/functions/book.sql) as a
    :class:`ConflictRow` without alternatives (the caller holds or computes them)."""
    taken = _taken_body.decode(body)
    return ConflictRow(
        stamp=taken.stamp,
        conflicts=[asyncpg.Range(lo, hi) for lo, hi in taken.conflicts],
        alternatives=None,
        timezone=taken.timezone,
        fee=bytes(taken.fee).decode(),
    )


class ConflictRow(msgspec.Struct, frozen=True):
    """``booking_conflict()``'s answer, with the room's institution timezone."""

    stamp: str
    conflicts: list[asyncpg.Range[datetime]]
    alternatives: list[asyncpg.Range[datetime]] | None
    timezone: str
    fee: str
    """The price quote of the requested range as JSON text; alternatives have the same length,
    so the same quote."""


class CheckInRow(msgspec.Struct, frozen=True):
    """A booking, locked, with what the check-in rule needs."""

    id: uuid.UUID
    citizen_id: uuid.UUID
    status: str
    starts_at: datetime
    ends_at: datetime
    institution_id: uuid.UUID
    requires_check_in: bool
    check_in_grace_minutes: int
    timezone: str


def _booking(row: asyncpg.Record) -> BookingRow:
    return BookingRow(*row)


_BOOK = "SELECT * FROM book($1, $2, $3, $4, $5, $6, $7, $8, $9)"


async def book(
    conn: Conn,
    *,
    citizen_id: uuid.UUID,
    room_id: uuid.UUID,
    start: datetime,
    end: datetime,
    purpose: str,
    purpose_public: bool,
    attendees: int,
    idempotency_key: str | None,
    request_hash: bytes | None,
) -> BookResult:
    """The whole booking transaction in one statement (autocommit: one round trip)."""
    row = await conn.fetchrow(
        _BOOK,
        citizen_id,
        room_id,
        start,
        end,
        purpose,
        purpose_public,
        attendees,
        idempotency_key,
        request_hash,
    )
    assert row is not None
    return BookResult(*row)


async def conflict(
    conn: Conn,
    room_id: uuid.UUID,
    start: datetime,
    end: datetime,
    *,
    exclude: uuid.UUID | None,
    known_stamp: str | None,
) -> ConflictRow:
    """``stamp``, ``conflicts`` (ranges) and ``alternatives`` (ranges, or None when the stamp is
    still ``known_stamp``) for a 409, in one round trip (``booking_conflict()``, sql/0031)."""
    row = await conn.fetchrow(
        """
        SELECT c.stamp, c.conflicts, c.alternatives, i.timezone, booking_fee($1, $2, $3)::text
        FROM booking_conflict($1, $2, $3, $4, $5) c,
             rooms r JOIN institutions i ON i.id = r.institution_id
        WHERE r.id = $1
        """,
        room_id,
        start,
        end,
        exclude,
        known_stamp,
    )
    assert row is not None
    return ConflictRow(*row)


async def fetch_booking(conn: Conn, booking_id: uuid.UUID) -> BookingRow | None:
    """A booking with its institution and the citizen's name (for managers)."""
    row = await conn.fetchrow(
        f"""
        SELECT {BOOKING_COLUMNS}, coalesce(b.walk_in_name, u.name) AS citizen_name
        FROM {_BOOKING_FROM} JOIN users u ON u.id = b.citizen_id
        WHERE b.id = $1
        """,  # noqa: S608 - only constant SQL fragments are interpolated
        booking_id,
    )
    return None if row is None else _booking(row)


async def lock_booking(conn: Conn, booking_id: uuid.UUID) -> BookingRow | None:
    """Like :func:`fetch_booking`, holding the booking's row lock until the transaction ends."""
    row = await conn.fetchrow(
        f"""
        SELECT {BOOKING_COLUMNS}, coalesce(b.walk_in_name, u.name) AS citizen_name
        FROM {_BOOKING_FROM} JOIN users u ON u.id = b.citizen_id
        WHERE b.id = $1
        FOR UPDATE OF b
        """,  # noqa: S608 - only constant SQL fragments are interpolated
        booking_id,
    )
    return None if row is None else _booking(row)


async def transition(
    conn: Conn,
    booking_id: uuid.UUID,
    to_status: str,
    *,
    from_statuses: tuple[str, ...],
    actor_id: uuid.UUID | None,
    reason: str,
    topic: str | None,
) -> None:
    """Change the status (history, sequence bump, outbox row ``topic``); raises
    ``illegal_transition:<current>`` (SQLSTATE P0001) unless the status is in ``from_statuses``.
    """
    await conn.execute(
        "SELECT 1 FROM booking_transition($1, $2, $3, $4, $5, $6)",
        booking_id,
        to_status,
        list(from_statuses),
        actor_id,
        reason,
        topic,
    )


async def reschedule(
    conn: Conn, booking_id: uuid.UUID, actor_id: uuid.UUID, start: datetime, end: datetime
) -> None:
    await conn.execute(
        "SELECT 1 FROM reschedule_booking($1, $2, $3, $4)", booking_id, actor_id, start, end
    )


async def institution_exists(conn: Conn, institution_id: uuid.UUID) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM institutions WHERE id = $1)", institution_id
    )
    return found


async def list_citizen_bookings(
    conn: Conn,
    citizen_id: uuid.UUID,
    *,
    status: str | None,
    window_from: datetime | None,
    window_to: datetime | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[BookingRow]:
    """The citizen's bookings by start time, keyset-paginated after ``(start, id)``."""
    rows = await conn.fetch(
        f"""
        SELECT {BOOKING_COLUMNS}, NULL::text AS citizen_name
        FROM {_BOOKING_FROM}
        WHERE b.citizen_id = $1
          AND ($2::text IS NULL OR b.status = $2)
          AND ($3::timestamptz IS NULL OR upper(b.during) > $3)
          AND ($4::timestamptz IS NULL OR lower(b.during) < $4)
          AND ($5::timestamptz IS NULL OR (lower(b.during), b.id) > ($5, $6::uuid))
        ORDER BY lower(b.during), b.id
        LIMIT $7
        """,  # noqa: S608 - only constant SQL fragments are interpolated
        citizen_id,
        status,
        window_from,
        window_to,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_booking(r) for r in rows]


async def list_institution_bookings(
    conn: Conn,
    institution_id: uuid.UUID,
    *,
    status: str | None,
    room_id: uuid.UUID | None,
    window_from: datetime | None,
    window_to: datetime | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[BookingRow]:
    """The institution's bookings by start time (with the citizen's name), keyset-paginated."""
    rows = await conn.fetch(
        f"""
        SELECT {BOOKING_COLUMNS}, coalesce(b.walk_in_name, u.name) AS citizen_name
        FROM {_BOOKING_FROM} JOIN users u ON u.id = b.citizen_id
        WHERE r.institution_id = $1
          AND ($2::text IS NULL OR b.status = $2)
          AND ($3::uuid IS NULL OR b.room_id = $3)
          AND ($4::timestamptz IS NULL OR upper(b.during) > $4)
          AND ($5::timestamptz IS NULL OR lower(b.during) < $5)
          AND ($6::timestamptz IS NULL OR (lower(b.during), b.id) > ($6, $7::uuid))
        ORDER BY lower(b.during), b.id
        LIMIT $8
        """,  # noqa: S608 - only constant SQL fragments are interpolated
        institution_id,
        status,
        room_id,
        window_from,
        window_to,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_booking(r) for r in rows]


async def delete_expired_idempotency_keys(conn: Conn, *, older_than_hours: int = 24) -> int:
    """Forget Idempotency-Keys older than the 24 h they are honoured for; returns how many."""
    status: str = await conn.execute(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)",
        older_than_hours,
    )
    return int(status.rsplit(" ", 1)[-1])


# --- lifecycle over time: check-in, no-show release, completion ---------------------------


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


async def booking_for_check_in(conn: Conn, booking_id: uuid.UUID) -> CheckInRow | None:
    """The booking, locked for the change, with what the check-in rule needs."""
    row = await conn.fetchrow(
        """
        SELECT b.id, b.citizen_id, b.status, lower(b.during) AS starts_at,
               upper(b.during) AS ends_at, r.institution_id, r.requires_check_in,
               r.check_in_grace_minutes, i.timezone
        FROM bookings b JOIN rooms r ON r.id = b.room_id
        JOIN institutions i ON i.id = r.institution_id
        WHERE b.id = $1
        FOR UPDATE OF b
        """,
        booking_id,
    )
    return None if row is None else CheckInRow(*row)


async def book_walk_in(
    conn: Conn,
    *,
    desk_id: uuid.UUID,
    room_id: uuid.UUID,
    start: datetime,
    end: datetime,
    attendees: int,
    purpose: str,
    name: str,
    phone: str,
    email: str | None,
) -> uuid.UUID:
    """A walk-in booking in one statement (``book_walk_in()``); its id."""
    booking_id: uuid.UUID = await conn.fetchval(
        "SELECT book_walk_in($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        desk_id,
        room_id,
        start,
        end,
        attendees,
        purpose,
        name,
        phone,
        email,
    )
    return booking_id
