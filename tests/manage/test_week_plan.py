"""The institution week view's pieces: bookings, closures and the free time between them, each
day cut at the institution's local midnights and its clock read in the institution's zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from booking.manage import service as manage
from booking.manage.queries import InstitutionName
from booking.settings import Settings
from tests.factories import create_institution, create_room, create_user, set_weekly_rules

SEOUL = ZoneInfo("Asia/Seoul")


def _next_monday() -> date:
    today = datetime.now(SEOUL).date() + timedelta(days=7)
    return today - timedelta(days=today.weekday())


async def test_a_week_of_pieces_reads_in_local_time_with_midnight_as_24(
    db: asyncpg.Pool, settings: Settings
) -> None:
    institution_id = await create_institution(db)
    evening = await create_room(db, institution_id, name="가 회의실", always_open=False)
    await set_weekly_rules(db, evening, [([1, 2, 3, 4, 5, 6, 7], "08:00", "22:00")])
    late = await create_room(db, institution_id, name="나 회의실", always_open=False)
    await set_weekly_rules(db, late, [([2], "20:00", "24:00")])
    citizen = await create_user(db, settings)
    monday = _next_monday()

    def at(day: date, hour: int) -> datetime:
        return datetime(day.year, day.month, day.day, hour, tzinfo=SEOUL)

    # 09:00 in Seoul is midnight UTC: the free piece before it must not read "24:00".
    await db.execute(
        "INSERT INTO bookings (room_id, citizen_id, during, status, attendees, purpose)"
        " VALUES ($1, $2, tstzrange($3, $4, '[)'), 'confirmed', 3, '모임'),"
        "        ($1, $2, tstzrange($5, $6, '[)'), 'pending', 3, '모임')",
        evening,
        citizen.id,
        at(monday, 9),
        at(monday, 11),
        at(monday, 20),
        at(monday, 22),
    )
    await db.execute(
        "INSERT INTO closures (room_id, during, reason) VALUES ($1, tstzrange($2, $3, '[)'), '')",
        evening,
        at(monday + timedelta(days=2), 0),
        at(monday + timedelta(days=3), 0),
    )
    institution = InstitutionName(institution_id, "망원1동 주민센터", "마포구", "Asia/Seoul")

    plan = await manage.week_plan(db, institution, monday, None)

    assert [r.id for r in plan.rooms] == [evening, late] == [r.id for r in plan.all_rooms]
    first, second = plan.columns
    assert [(s.state, s.clock) for s in first[0].segments] == [
        ("free", "08:00–09:00"),
        ("taken", "09:00–11:00"),
        ("free", "11:00–20:00"),
        ("pending", "20:00–22:00"),
    ]
    assert first[0].segments[1].booking is not None
    assert first[0].segments[3].booking is not None
    assert [(s.state, s.clock) for s in first[2].segments] == [("closed", "00:00–24:00")]
    assert [(s.state, s.clock) for s in second[1].segments] == [("free", "20:00–24:00")]
    assert [c.segments for c in second if c.day != monday + timedelta(days=1)] == [[]] * 6

    one = await manage.week_plan(db, institution, monday, late)
    assert [r.id for r in one.rooms] == [late] and len(one.all_rooms) == 2
