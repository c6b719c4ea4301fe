"""Open data out: rooms in the standard's columns (round trip), usage figures, free slots."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.allocation import service as allocation
from booking.catalogue.importer import import_file
from booking.opendata.service import refresh_usage, usage_month
from booking.settings import Settings
from schemas.opendata import STANDARD_COLUMNS
from tests.allocation.helpers import (
    NOW,
    applicants,
    as_principal,
    lottery_room,
    open_round,
    saturday_slots,
)
from tests.factories import create_institution, create_room, create_user, set_weekly_rules
from tests.reservations.conftest import at

FIXTURE = Path(__file__).parent / "fixtures" / "national-sample.csv"
Client = AsyncTestClient[Litestar]
SEOUL = ZoneInfo("Asia/Seoul")
BERLIN = ZoneInfo("Europe/Berlin")


async def _insert_booking(
    db: asyncpg.Pool,
    room: uuid.UUID,
    citizen: uuid.UUID,
    start: datetime,
    end: datetime,
    status: str,
    purpose: str = "",
) -> None:
    await db.execute(
        "INSERT INTO bookings (room_id, citizen_id, during, status, attendees, purpose)"
        " VALUES ($1, $2, tstzrange($3, $4, '[)'), $5, 3, $6)",
        room,
        citizen,
        start,
        end,
        status,
        purpose,
    )


async def test_rooms_round_trip_through_the_standard_columns(
    client: Client, db: asyncpg.Pool, tmp_path: Path
) -> None:
    async with db.acquire() as conn:
        await import_file(conn, FIXTURE)
    first = await client.get("/open/v1/rooms", params={"format": "csv"})
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/csv")
    text = first.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == STANDARD_COLUMNS
    assert len(rows) == await db.fetchval("SELECT count(*) FROM rooms WHERE active")
    assert rows[0]["제공기관명"].startswith("서울특별시")  # Seoul first
    exported = tmp_path / "export.csv"
    exported.write_bytes(first.content)
    async with db.acquire() as conn:
        again = await import_file(conn, exported)
    assert again.rooms_created == 0
    assert again.skipped == {}
    second = await client.get("/open/v1/rooms", params={"format": "csv"})
    assert second.content == first.content  # a fixed point: the publisher's rows come back
    as_json = await client.get("/open/v1/rooms", params={"region": "경기도"})
    assert as_json.status_code == 200
    assert {r["소재지도로명주소"].split()[0] for r in as_json.json()} == {"경기도"}


async def test_open_answers_are_cached_and_licensed(client: Client, db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await import_file(conn, FIXTURE, region="서울특별시")
    response = await client.get("/open/v1/rooms")
    assert response.headers["cache-control"] == "public, max-age=300"
    assert 'rel="license"' in response.headers["link"]
    etag = response.headers["etag"]
    again = await client.get("/open/v1/rooms", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert (await client.get("/open/v1/rooms", params={"format": "xml"})).status_code == 422
    bad = await client.get(
        "/open/v1/rooms", params={"region": "서울특별시", "district": "해운대구"}
    )
    assert bad.status_code == 422
    assert "마포구" in bad.text


def _month_range(month: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    nxt = (month + timedelta(days=32)).replace(day=1)
    return datetime(month.year, month.month, 1, tzinfo=tz), datetime(
        nxt.year, nxt.month, 1, tzinfo=tz
    )


async def test_usage_of_a_generated_month_equals_a_direct_computation(
    client: Client, db: asyncpg.Pool, settings: Settings
) -> None:
    institution = await create_institution(db)
    rooms = [await create_room(db, institution, name=f"방 {n}") for n in range(3)]
    await set_weekly_rules(db, rooms[2], [([1, 2, 3, 4, 5], "19:00", "22:00")])
    citizen = await create_user(db, settings)
    month = date(2026, 3, 1)
    lo, hi = _month_range(month, SEOUL)
    statuses = ["completed", "cancelled", "no_show", "completed", "rejected", "confirmed"]
    start = lo - timedelta(hours=2)  # the first booking reaches into the month from February
    for n in range(60):
        room = rooms[n % 3]
        length = timedelta(hours=1 + n % 3)
        await _insert_booking(
            db, room, citizen.id, start, start + length, statuses[n % len(statuses)]
        )
        start += timedelta(hours=11, minutes=30)
    await refresh_usage(db, datetime(2026, 4, 2, tzinfo=UTC), months=[month])

    answer = await client.get("/open/v1/usage", params={"month": "2026-03"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["complete"] is True
    by_room = {r["room_id"]: r for r in body["rooms"]}
    for room in rooms:
        direct = await db.fetchrow(
            """
            SELECT sum(extract(epoch FROM upper(during * tstzrange($2, $3))
                                          - lower(during * tstzrange($2, $3))))
                       FILTER (WHERE status NOT IN ('cancelled', 'rejected')) / 3600 AS booked,
                   count(*) FILTER (WHERE lower(during) >= $2 AND status NOT IN
                                    ('cancelled', 'rejected')) AS bookings,
                   count(*) FILTER (WHERE lower(during) >= $2 AND status = 'cancelled') AS cancelled,
                   count(*) FILTER (WHERE lower(during) >= $2 AND status = 'no_show') AS no_shows
            FROM bookings WHERE room_id = $1 AND during && tstzrange($2, $3)
            """,
            room,
            lo,
            hi,
        )
        assert direct is not None
        figures = by_room[str(room)]
        assert figures["booked_hours"] == round(float(direct["booked"] or 0), 2)
        assert figures["bookings"] == direct["bookings"]
        assert figures["cancellations"] == direct["cancelled"]
        assert figures["no_shows"] == direct["no_shows"]
    weekdays = sum(1 for d in range(31) if (month + timedelta(days=d)).isoweekday() <= 5)
    assert by_room[str(rooms[0])]["open_hours"] == 31 * 24
    assert by_room[str(rooms[2])]["open_hours"] == weekdays * 3
    assert by_room[str(rooms[0])]["utilisation"] == round(
        by_room[str(rooms[0])]["booked_hours"] / (31 * 24), 4
    )


async def test_a_dst_month_abroad_still_adds_up(
    client: Client, db: asyncpg.Pool, settings: Settings
) -> None:
    institution = await create_institution(
        db, name="Bürgeramt Mitte", region="Berlin", district="Mitte", timezone="Europe/Berlin"
    )
    room = await create_room(db, institution, name="Saal 1")
    citizen = await create_user(db, settings)
    # 00:00-07:00 local on the night the clocks go back (03:00 → 02:00) lasts 8 real hours.
    night = datetime(2026, 10, 25, 0, 0, tzinfo=BERLIN)
    morning = datetime(2026, 10, 25, 7, 0, tzinfo=BERLIN)
    await _insert_booking(db, room, citizen.id, night, morning, "completed")
    await refresh_usage(db, datetime(2026, 11, 2, tzinfo=UTC), months=[date(2026, 10, 1)])
    body = (await client.get("/open/v1/usage", params={"month": "2026-10"})).json()
    [figures] = [r for r in body["rooms"] if r["room_id"] == str(room)]
    assert figures["open_hours"] == 31 * 24 + 1  # the month has one hour more
    assert figures["booked_hours"] == 8
    lo, hi = _month_range(date(2026, 10, 1), BERLIN)
    real = hi.astimezone(UTC) - lo.astimezone(UTC)  # same-zone subtraction is wall time
    assert real.total_seconds() / 3600 == figures["open_hours"]


async def test_a_month_not_over_is_so_far_and_later_ones_are_refused(
    client: Client, db: asyncpg.Pool
) -> None:
    institution = await create_institution(db)
    await create_room(db, institution)
    now = datetime.now(UTC)
    this_month = now.astimezone(SEOUL).date().replace(day=1)
    missing = await client.get("/open/v1/usage", params={"month": f"{this_month:%Y-%m}"})
    assert missing.status_code == 404
    await refresh_usage(db, now)
    body = (await client.get("/open/v1/usage", params={"month": f"{this_month:%Y-%m}"})).json()
    assert body["complete"] is False
    assert datetime.fromisoformat(body["as_of"]) <= datetime.now(UTC)
    following = (this_month + timedelta(days=32)).replace(day=1)
    later = await client.get("/open/v1/usage", params={"month": f"{following:%Y-%m}"})
    assert later.status_code == 422
    for bad in ("2026-13", "26-01", "now", ""):
        assert (await client.get("/open/v1/usage", params={"month": bad})).status_code == 422


async def test_district_availability_lists_free_slots(client: Client, db: asyncpg.Pool) -> None:
    institution = await create_institution(db)
    room = await create_room(db, institution)
    await set_weekly_rules(db, room, [([1, 2, 3, 4, 5, 6, 7], "09:00", "18:00")])
    day = at(0).date()
    answer = await client.get(
        "/open/v1/availability", params={"date": day.isoformat(), "district": "마포구"}
    )
    assert answer.status_code == 200, answer.text
    [listed] = answer.json()["rooms"]
    assert listed["free"] == [{"start": at(9).isoformat(), "end": at(18).isoformat()}]
    assert (
        await client.get(
            "/open/v1/availability", params={"date": "2026-02-30", "district": "마포구"}
        )
    ).status_code == 422
    wrong = await client.get(
        "/open/v1/availability", params={"date": day.isoformat(), "district": "해운대구"}
    )
    assert wrong.status_code == 422
    busan = await client.get(
        "/open/v1/availability",
        params={"date": day.isoformat(), "district": "해운대구", "region": "부산"},
    )
    assert busan.status_code == 200
    assert busan.json()["rooms"] == []


async def test_no_personal_data_in_any_open_endpoint(
    client: Client, db: asyncpg.Pool, settings: Settings
) -> None:
    institution = await create_institution(db)
    room = await create_room(db, institution)
    citizens = [
        await create_user(db, settings, name=f"시민{n} 김비밀", email=f"secret{n}@example.org")
        for n in range(5)
    ]
    now = datetime.now(UTC)
    this_month = now.astimezone(SEOUL).date().replace(day=1)
    start = datetime(this_month.year, this_month.month, 1, 9, tzinfo=SEOUL)
    booking_ids = []
    for n, citizen in enumerate(citizens):
        begin = start + timedelta(hours=2 * n)
        await _insert_booking(
            db, room, citizen.id, begin, begin + timedelta(hours=1), "completed", f"비밀모임 {n}"
        )
        booking_ids.append(str(await db.fetchval("SELECT max(id::text) FROM bookings")))
    await refresh_usage(db, now)
    bodies = [
        (await client.get("/open/v1/rooms")).text,
        (await client.get("/open/v1/rooms", params={"format": "csv"})).content.decode("utf-8"),
        (await client.get("/open/v1/usage", params={"month": f"{this_month:%Y-%m}"})).text,
        (
            await client.get(
                "/open/v1/availability",
                params={"date": at(0).date().isoformat(), "district": "마포구"},
            )
        ).text,
    ]
    for body in bodies:
        for citizen in citizens:
            assert citizen.email not in body
            assert "김비밀" not in body
            assert str(citizen.id) not in body
        assert "비밀모임" not in body
    usage = await client.get("/open/v1/usage", params={"month": f"{this_month:%Y-%m}"})
    assert usage.json()["rooms"][0]["bookings"] == 5


async def test_open_endpoints_are_documented_with_examples(client: Client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    for path in ("/open/v1/rooms", "/open/v1/usage", "/open/v1/availability"):
        operation = document["paths"][path]["get"]
        assert "open-data" in operation["tags"]
        assert "license" in operation["description"]
    usage = document["paths"]["/open/v1/usage"]["get"]["responses"]["200"]
    assert "examples" in usage["content"]["application/json"]


async def test_lottery_demand_is_applications_per_slot_of_the_month(
    client: Client, db: asyncpg.Pool, settings: Settings
) -> None:
    """Applications (withdrawn ones apart) per lottery slot of the room starting in the month;
    null for rooms without lottery slots that month."""
    institution = await create_institution(db)
    room = await lottery_room(db, institution)
    plain = await create_room(db, institution, name="보통 방")
    manager_user = await create_user(db, settings, role="manager")
    manager = as_principal(manager_user, (institution,))
    slots = saturday_slots(2)
    round_id = await open_round(db, manager, room, slots)
    slot_ids = [
        r["id"]
        for r in await db.fetch(
            "SELECT id FROM allocation_slots WHERE round_id = $1 ORDER BY position", round_id
        )
    ]
    people = await applicants(db, settings, 5)
    for n, (_, citizen) in enumerate(people):
        await allocation.apply(db, citizen, round_id, slot_ids[n % 2], NOW)
    withdrawn = await allocation.apply(db, people[0][1], round_id, slot_ids[1], NOW)
    await allocation.withdraw(db, people[0][1], round_id, withdrawn.id, NOW)
    month = date(2026, 12, 1)
    await refresh_usage(db, datetime(2027, 1, 2, tzinfo=UTC), months=[month])

    # December has not begun for the API yet (it refuses a month not begun): read what it serves.
    figures = {r.room_id: r for r in (await usage_month(db, month)).rooms}

    assert figures[room].applications_per_slot == 2.5  # 5 live applications, 2 slots
    assert figures[plain].applications_per_slot is None
