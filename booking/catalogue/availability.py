"""Free time of a room: validated window, clipped to the booking horizon, computed in Postgres.

Free time is the catalogue's: what a room publishes (windows, closures, holidays) minus what
holds a slot. It lived in ``booking/availability/`` until issue 10 folded it in here.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg

from booking.accounts.auth import Principal
from booking.catalogue import queries
from booking.errors import NotFound, invalid
from booking.localtime import to_local
from schemas.availability import FreeInterval, PublicClosure, RoomAvailability

__all__ = (
    "MAX_SPAN",
    "free_pieces_of_rooms",
    "free_time",
    "open_pieces_of_room",
    "validate_window",
)

MAX_SPAN = timedelta(days=93)


def validate_window(
    start: datetime | None,
    end: datetime | None,
    *,
    start_field: str = "from",
    end_field: str = "to",
    max_span: timedelta | None = MAX_SPAN,
) -> tuple[datetime, datetime]:
    """Both ends present, with offsets, in order and (optionally) at most ``max_span`` apart."""
    if start is None:
        raise invalid(start_field, "required (RFC 3339 with an offset)")
    if end is None:
        raise invalid(end_field, "required (RFC 3339 with an offset)")
    for name, value in ((start_field, start), (end_field, end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise invalid(name, "needs an offset, e.g. 2026-12-05T19:00:00+09:00")
    if end <= start:
        raise invalid(end_field, f"must be after {start_field}")
    if max_span is not None and end - start > max_span:
        raise invalid(end_field, f"the span may be at most {max_span.days} days")
    return start, end


async def free_time(
    pool: asyncpg.Pool,
    principal: Principal | None,
    room_id: uuid.UUID,
    start: datetime | None,
    end: datetime | None,
) -> RoomAvailability:
    start, end = validate_window(start, end)
    async with pool.acquire() as conn:
        found = await queries.fetch_bookable_windows(conn, [room_id], start, end)
        room = found[0] if found else None
        if room is None or not (
            room.active or (principal is not None and principal.manages(room.institution_id))
        ):
            raise NotFound("No such room.")
        lo, hi = room.lo, room.hi
        pieces = (
            (await queries.fetch_free_intervals(conn, [(room_id, lo, hi)]))[room_id]
            if lo < hi
            else []
        )
        shown = await queries.public_closures(conn, room_id, start, end)
    tz = room.timezone
    return RoomAvailability(
        room_id=room_id,
        from_=to_local(start, tz),
        to=to_local(end, tz),
        timezone=tz,
        free=[FreeInterval(start=to_local(s, tz), end=to_local(e, tz)) for s, e in pieces],
        closures=[
            PublicClosure(start=to_local(c.start, tz), end=to_local(c.end, tz), reason=c.reason)
            for c in shown
        ],
    )


async def free_pieces_of_rooms(
    pool: asyncpg.Pool, room_ids: list[uuid.UUID], start: datetime, end: datetime
) -> dict[uuid.UUID, list[tuple[datetime, datetime]]]:
    """The free time of several active rooms in ``[start, end)`` (UTC pieces, in time order),
    with the same lead-time and horizon clipping as :func:`free_time`, in two statements
    whatever the number of rooms (the find page shows each result's free times of a day).
    Unknown and deactivated rooms get no pieces."""
    async with pool.acquire() as conn:
        windows = await queries.fetch_bookable_windows(conn, room_ids, start, end)
        bookable = [(w.id, w.lo, w.hi) for w in windows if w.active and w.lo < w.hi]
        pieces = await queries.fetch_free_intervals(conn, bookable) if bookable else {}
    return {room_id: pieces.get(room_id, []) for room_id in room_ids}


async def open_pieces_of_room(
    pool: asyncpg.Pool, room_id: uuid.UUID, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """When the room is open in ``[start, end)`` (UTC pieces; bookings not subtracted), for
    showing taken slots next to free ones."""
    async with pool.acquire() as conn:
        return await queries.fetch_open_intervals(conn, room_id, start, end)
