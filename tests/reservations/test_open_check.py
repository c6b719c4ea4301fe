"""The three answers to "is the room open (and free) for [a, b)" agree, on awkward rooms and
many seeded random ranges: room_is_open (the booking transaction's check), room_open_time (free
time) and the catalogue search's free-range filter. All three are built from the same parts
(room_windows, holiday_ranges, closures, holds_slot); this test guards their composition."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

import asyncpg

from booking.catalogue.queries import RoomSearch, search_rooms
from tests.factories import create_institution, create_room, set_weekly_rules

COMPARE = """
SELECT lo, hi,
       room_is_open($1, tstzrange(lo, hi, '[)')) AS fast,
       room_open_time($1, tstzrange(lo, hi, '[)')) @> tstzrange(lo, hi, '[)') AS full
FROM unnest($2::timestamptz[], $3::timestamptz[]) AS t(lo, hi)
"""

RULES = [
    ([1, 2, 3, 4, 5], "19:00", "22:00"),
    ([3], "21:30", "23:00"),  # overlaps Wednesday's window
    ([6], "22:00", "02:00"),  # crosses midnight into Sunday
    ([7], "01:00", "04:00"),  # spans the DST change in Berlin on its Sundays
    ([7], "09:00", "24:00"),
    ([1], "00:00", "03:00"),  # touches Sunday's 24:00
]


async def _room(db: asyncpg.Pool, timezone: str, *, holidays: bool, name: str) -> uuid.UUID:
    institution = await create_institution(db, name=f"기관 {timezone}", timezone=timezone)
    room = await create_room(db, institution, name=name, always_open=False, horizon_days=800)
    await set_weekly_rules(db, room, RULES)
    await db.execute(
        "INSERT INTO availability_rules (room_id, days, start_time, end_time, valid_from, valid_until)"
        " VALUES ($1, '{2,4}', '08:00', '12:00', $2, $3)",
        room,
        date(2027, 3, 10),
        date(2027, 4, 20),
    )
    await db.execute("UPDATE rooms SET closed_on_holidays = $2 WHERE id = $1", room, holidays)
    await db.execute(
        "INSERT INTO closures (room_id, during) VALUES ($1, tstzrange($2, $3, '[)'))",
        room,
        datetime(2027, 3, 27, 23, 0, tzinfo=UTC),
        datetime(2027, 3, 28, 2, 30, tzinfo=UTC),
    )
    citizen = await db.fetchval(
        "INSERT INTO users (email, name, password_hash, role)"
        " VALUES ($1, 'c', 'x', 'citizen') RETURNING id",
        f"{room}@example.org",
    )
    # Slot-holding bookings take time away from the search's answer; the others do not.
    for day, status in [(5, "confirmed"), (6, "cancelled"), (12, "pending"), (13, "rejected")]:
        lo = datetime(2027, 4, day, 9, 0, tzinfo=UTC)
        await db.execute(
            "INSERT INTO bookings (room_id, citizen_id, during, status, attendees)"
            " VALUES ($1, $2, tstzrange($3, $4, '[)'), $5, 1)",
            room,
            citizen,
            lo,
            lo + timedelta(hours=14),
            status,
        )
    return room


def _ranges(rng: random.Random, n: int) -> tuple[list[datetime], list[datetime]]:
    """Ranges on a 30-minute grid around Berlin's DST changes and Korean holidays of 2027."""
    anchors = [
        datetime(2027, 3, 26, tzinfo=UTC),  # DST starts 28 March
        datetime(2027, 10, 29, tzinfo=UTC),  # DST ends 31 October
        datetime(2027, 2, 5, tzinfo=UTC),  # Seollal
        datetime(2027, 4, 12, tzinfo=UTC),  # inside valid_from/valid_until
    ]
    starts, ends = [], []
    for _ in range(n):
        lo = rng.choice(anchors) + timedelta(minutes=30 * rng.randrange(0, 5 * 48))
        starts.append(lo)
        ends.append(lo + timedelta(minutes=30 * rng.randrange(1, 13)))
    return starts, ends


async def test_room_is_open_agrees_with_room_open_time(db: asyncpg.Pool) -> None:
    rng = random.Random(20270328)
    rooms = [
        await _room(db, "Europe/Berlin", holidays=False, name="베를린"),
        await _room(db, "Asia/Seoul", holidays=True, name="서울"),
        await _room(db, "America/New_York", holidays=True, name="뉴욕"),
    ]
    inactive = await _room(db, "Asia/Seoul", holidays=False, name="닫힘")
    await db.execute("UPDATE rooms SET active = false WHERE id = $1", inactive)
    opened = 0
    for room in [*rooms, inactive, uuid.uuid4()]:
        starts, ends = _ranges(rng, 1500)
        rows = await db.fetch(COMPARE, room, starts, ends)
        wrong = [(r["lo"], r["hi"], r["fast"], r["full"]) for r in rows if r["fast"] != r["full"]]
        assert not wrong, wrong[:5]
        opened += sum(1 for r in rows if r["full"])
    assert opened > 200  # the sample does exercise open ranges, not only closed ones


SEARCH_TRUTH = """
SELECT room_free_time($1, tstzrange($2, $3, '[)')) @> tstzrange($2, $3, '[)')
       AND $2 >= now() + rm.lead_minutes * interval '1 minute'
       AND $3 <= now() + rm.horizon_days * interval '1 day'
FROM rooms rm WHERE rm.id = $1
"""


async def test_search_finds_a_room_exactly_when_its_free_time_holds_the_range(
    db: asyncpg.Pool,
) -> None:
    rng = random.Random(20271031)
    rooms = {
        "베를린": await _room(db, "Europe/Berlin", holidays=False, name="베를린"),
        "서울": await _room(db, "Asia/Seoul", holidays=True, name="서울"),
        "뉴욕": await _room(db, "America/New_York", holidays=True, name="뉴욕"),
        "닫힘": await _room(db, "Asia/Seoul", holidays=False, name="닫힘"),
    }
    await db.execute("UPDATE rooms SET active = false WHERE id = $1", rooms["닫힘"])
    found_any = 0
    for name, room in rooms.items():
        starts, ends = _ranges(rng, 400)
        async with db.acquire() as conn:
            for lo, hi in zip(starts, ends, strict=True):
                found = await search_rooms(conn, RoomSearch(q=name, free_from=lo, free_to=hi))
                expected = bool(await conn.fetchval(SEARCH_TRUTH, room, lo, hi))
                assert (room in {r.id for r in found}) == expected, (name, lo, hi, expected)
                found_any += expected
    assert found_any > 100  # the sample exercises free ranges, not only taken or closed ones
