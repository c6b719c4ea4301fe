from __future__ import annotations

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.settings import Settings
from tests.factories import create_institution, create_room, create_user


async def test_healthz_answers(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]


async def test_factories_build_a_citizen_and_a_room_open_all_day(
    db: asyncpg.Pool, settings: Settings
) -> None:
    user = await create_user(db, settings)
    room = await create_room(db, await create_institution(db))
    assert await db.fetchval("SELECT role FROM users WHERE id = $1", user.id) == "citizen"
    # 00:00-24:00 every day: a Seoul Monday is one 24-hour open range.
    hours = await db.fetchval(
        "SELECT extract(epoch FROM sum(upper(r) - lower(r))) / 3600 FROM unnest(room_open_time($1, tstzrange('2026-12-07 00:00+09', '2026-12-08 00:00+09'))) r",
        room,
    )
    assert hours == 24
