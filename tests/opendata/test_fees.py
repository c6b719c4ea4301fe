"""Price quotes: one rule (sql/functions/booking_fee.sql) in every booking answer and in a 409."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Cast, auth, create_institution, create_room
from tests.reservations.conftest import at, body

Client = AsyncTestClient[Litestar]


async def _priced_room(
    db: asyncpg.Pool,
    *,
    fee: int | None,
    base: float | None = None,
    unit: float | None = None,
    overtime: int | None = None,
) -> uuid.UUID:
    institution = await create_institution(db, name=f"요금 시험 {uuid.uuid4().hex[:6]}")
    room = await create_room(db, institution, max_minutes=600, min_minutes=30)
    await db.execute(
        "UPDATE rooms SET fee_krw = $2, fee_base_hours = $3, overtime_unit_hours = $4,"
        " overtime_fee_krw = $5 WHERE id = $1",
        room,
        fee,
        base,
        unit,
        overtime,
    )
    return room


async def _quote(db: asyncpg.Pool, room: uuid.UUID, start: datetime, end: datetime) -> Any:
    return await db.fetchval("SELECT booking_fee($1, $2, $3)::jsonb::text", room, start, end)


async def _book(client: Client, cast: Cast, room: uuid.UUID, start: datetime, end: datetime) -> Any:
    response = await client.post(
        "/v1/bookings", json=body(room, start, end), headers=auth(cast.citizen_a)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_free_room_quotes_zero(client: Client, cast: Cast, db: asyncpg.Pool) -> None:
    room = await _priced_room(db, fee=0)
    booking = await _book(client, cast, room, at(10), at(13))
    assert booking["fee"] == {"amount": 0, "currency": "KRW", "breakdown": []}


async def test_every_block_begun_is_paid(client: Client, cast: Cast, db: asyncpg.Pool) -> None:
    room = await _priced_room(db, fee=10_000, base=2)
    booking = await _book(client, cast, room, at(10), at(15))  # 5 h = 3 blocks of 2 h
    assert booking["fee"] == {
        "amount": 30_000,
        "currency": "KRW",
        "breakdown": [{"item": "block", "count": 3, "hours": 2, "unit_krw": 10_000, "krw": 30_000}],
    }
    # Reading it answers the same quote (the same SQL function).
    read = await client.get(f"/v1/bookings/{booking['id']}", headers=auth(cast.citizen_a))
    assert read.json()["fee"] == booking["fee"]


async def test_one_block_then_overtime_units(client: Client, cast: Cast, db: asyncpg.Pool) -> None:
    room = await _priced_room(db, fee=30_000, base=2, unit=0.5, overtime=5_000)
    booking = await _book(client, cast, room, at(10), at(13, 30))  # 2 h + 3 × 30 min
    assert booking["fee"]["amount"] == 45_000
    assert booking["fee"]["breakdown"] == [
        {"item": "block", "count": 1, "hours": 2, "unit_krw": 30_000, "krw": 30_000},
        {"item": "overtime", "count": 3, "hours": 0.5, "unit_krw": 5_000, "krw": 15_000},
    ]


async def test_a_booking_shorter_than_one_block_pays_one_block(
    client: Client, cast: Cast, db: asyncpg.Pool
) -> None:
    room = await _priced_room(db, fee=20_000, base=4, unit=1, overtime=4_000)
    booking = await _book(client, cast, room, at(10), at(11))
    assert booking["fee"]["amount"] == 20_000
    assert booking["fee"]["breakdown"] == [
        {"item": "block", "count": 1, "hours": 4, "unit_krw": 20_000, "krw": 20_000}
    ]


async def test_an_unpublished_fee_quotes_no_amount(db: asyncpg.Pool) -> None:
    room = await _priced_room(db, fee=None)
    assert await _quote(db, room, at(10), at(12)) == (
        '{"amount": null, "currency": "KRW", "breakdown": []}'
    )


async def test_a_409_quotes_the_range_and_each_alternative(
    client: Client, cast: Cast, db: asyncpg.Pool
) -> None:
    room = await _priced_room(db, fee=10_000, base=1)
    await _book(client, cast, room, at(10), at(12))
    response = await client.post(
        "/v1/bookings", json=body(room, at(10), at(12)), headers=auth(cast.citizen_b)
    )
    assert response.status_code == 409
    problem = response.json()
    quote = {
        "amount": 20_000,
        "currency": "KRW",
        "breakdown": [{"item": "block", "count": 2, "hours": 1, "unit_krw": 10_000, "krw": 20_000}],
    }
    assert problem["fee"] == quote
    assert problem["alternatives"]
    assert all(alternative["fee"] == quote for alternative in problem["alternatives"])


async def test_a_room_without_a_published_capacity_takes_bookings(
    client: Client, cast: Cast, db: asyncpg.Pool
) -> None:
    room = await _priced_room(db, fee=0)
    await db.execute("UPDATE rooms SET capacity = NULL WHERE id = $1", room)
    response = await client.post(
        "/v1/bookings",
        json=body(room, at(10), at(12), attendees=500),
        headers=auth(cast.citizen_a),
    )
    assert response.status_code == 201, response.text
