"""Free time: weekly windows in local time, minus closures, holidays and bookings, in Postgres."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.catalogue.availability import free_pieces_of_rooms
from tests.factories import Cast, create_institution, create_room, set_weekly_rules

Client = AsyncTestClient[Litestar]
SEOUL = ZoneInfo("Asia/Seoul")
BERLIN = ZoneInfo("Europe/Berlin")


def next_weekday(isoweekday: int, tz: ZoneInfo, at_least_days: int = 3) -> date:
    """A date with that ISO weekday, safely past the default lead time."""
    day = datetime.now(tz).date() + timedelta(days=at_least_days)
    while day.isoweekday() != isoweekday:
        day += timedelta(days=1)
    return day


def local(day: date, hh: int, mm: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hh, mm), tz)


async def free(
    client: Client, room: uuid.UUID, start: datetime, end: datetime, **headers: str
) -> list[tuple[str, str]]:
    response = await client.get(
        f"/v1/rooms/{room}/availability",
        params={"from": start.isoformat(), "to": end.isoformat()},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return [(f["start"], f["end"]) for f in response.json()["free"]]


async def seoul_room(db: asyncpg.Pool, rules: list[tuple[list[int], str, str]]) -> uuid.UUID:
    institution = await create_institution(db, name="연남동 주민센터")
    room = await create_room(db, institution, always_open=False, horizon_days=400)
    await set_weekly_rules(db, room, rules)
    return room


async def test_weekday_evening_windows_in_local_offset(client: Client, db: asyncpg.Pool) -> None:
    room = await seoul_room(db, [([1, 2, 3, 4, 5], "19:00", "22:00")])
    monday = next_weekday(1, SEOUL)
    body = (
        await client.get(
            f"/v1/rooms/{room}/availability",
            params={
                "from": local(monday, 0, 0, SEOUL).isoformat(),
                "to": local(monday + timedelta(days=7), 0, 0, SEOUL).isoformat(),
            },
        )
    ).json()
    assert body["timezone"] == "Asia/Seoul"
    assert body["from"].endswith("+09:00")
    assert [(f["start"], f["end"]) for f in body["free"]] == [
        (
            local(monday + timedelta(days=n), 19, 0, SEOUL).isoformat(),
            local(monday + timedelta(days=n), 22, 0, SEOUL).isoformat(),
        )
        for n in range(5)
    ]


async def test_window_crossing_midnight_is_one_interval(client: Client, db: asyncpg.Pool) -> None:
    room = await seoul_room(db, [([5], "22:00", "02:00")])
    friday = next_weekday(5, SEOUL)
    saturday = friday + timedelta(days=1)
    got = await free(client, room, local(friday, 0, 0, SEOUL), local(saturday, 12, 0, SEOUL))
    assert got == [
        (local(friday, 22, 0, SEOUL).isoformat(), local(saturday, 2, 0, SEOUL).isoformat())
    ]
    # Asking from Saturday only still sees the tail of Friday's window.
    tail = await free(client, room, local(saturday, 0, 0, SEOUL), local(saturday, 12, 0, SEOUL))
    assert tail == [
        (local(saturday, 0, 0, SEOUL).isoformat(), local(saturday, 2, 0, SEOUL).isoformat())
    ]


async def test_nightly_window_over_a_month_end(client: Client, db: asyncpg.Pool) -> None:
    room = await seoul_room(db, [([1, 2, 3, 4, 5, 6, 7], "22:00", "02:00")])
    today = datetime.now(SEOUL).date()
    first = (today.replace(day=1) + timedelta(days=62)).replace(day=1)  # 1st of a later month
    last = first - timedelta(days=1)
    got = await free(client, room, local(last, 20, 0, SEOUL), local(first, 6, 0, SEOUL))
    assert got == [(local(last, 22, 0, SEOUL).isoformat(), local(first, 2, 0, SEOUL).isoformat())]


def _next_transition(tz: ZoneInfo, month: int) -> date:
    """The next last-Sunday-of-``month`` (EU DST change) that is more than a few days away."""
    year = datetime.now(tz).year
    while True:
        day = date(year, month + 1, 1) - timedelta(days=1)
        while day.isoweekday() != 7:
            day -= timedelta(days=1)
        if day > datetime.now(tz).date() + timedelta(days=3):
            return day
        year += 1


async def _berlin_room(db: asyncpg.Pool, rules: list[tuple[list[int], str, str]]) -> uuid.UUID:
    institution = await create_institution(
        db, name="Bürgeramt Mitte", region="Berlin", district="Mitte", timezone="Europe/Berlin"
    )
    room = await create_room(db, institution, always_open=False, horizon_days=400)
    await set_weekly_rules(db, room, rules)
    return room


async def test_dst_spring_forward_day_has_23_open_hours(client: Client, db: asyncpg.Pool) -> None:
    room = await _berlin_room(db, [([1, 2, 3, 4, 5, 6, 7], "00:00", "24:00")])
    day = _next_transition(BERLIN, 3)
    start, end = local(day, 0, 0, BERLIN), local(day + timedelta(days=1), 0, 0, BERLIN)
    got = await free(client, room, start, end)
    assert got == [(start.isoformat(), end.isoformat())]
    assert got[0][0].endswith("+01:00") and got[0][1].endswith("+02:00")
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)


async def test_dst_window_across_the_skipped_hour(client: Client, db: asyncpg.Pool) -> None:
    room = await _berlin_room(db, [([7], "01:00", "04:00")])
    day = _next_transition(BERLIN, 3)
    got = await free(client, room, local(day, 0, 0, BERLIN), local(day, 12, 0, BERLIN))
    assert got == [(f"{day}T01:00:00+01:00", f"{day}T04:00:00+02:00")]  # two real hours


async def test_dst_fall_back_day_has_25_open_hours(client: Client, db: asyncpg.Pool) -> None:
    room = await _berlin_room(db, [([7], "00:00", "24:00")])
    day = _next_transition(BERLIN, 10)
    start, end = local(day, 0, 0, BERLIN), local(day + timedelta(days=1), 0, 0, BERLIN)
    got = await free(client, room, start, end)
    assert got == [(f"{day}T00:00:00+02:00", f"{day + timedelta(days=1)}T00:00:00+01:00")]
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=25)


async def test_public_holiday_closes_rooms_that_say_so(client: Client, db: asyncpg.Pool) -> None:
    room = await seoul_room(db, [([1, 2, 3, 4, 5, 6, 7], "09:00", "18:00")])
    holiday: date = await db.fetchval(
        "SELECT min(day) FROM public_holidays WHERE country = 'KR' AND day > current_date + 3"
    )
    window = (local(holiday, 0, 0, SEOUL), local(holiday + timedelta(days=1), 0, 0, SEOUL))
    assert len(await free(client, room, *window)) == 1
    await db.execute("UPDATE rooms SET closed_on_holidays = true WHERE id = $1", room)
    assert await free(client, room, *window) == []


async def test_closures_and_bookings_are_subtracted(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    monday = next_weekday(1, SEOUL)
    await set_weekly_rules(db, cast.room_x, [([1], "09:00", "18:00")])
    closure = await client.post(
        f"/v1/rooms/{cast.room_x}/closures",
        json={
            "start": local(monday, 9, 0, SEOUL).isoformat(),
            "end": local(monday, 11, 0, SEOUL).isoformat(),
            "reason": "소독",
        },
        headers=cast.headers("manager_x"),
    )
    assert closure.status_code == 201, closure.text
    for status, (h1, h2) in (
        ("confirmed", (13, 14)),
        ("cancelled", (15, 16)),
        ("pending", (16, 17)),
    ):
        await db.execute(
            "INSERT INTO bookings (room_id, citizen_id, during, status, attendees)"
            " VALUES ($1, $2, tstzrange($3, $4), $5, 3)",
            cast.room_x,
            cast.citizen_a.id,
            local(monday, h1, 0, SEOUL),
            local(monday, h2, 0, SEOUL),
            status,
        )
    got = await free(client, cast.room_x, local(monday, 0, 0, SEOUL), local(monday, 23, 0, SEOUL))
    assert got == [
        (local(monday, 11, 0, SEOUL).isoformat(), local(monday, 13, 0, SEOUL).isoformat()),
        (local(monday, 14, 0, SEOUL).isoformat(), local(monday, 16, 0, SEOUL).isoformat()),
        (local(monday, 17, 0, SEOUL).isoformat(), local(monday, 18, 0, SEOUL).isoformat()),
    ]
    removed = await client.delete(
        f"/v1/rooms/{cast.room_x}/closures/{closure.json()['id']}",
        headers=cast.headers("manager_x"),
    )
    assert removed.status_code == 204
    again = await free(client, cast.room_x, local(monday, 0, 0, SEOUL), local(monday, 23, 0, SEOUL))
    assert again[0][0] == local(monday, 9, 0, SEOUL).isoformat()


async def test_free_time_is_clipped_to_lead_time_and_horizon(
    client: Client, db: asyncpg.Pool
) -> None:
    institution = await create_institution(db)
    room = await create_room(db, institution, lead_minutes=120, horizon_days=10)  # open 24/7
    now = datetime.now(UTC)
    got = await free(client, room, now - timedelta(days=1), now + timedelta(days=30))
    assert len(got) == 1
    start, end = (datetime.fromisoformat(t) for t in got[0])
    assert abs(start - (now + timedelta(minutes=120))) < timedelta(seconds=30)
    assert abs(end - (now + timedelta(days=10))) < timedelta(seconds=30)
    assert start.utcoffset() == timedelta(hours=9)
    past = await free(client, room, now - timedelta(days=3), now - timedelta(days=1))
    assert past == []


async def test_bad_windows_are_refused_naming_the_field(client: Client, cast: Cast) -> None:
    url = f"/v1/rooms/{cast.room_x}/availability"
    cases = [
        ({"from": "2027-01-01T00:00:00", "to": "2027-01-02T00:00:00+09:00"}, "from"),
        ({"from": "2027-01-02T00:00:00+09:00", "to": "2027-01-01T00:00:00+09:00"}, "to"),
        ({"from": "2027-01-01T00:00:00+09:00", "to": "2027-04-05T00:00:00+09:00"}, "to"),
        ({"from": "yesterday", "to": "2027-01-01T00:00:00+09:00"}, "from"),
        ({"to": "2027-01-01T00:00:00+09:00"}, "from"),
    ]
    for params, field in cases:
        response = await client.get(url, params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in response.json()["errors"]] == [field], params
    ok = await client.get(
        url, params={"from": "2027-01-01T00:00:00+09:00", "to": "2027-04-04T00:00:00+09:00"}
    )
    assert ok.status_code == 200  # exactly 93 days


async def test_unencoded_plus_in_offset_is_understood(client: Client, cast: Cast) -> None:
    response = await client.get(
        f"/v1/rooms/{cast.room_x}/availability?from=2027-01-01T00:00:00+09:00&to=2027-01-02T00:00:00+09:00"
    )
    assert response.status_code == 200, response.text
    assert response.json()["from"] == "2027-01-01T00:00:00+09:00"


async def test_unknown_and_inactive_rooms_are_404(
    client: Client, cast: Cast, db: asyncpg.Pool
) -> None:
    params = {"from": "2027-01-01T00:00:00+09:00", "to": "2027-01-02T00:00:00+09:00"}
    assert (
        await client.get(f"/v1/rooms/{uuid.uuid4()}/availability", params=params)
    ).status_code == 404
    await db.execute("UPDATE rooms SET active = false WHERE id = $1", cast.room_x)
    assert (
        await client.get(f"/v1/rooms/{cast.room_x}/availability", params=params)
    ).status_code == 404
    # A deactivated room has no open time at all, so the booking check refuses it too.
    assert await db.fetchval(
        "SELECT isempty(range_merge(room_open_time($1, tstzrange(now(), now() + interval '7 days'))))"
        " IS NOT FALSE",
        cast.room_x,
    )


async def test_free_time_of_many_rooms_at_once_equals_each_rooms_free_time(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    """The find page asks the free time of all its results in one go; each room's pieces are
    what GET /v1/rooms/{id}/availability answers for that room."""

    evening = await seoul_room(db, [([1, 2, 3, 4, 5], "19:00", "22:00"), ([6], "09:00", "18:00")])
    berlin = await create_institution(db, name="Bürgerhaus", timezone="Europe/Berlin")
    night = await create_room(db, berlin, always_open=False, horizon_days=400)
    await set_weekly_rules(db, night, [([6], "22:00", "02:00")])
    closed = await seoul_room(db, [([6], "09:00", "18:00")])
    await db.execute("UPDATE rooms SET active = false WHERE id = $1", closed)
    saturday = next_weekday(6, SEOUL)
    booked = local(saturday, 10, 0, SEOUL)
    await db.execute(
        "INSERT INTO bookings (room_id, citizen_id, during, status, attendees)"
        " VALUES ($1, $2, tstzrange($3, $4, '[)'), 'confirmed', 2)",
        evening,
        cast.citizen_a.id,
        booked,
        booked + timedelta(hours=2),
    )
    start, end = local(saturday, 0, 0, SEOUL), local(saturday + timedelta(days=2), 0, 0, SEOUL)
    rooms = [evening, night, closed, uuid.uuid4()]

    together = await free_pieces_of_rooms(db, rooms, start, end)

    assert set(together) == set(rooms)
    assert together[closed] == [] and together[rooms[3]] == []
    for room in (evening, night):
        alone = await free(client, room, start, end)
        assert [(s.isoformat(), e.isoformat()) for s, e in together[room]] == [
            (
                datetime.fromisoformat(s).astimezone(UTC).isoformat(),
                datetime.fromisoformat(e).astimezone(UTC).isoformat(),
            )
            for s, e in alone
        ]
        assert alone  # each room does have free time in the window
