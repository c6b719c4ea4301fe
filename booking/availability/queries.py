"""SQL of free time: the multirange arithmetic lives in Postgres (room_free_time)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from booking.db import Conn

__all__ = ("fetch_bookable_window", "fetch_free_intervals")


async def fetch_bookable_window(
    conn: Conn, room_id: uuid.UUID, start: datetime, end: datetime
) -> asyncpg.Record | None:
    """The room's visibility facts and ``[start, end)`` clipped to ``[now + lead, now + horizon)``
    (``lo``/``hi``; ``lo >= hi`` means nothing is bookable in the window)."""
    return await conn.fetchrow(
        """
        SELECT r.id, r.institution_id, r.active, i.timezone,
               greatest($2::timestamptz, now() + r.lead_minutes * interval '1 minute') AS lo,
               least($3::timestamptz, now() + r.horizon_days * interval '1 day') AS hi
        FROM rooms r JOIN institutions i ON i.id = r.institution_id
        WHERE r.id = $1
        """,
        room_id,
        start,
        end,
    )


async def fetch_free_intervals(
    conn: Conn, room_id: uuid.UUID, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Free ``[start, end)`` pieces of the room inside the window, in time order."""
    rows = await conn.fetch(
        """
        SELECT lower(f) AS start, upper(f) AS "end"
        FROM unnest(room_free_time($1, tstzrange($2, $3, '[)'))) AS f
        ORDER BY 1
        """,
        room_id,
        start,
        end,
    )
    return [(r["start"], r["end"]) for r in rows]
