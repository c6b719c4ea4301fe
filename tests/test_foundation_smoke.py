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


async def test_factories_build_an_open_room(db: asyncpg.Pool, settings: Settings) -> None:
    user = await create_user(db, settings)
    institution = await create_institution(db)
    room = await create_room(db, institution)
    open_hours = await db.fetchval(
        "SELECT room_open_time($1, tstzrange('2026-12-07 00:00+09', '2026-12-08 00:00+09'))", room
    )
    assert user.role == "citizen"
    assert str(open_hours.__class__.__name__)  # a multirange came back
    hours = await db.fetchval(
        "SELECT extract(epoch FROM sum(upper(r) - lower(r))) / 3600 FROM unnest(room_open_time($1, tstzrange('2026-12-07 00:00+09', '2026-12-08 00:00+09'))) r",
        room,
    )
    assert hours == 24
