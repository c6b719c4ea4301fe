"""The invitation the e-mail worker attaches: same UID as the feeds, METHOD, SEQUENCE, people."""

from __future__ import annotations

import uuid

import asyncpg

from booking.feeds.ical import booking_invite
from tests.factories import Cast
from tests.feeds.helpers import T0, cancel_booking, create_booking
from tests.feeds.ics_reader import parse_ics, parse_utc

BASE = "https://nanum.example"


async def test_request_invite_names_organizer_attendee_and_place(
    db: asyncpg.Pool, cast: Cast
) -> None:
    booking_id = await create_booking(
        db, cast.room_x, cast.citizen_a.id, T0, purpose="독서 모임", attendees=7
    )
    async with db.acquire() as conn:
        data = await booking_invite(
            conn, booking_id, "REQUEST", BASE, organizer="Nanum <no-reply@nanum.example>"
        )
    assert data is not None
    cal = parse_ics(data)
    assert cal.get("METHOD").value == "REQUEST"
    [event] = cal.components("VEVENT")
    assert event.get("UID").value == f"{booking_id}@nanum"
    assert event.get("SEQUENCE").value == "0"
    assert parse_utc(event.get("DTSTART").value) == T0
    assert event.get("ORGANIZER").value == "mailto:no-reply@nanum.example"
    attendee = event.get("ATTENDEE")
    assert attendee.value == f"mailto:{cast.citizen_a.email}"
    assert attendee.params["CN"] == "시민 A"
    assert "마포 회의실" in event.get("SUMMARY").text
    assert "Booking" in event.get("SUMMARY").text
    assert "독서 모임" in event.get("DESCRIPTION").text
    assert "서울특별시 마포구 월드컵로 1" in event.get("LOCATION").text
    assert event.get("GEO").value == "37.5556;126.902"
    assert event.get("URL").value == f"{BASE}/v1/bookings/{booking_id}"
    assert event.get("STATUS").value == "CONFIRMED"


async def test_cancel_invite_keeps_uid_and_raises_sequence(db: asyncpg.Pool, cast: Cast) -> None:
    booking_id = await create_booking(db, cast.room_x, cast.citizen_a.id, T0)
    await cancel_booking(db, booking_id)
    async with db.acquire() as conn:
        data = await booking_invite(conn, booking_id, "CANCEL", BASE)
    assert data is not None
    cal = parse_ics(data)
    assert cal.get("METHOD").value == "CANCEL"
    [event] = cal.components("VEVENT")
    assert event.get("UID").value == f"{booking_id}@nanum"
    assert event.get("SEQUENCE").value == "1"
    assert event.get("STATUS").value == "CANCELLED"


async def test_invite_for_unknown_booking_is_none(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        assert await booking_invite(conn, uuid.uuid4(), "REQUEST", BASE) is None
