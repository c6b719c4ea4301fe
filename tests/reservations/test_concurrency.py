"""Real concurrency over real connections: the constraint alone keeps every slot single."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from booking.settings import Settings
from tests.concurrency import concurrent_client, run_at_once
from tests.factories import Cast, auth, create_room
from tests.reservations.conftest import at, body, create_citizens

OVERLAP_AUDIT = """
SELECT count(*)
FROM bookings a JOIN bookings b
  ON a.room_id = b.room_id AND a.id < b.id AND a.during && b.during
WHERE a.status IN ('pending', 'confirmed', 'checked_in')
  AND b.status IN ('pending', 'confirmed', 'checked_in')
"""


@pytest.mark.slow
async def test_hot_slot_200_citizens_one_winner(
    wide_server: str, wide_settings: Settings, db: asyncpg.Pool, cast: Cast
) -> None:
    citizens = await create_citizens(db, wide_settings, 200)
    payload = body(cast.room_x, at(19), at(21))
    async with concurrent_client(wide_server, 200) as http:

        def attempt(token: dict[str, str]) -> Any:
            async def call() -> httpx.Response:
                return await http.post("/v1/bookings", json=payload, headers=token)

            return call

        responses = await run_at_once([attempt(auth(c)) for c in citizens])
    counts = Counter(r.status_code for r in responses)
    assert counts == {201: 1, 409: 199}, counts
    loser = next(r for r in responses if r.status_code == 409).json()
    assert [datetime.fromisoformat(c["start"]) for c in loser["conflicts"]] == [at(19)]
    assert await db.fetchval("SELECT count(*) FROM bookings") == 1
    assert await db.fetchval(OVERLAP_AUDIT) == 0


@pytest.mark.slow
async def test_storm_of_overlapping_bookings_cancels_and_reschedules_never_double_books(
    wide_server: str, wide_settings: Settings, db: asyncpg.Pool, cast: Cast
) -> None:
    attempts, clients = 5000, 50
    rooms = [
        await create_room(db, cast.institution_x, max_active_per_citizen=50, name=f"방 {i}")
        for i in range(20)
    ]
    citizens = await create_citizens(db, wide_settings, clients)
    # Two days of 30-minute slots, 1-3 hour bookings: heavy overlap on purpose.
    starts = [at(0, offset=2) + timedelta(minutes=30 * k) for k in range(2 * 48 - 6)]
    rng = random.Random(20261205)
    remaining = attempts
    created: set[str] = set()
    last_seen: dict[str, tuple[str, str, str]] = {}  # id -> (status, start, end) last answered
    statuses: Counter[int] = Counter()

    def slot() -> tuple[datetime, datetime]:
        start = rng.choice(starts)
        return start, start + timedelta(minutes=30 * rng.choice((2, 3, 4, 6)))

    async def run_client(headers: dict[str, str], http: httpx.AsyncClient) -> None:
        nonlocal remaining
        mine: list[str] = []
        while remaining > 0:
            remaining -= 1
            roll = rng.random()
            if mine and roll < 0.15:
                booking_id = mine.pop(rng.randrange(len(mine)))
                r = await http.post(f"/v1/bookings/{booking_id}/cancel", headers=headers)
            elif mine and roll < 0.30:
                booking_id = rng.choice(mine)
                start, end = slot()
                r = await http.patch(
                    f"/v1/bookings/{booking_id}",
                    json={"start": start.isoformat(), "end": end.isoformat()},
                    headers=headers,
                )
            else:
                start, end = slot()
                r = await http.post(
                    "/v1/bookings", json=body(rng.choice(rooms), start, end), headers=headers
                )
                if r.status_code == 201:
                    created.add(r.json()["id"])
                    mine.append(r.json()["id"])
            statuses[r.status_code] += 1
            if r.status_code in (200, 201):
                b = r.json()
                last_seen[b["id"]] = (b["status"], b["start"], b["end"])

    async with concurrent_client(wide_server, clients) as http:
        await asyncio.gather(*(run_client(auth(c), http) for c in citizens))

    assert sum(statuses.values()) == attempts
    assert not [s for s in statuses if s >= 500], statuses
    assert set(statuses) <= {200, 201, 409, 422}, statuses
    assert statuses[201] > 100 and statuses[409] > 100, statuses
    assert await db.fetchval(OVERLAP_AUDIT) == 0
    # Every 201 the clients saw is in the table, in the state the last answer showed.
    rows = await db.fetch(
        "SELECT id, status, lower(during) AS start, upper(during) AS end FROM bookings "
        "WHERE id = ANY($1::uuid[])",
        [uuid.UUID(i) for i in created],
    )
    assert len(rows) == len(created)
    for row in rows:
        status, start, end = last_seen[str(row["id"])]
        assert row["status"] == status
        assert row["start"] == datetime.fromisoformat(start)
        assert row["end"] == datetime.fromisoformat(end)
