"""SQL of calendar feeds; every function takes the connection it runs on."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from booking.db import Conn

__all__ = (
    "FeedBooking",
    "FeedFingerprint",
    "FeedKey",
    "TokenOwner",
    "active_token",
    "booking_event_row",
    "feed_rows_by_id",
    "insert_token",
    "institution_feed_keys",
    "institution_fingerprint",
    "lock_user",
    "private_feed_rows",
    "private_fingerprint",
    "revoke_tokens",
    "room_feed_keys",
    "room_fingerprint",
    "token_owner",
)


class FeedBooking(msgspec.Struct, frozen=True):
    """One booking with what any feed may show of it; renderers pick what their audience sees.
    Built positionally from ``_SELECT`` (its columns in this field order)."""

    id: uuid.UUID
    room_id: uuid.UUID
    citizen_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    status: str
    purpose: str
    purpose_public: bool
    attendees: int
    sequence: int
    created_at: datetime
    updated_at: datetime
    room_name: str
    room_name_en: str | None
    institution_id: uuid.UUID
    institution_name: str
    address: str | None
    latitude: float | None
    longitude: float | None
    booker_name: str
    booker_email: str


class FeedFingerprint(msgspec.Struct, frozen=True):
    """What a feed's ETag is derived from, read without building the feed. ``last_modified``
    is the update time of the feed's own room/institution, if any. ``context`` stamps what a
    public feed's events are made of besides their booking rows (room and institution texts and
    places): a rendered event stays valid while its booking's key and this context do."""

    database: str
    title: str
    parts: tuple[str, ...]
    last_modified: datetime | None
    context: tuple[str, ...] = ()


class FeedKey(msgspec.Struct, frozen=True):
    """A booking of a feed as far as its rendering goes: every change of a booking by the app
    sets ``updated_at`` (and a change of time or status raises ``sequence``)."""

    id: uuid.UUID
    sequence: int
    updated_at: datetime


