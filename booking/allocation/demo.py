"""Demo data of fair allocation: one lottery room with an open round (``make run``).

Idempotent: the room is created once in the demo manager's institution; a new round is
published whenever the room has no undrawn one (the previous was drawn)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from booking.allocation import queries
from booking.db import Conn

__all__ = ("DEMO_ROOM_NAME", "load_demo_lottery")

DEMO_ROOM_NAME = "추첨 대강당 (데모 · lottery demo)"


async def load_demo_lottery(conn: Conn, manager_email: str, now: datetime | None = None) -> str:
    """Make sure the demo lottery room and an open round exist; a one-line summary."""
    now = now or datetime.now(UTC)
    place = await conn.fetchrow(
        """
        SELECT m.institution_id, m.user_id, i.timezone FROM institution_managers m
        JOIN users u ON u.id = m.user_id JOIN institutions i ON i.id = m.institution_id
        WHERE u.email = $1 ORDER BY i.name, i.id LIMIT 1
        """,
        manager_email,
    )
    if place is None:
        return "lottery demo: no institution yet, skipped"
    room_id = await conn.fetchval(
        "SELECT id FROM rooms WHERE institution_id = $1 AND name = $2",
        place["institution_id"],
        DEMO_ROOM_NAME,
    )
    if room_id is None:
        room_id = await conn.fetchval(
            """
            INSERT INTO rooms (institution_id, name, name_en, kind, capacity, allocation_mode,
                               monthly_cap_per_citizen, min_minutes, max_minutes, horizon_days)
            VALUES ($1, $2, 'Lottery hall (demo)', 'hall', 150, 'lottery', 1, 60, 240, 120)
            RETURNING id
            """,
            place["institution_id"],
            DEMO_ROOM_NAME,
        )
        await conn.execute(
            """
            INSERT INTO availability_rules (room_id, days, start_time, end_time)
            VALUES ($1, '{6,7}', '09:00', '18:00')
            """,
            room_id,
        )
    if await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM allocation_rounds WHERE room_id = $1 AND drawn_at IS NULL)",
        room_id,
    ):
        return "lottery demo: the room has an undrawn round already"
    zone = ZoneInfo(place["timezone"])
    opens, closes, draw_at = (
        now - timedelta(hours=1),
        now + timedelta(days=7),
        now + timedelta(days=8),
    )
    day = (draw_at + timedelta(days=1)).astimezone(zone).date()
    slots: list[tuple[datetime, datetime]] = []
    while len(slots) < 8:  # the afternoons of the next four weekends after the draw
        if day.isoweekday() in (6, 7):
            start = datetime(day.year, day.month, day.day, 13, tzinfo=zone)
            slots.append((start.astimezone(UTC), (start + timedelta(hours=4)).astimezone(UTC)))
        day += timedelta(days=1)
    round_id = await queries.insert_round(
        conn,
        room_id=room_id,
        title="주말 오후 대강당 추첨 (데모) / Weekend afternoons (demo)",
        opens_at=opens,
        closes_at=closes,
        draw_at=draw_at,
        max_applications=3,
        win_cap=None,
        public_value_required=False,
        seed=secrets.token_bytes(32),
        salt=secrets.token_bytes(32),
        created_by=place["user_id"],
    )
    await queries.replace_slots(conn, round_id, room_id, slots)
    await queries.mark_published(conn, round_id, now)
    return f"lottery demo: round {round_id} open until {closes:%Y-%m-%d %H:%M} UTC"