class TokenOwner(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    name: str
    institutions: tuple[uuid.UUID, ...]


_SELECT = """
    SELECT b.id, b.room_id, b.citizen_id, lower(b.during) AS starts_at, upper(b.during) AS ends_at,
           b.status, b.purpose, b.purpose_public, b.attendees, b.sequence, b.created_at,
           b.updated_at, r.name AS room_name, r.name_en AS room_name_en,
           i.id AS institution_id, i.name AS institution_name, i.address, i.latitude,
           i.longitude, coalesce(b.walk_in_name, u.name) AS booker_name,
           CASE WHEN b.walk_in_name IS NULL THEN u.email ELSE coalesce(b.walk_in_email, u.email)
           END AS booker_email
    FROM bookings b
    JOIN rooms r ON r.id = b.room_id
    JOIN institutions i ON i.id = r.institution_id
    JOIN users u ON u.id = b.citizen_id
"""

# Slot-holding (an offer too) and finished bookings stay; cancelled and rejected ones only while
# recent ($3). Feed rows and the private fingerprint share it.
_IN_FEED = """
    b.during && tstzrange($1, $2, '[)')
    AND (b.holds_slot OR b.status IN ('completed', 'no_show')
         OR (b.status IN ('cancelled', 'rejected') AND b.updated_at >= $3))
"""

_ORDER = " ORDER BY lower(b.during), b.id"

# A private feed: the user's own bookings ($4) and those of the institutions they manage ($5).
_PRIVATE = " WHERE (b.citizen_id = $4 OR r.institution_id = ANY($5::uuid[])) AND "


async def booking_event_row(conn: Conn, booking_id: uuid.UUID) -> FeedBooking | None:
    row = await conn.fetchrow(_SELECT + " WHERE b.id = $1", booking_id)
    return None if row is None else FeedBooking(*row)


_KEYS = "SELECT b.id, b.sequence, b.updated_at FROM bookings b"


async def room_feed_keys(
    conn: Conn, room_id: uuid.UUID, start: datetime, end: datetime, cancelled_since: datetime
) -> list[FeedKey]:
    """A room's public feed: its bookings' keys in feed order (three columns, not twenty)."""
    rows = await conn.fetch(
        _KEYS + " WHERE b.room_id = $4 AND " + _IN_FEED + _ORDER,
        start,
        end,
        cancelled_since,
        room_id,
    )
    return [FeedKey(*r) for r in rows]


async def institution_feed_keys(
    conn: Conn,
    institution_id: uuid.UUID,
    start: datetime,
    end: datetime,
    cancelled_since: datetime,
) -> list[FeedKey]:
    """An institution's public feed: its rooms' bookings' keys in feed order."""
    rows = await conn.fetch(
        _KEYS
        + " JOIN rooms r ON r.id = b.room_id WHERE r.institution_id = $4 AND "
        + _IN_FEED
        + _ORDER,
        start,
        end,
        cancelled_since,
        institution_id,
    )
    return [FeedKey(*r) for r in rows]


async def feed_rows_by_id(conn: Conn, ids: list[uuid.UUID]) -> list[FeedBooking]:
    """Full feed rows of these bookings (in no particular order)."""
    rows = await conn.fetch(_SELECT + " WHERE b.id = ANY ($1::uuid[])", ids)
    return [FeedBooking(*r) for r in rows]


async def private_feed_rows(
    conn: Conn,
    user_id: uuid.UUID,
    institutions: tuple[uuid.UUID, ...],
    start: datetime,
    end: datetime,
    cancelled_since: datetime,
) -> list[FeedBooking]:
    """The user's own bookings and every booking of the institutions they manage."""
    rows = await conn.fetch(
        _SELECT + _PRIVATE + _IN_FEED + _ORDER,
        start,
        end,
        cancelled_since,
        user_id,
        list(institutions),
    )
    return [FeedBooking(*r) for r in rows]


# What the bookings of a public feed add to its fingerprint: how many there are and the sum of
# their row versions (xmin). Any write to one of them makes a new row version with a newer
# transaction id, a booking entering or leaving the feed changes the count, so the pair changes
# with every change that reaches the feed, whatever order writers commit in (freezing old rows
# changes it too: one spurious re-render). Read at most once a second per feed and process;
# bookings pay nothing for it when they are written.
_BOOKINGS_VERSION = "count(b.id) || '.' || coalesce(sum(b.xmin::text::bigint), 0)"


async def room_fingerprint(
    conn: Conn, room_id: uuid.UUID, start: datetime, end: datetime, cancelled_since: datetime
) -> FeedFingerprint | None:
    """The room's feed bookings' version and its own and its institution's update times.
    None for an unknown or deactivated room."""
    row = await conn.fetchrow(
        f"""
        SELECT current_database() AS database, r.name || ' · ' || i.name AS name,
               r.updated_at AS room_updated, i.updated_at AS institution_updated,
               (SELECT {_BOOKINGS_VERSION} FROM bookings b
                WHERE b.room_id = r.id AND {_IN_FEED}) AS version
        FROM rooms r
        JOIN institutions i ON i.id = r.institution_id
        WHERE r.id = $4 AND r.active  -- a deactivated room's feed is 404, like the room
        """,  # noqa: S608 - only constant SQL fragments are interpolated
        start,
        end,
        cancelled_since,
        room_id,
    )
    if row is None:
        return None
    database, title, room_updated, institution_updated, version = row
    stamps = (room_updated.isoformat(), institution_updated.isoformat())
    return FeedFingerprint(
        database=database,
        title=title,
        parts=(version, *stamps),
        last_modified=max(room_updated, institution_updated),
        context=(database, *stamps),
    )


async def institution_fingerprint(
    conn: Conn,
    institution_id: uuid.UUID,
    start: datetime,
    end: datetime,
    cancelled_since: datetime,
) -> FeedFingerprint | None:
    """The version of its rooms' feed bookings plus its rooms and update times."""
    row = await conn.fetchrow(
        f"""
        SELECT current_database() AS database, i.name, i.updated_at AS institution_updated,
               (SELECT count(*) FROM rooms r WHERE r.institution_id = i.id) AS rooms,
               (SELECT max(r.updated_at) FROM rooms r WHERE r.institution_id = i.id)
                   AS room_updated,
               (SELECT {_BOOKINGS_VERSION} FROM bookings b JOIN rooms r ON r.id = b.room_id
                WHERE r.institution_id = i.id AND {_IN_FEED}) AS versions
        FROM institutions i
        WHERE i.id = $4
        """,  # noqa: S608 - only constant SQL fragments are interpolated
        start,
        end,
        cancelled_since,
        institution_id,
    )
    if row is None:
        return None
    database, title, institution_updated, rooms, room_updated, versions = row
    stamps = (
        str(rooms),
        institution_updated.isoformat(),
        "" if room_updated is None else room_updated.isoformat(),
    )
    return FeedFingerprint(
        database=database,
        title=title,
        parts=(stamps[0], versions, *stamps[1:]),
        last_modified=max(d for d in (room_updated, institution_updated) if d is not None),
        context=(database, *stamps),
    )


async def private_fingerprint(
    conn: Conn,
    owner: TokenOwner,
    start: datetime,
    end: datetime,
    cancelled_since: datetime,
) -> FeedFingerprint:
    """A hash over every included row (booking, room, institution and booker update times):
    private feeds are small, and this stays exact whatever order writers commit in."""
    row = await conn.fetchrow(
        f"""
        SELECT current_database() AS database,
               md5(coalesce(string_agg(
                   concat_ws('|', b.id, b.updated_at, b.sequence, b.status, r.updated_at,
                             i.updated_at, u.updated_at),
                   ',' ORDER BY b.id), '')) AS digest,
               greatest(max(b.updated_at), max(r.updated_at), max(i.updated_at)) AS last_modified
        FROM bookings b
        JOIN rooms r ON r.id = b.room_id
        JOIN institutions i ON i.id = r.institution_id
        JOIN users u ON u.id = b.citizen_id
        {_PRIVATE} {_IN_FEED}
        """,  # noqa: S608 - only constant SQL fragments are interpolated
        start,
        end,
        cancelled_since,
        owner.user_id,
        list(owner.institutions),
    )
    assert row is not None
    database, digest, last_modified = row
    return FeedFingerprint(
        database=database,
        title=owner.name,
        parts=(str(owner.user_id), ",".join(sorted(str(i) for i in owner.institutions)), digest),
        last_modified=last_modified,
    )


async def token_owner(conn: Conn, token_hash: bytes) -> TokenOwner | None:
    """The active user holding an unrevoked token with this hash, with what they manage."""
    row = await conn.fetchrow(
        """
        SELECT u.id, u.name,
               coalesce(array_agg(m.institution_id ORDER BY m.institution_id)
                        FILTER (WHERE m.institution_id IS NOT NULL), '{}') AS institutions
        FROM calendar_tokens t
        JOIN users u ON u.id = t.user_id
        LEFT JOIN institution_managers m ON m.user_id = u.id
        WHERE t.token_hash = $1 AND t.revoked_at IS NULL
          AND u.disabled_at IS NULL AND u.deleted_at IS NULL
        GROUP BY u.id
        """,
        token_hash,
    )
    if row is None:
        return None
    user_id, name, institutions = row
    return TokenOwner(user_id, name, tuple(institutions))


async def active_token(conn: Conn, user_id: uuid.UUID) -> tuple[bytes, bytes] | None:
    """(nonce, token_hash) of the user's active token, if any."""
    row = await conn.fetchrow(
        "SELECT nonce, token_hash FROM calendar_tokens WHERE user_id = $1 AND revoked_at IS NULL",
        user_id,
    )
    return None if row is None else (bytes(row[0]), bytes(row[1]))


async def insert_token(conn: Conn, user_id: uuid.UUID, nonce: bytes, token_hash: bytes) -> bool:
    """Insert an active token; False when the user already has one (the unique index decides)."""
    inserted = await conn.fetchval(
        """
        INSERT INTO calendar_tokens (user_id, nonce, token_hash) VALUES ($1, $2, $3)
        ON CONFLICT (user_id) WHERE revoked_at IS NULL DO NOTHING
        RETURNING true
        """,
        user_id,
        nonce,
        token_hash,
    )
    return bool(inserted)


async def revoke_tokens(conn: Conn, user_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE calendar_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
        user_id,
    )


async def lock_user(conn: Conn, user_id: uuid.UUID) -> None:
    """Serialise token rotations of one user (held until the transaction ends)."""
    await conn.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id)
