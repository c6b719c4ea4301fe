"""A closure never covers a slot-holding booking: refused (409 listing them) unless the request
cancels them with a reason; a booking or reschedule racing a closure never ends inside it."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

import asyncpg
import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.settings import Settings
from tests.concurrency import concurrent_client, run_at_once
from tests.factories import Cast, User, auth, create_room, create_user

KST = timezone(timedelta(hours=9))
OVERLAPS = """
    SELECT count(*) FROM bookings b
    JOIN closures c ON c.room_id = b.room_id AND c.during && b.during
    WHERE b.holds_slot
"""


def _day(n: int) -> datetime:
    today = datetime.now(KST).replace(hour=10, minute=0, second=0, microsecond=0)
    return today + timedelta(days=n)


def _booking(room: uuid.UUID, start: datetime, hours: int = 1) -> dict[str, Any]:
    return {
        "room_id": str(room),
        "start": start.isoformat(),
        "end": (start + timedelta(hours=hours)).isoformat(),
        "purpose": "동네 모임",
        "attendees": 3,
    }


def _closure(start: datetime, hours: int, **extra: Any) -> dict[str, Any]:
    return {
        "start": start.isoformat(),
        "end": (start + timedelta(hours=hours)).isoformat(),
        "reason": "배관 공사",
        **extra,
    }


async def test_a_closure_over_bookings_is_refused_listing_them_and_nothing_is_written(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool, cast: Cast
) -> None:
    start = _day(3)
    booked = await client.post(
        "/v1/bookings", json=_booking(cast.room_x, start), headers=auth(cast.citizen_a)
    )
    assert booked.status_code == 201, booked.text
    response = await client.post(
        f"/v1/rooms/{cast.room_x}/closures",
        json=_closure(start - timedelta(hours=1), 3),
        headers=auth(cast.manager_x),
    )
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["type"].endswith("/closure-over-bookings")
    assert problem["bookings"] == [
        {
            "id": booked.json()["id"],
            "status": "confirmed",
            "start": booked.json()["start"],
            "end": booked.json()["end"],
        }
    ]
    assert cast.citizen_a.email not in response.text
    assert await db.fetchval("SELECT count(*) FROM closures") == 0
    assert await db.fetchval("SELECT status FROM bookings") == "confirmed"
    # Back to back is not over it.
    after = await client.post(
        f"/v1/rooms/{cast.room_x}/closures",
        json=_closure(start + timedelta(hours=1), 2),
        headers=auth(cast.manager_x),
    )
    assert after.status_code == 201, after.text
    assert after.json()["cancelled_bookings"] == []


async def test_cancelling_needs_a_reason(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool, cast: Cast
) -> None:
    response = await client.post(
        f"/v1/rooms/{cast.room_x}/closures",
        json=_closure(_day(3), 2, cancel_bookings=True, cancellation_reason="  "),
        headers=auth(cast.manager_x),
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["cancellation_reason"]
    assert await db.fetchval("SELECT count(*) FROM closures") == 0


async def test_a_closure_cancelling_bookings_does_it_in_its_transaction_and_tells_them(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool, cast: Cast
) -> None:
    start = _day(4)
    ids = []
    for citizen, offset in ((cast.citizen_a, 0), (cast.citizen_b, 2)):
        r = await client.post(
            "/v1/bookings",
            json=_booking(cast.room_x, start + timedelta(hours=offset)),
            headers=auth(citizen),
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    response = await client.post(
        f"/v1/rooms/{cast.room_x}/closures",
        json=_closure(
            start, 4, cancel_bookings=True, cancellation_reason="긴급 누수 공사로 닫습니다."
        ),
        headers=auth(cast.manager_x),
    )
    assert response.status_code == 201, response.text
    assert [b["id"] for b in response.json()["cancelled_bookings"]] == ids
    rows = await db.fetch(
        """
        SELECT b.status, h.reason, h.actor_id FROM bookings b
        JOIN booking_history h ON h.booking_id = b.id AND h.to_status = 'cancelled'
        ORDER BY lower(b.during)
        """
    )
    assert [(r["status"], r["reason"], r["actor_id"]) for r in rows] == [
        ("cancelled", "긴급 누수 공사로 닫습니다.", cast.manager_x.id)
    ] * 2
    topics = await db.fetch(
        "SELECT booking_id::text FROM outbox WHERE topic = 'booking.cancelled' ORDER BY id"
    )
    assert [t[0] for t in topics] == ids
    assert await db.fetchval(OVERLAPS) == 0


async def test_a_closure_made_by_another_manager_is_still_forbidden(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool, cast: Cast
) -> None:
    response = await client.post(
        f"/v1/rooms/{cast.room_x}/closures",
        json=_closure(_day(3), 2, cancel_bookings=True, cancellation_reason="x"),
        headers=auth(cast.manager_y),
    )
    assert response.status_code in (403, 404)
    assert await db.fetchval("SELECT count(*) FROM closures") == 0


async def _held_closure(db: asyncpg.Pool, room: uuid.UUID, start: datetime, hours: int) -> Any:
    """A closure transaction, as the service runs it, left open (the room's turn held)."""
    conn = await db.acquire()
    tx = conn.transaction()
    await tx.start()
    await conn.execute("SELECT pg_advisory_xact_lock(31, hashtext($1::uuid::text))", room)
    await conn.execute(
        "INSERT INTO closures (room_id, during) VALUES ($1, tstzrange($2, $3, '[)'))",
        room,
        start,
        start + timedelta(hours=hours),
    )
    return conn, tx


async def _blocked_until(request: asyncio.Task[httpx.Response], db: asyncpg.Pool) -> None:
    """Wait until the request waits on the room's advisory lock."""
    for _ in range(200):
        waiting = await db.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        )
        if waiting:
            return
        assert not request.done(), request.result().text
        await asyncio.sleep(0.02)
    raise AssertionError("the request never waited for the closure's turn")


async def test_a_booking_that_passed_its_checks_before_the_closure_committed_is_refused(
    live_server: str, db: asyncpg.Pool, cast: Cast
) -> None:
    """The hard interleaving, pinned: the closure holds the room's turn, uncommitted; a booking
    inside it passes its policy check (it cannot see the closure yet) and waits for the turn;
    the closure commits; the booking is then refused (the trigger sees the closure)."""
    start = _day(5)
    conn, tx = await _held_closure(db, cast.room_x, start, 4)
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        request = asyncio.create_task(
            http.post(
                "/v1/bookings",
                json=_booking(cast.room_x, start + timedelta(hours=1)),
                headers=auth(cast.citizen_a),
            )
        )
        try:
            await _blocked_until(request, db)
        finally:
            await tx.commit()
            await db.release(conn)
        response = await request
    assert response.status_code == 422, response.text
    assert response.json()["rule"] == "outside_opening_hours"
    assert await db.fetchval("SELECT count(*) FROM bookings") == 0


async def test_a_reschedule_into_a_closure_being_made_is_refused(
    live_server: str, db: asyncpg.Pool, cast: Cast
) -> None:
    start = _day(6)
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        booked = await http.post(
            "/v1/bookings",
            json=_booking(cast.room_x, start + timedelta(hours=6)),
            headers=auth(cast.citizen_a),
        )
        assert booked.status_code == 201, booked.text
        conn, tx = await _held_closure(db, cast.room_x, start, 4)
        moved = _booking(cast.room_x, start + timedelta(hours=1))
        request = asyncio.create_task(
            http.patch(
                f"/v1/bookings/{booked.json()['id']}",
                json={"start": moved["start"], "end": moved["end"]},
                headers=auth(cast.citizen_a),
            )
        )
        try:
            await _blocked_until(request, db)
        finally:
            await tx.commit()
            await db.release(conn)
        response = await request
    assert response.status_code == 422, response.text
    assert await db.fetchval(OVERLAPS) == 0
    assert await db.fetchval("SELECT lower(during) FROM bookings") == start + timedelta(hours=6)


ROUNDS = 12
BOOKERS = 6


async def test_bookings_and_reschedules_racing_closures_never_end_inside_one(
    live_server: str, db: asyncpg.Pool, settings: Settings, cast: Cast
) -> None:
    """Each round fires at once: six bookings inside a four-hour range (two pairs on the same
    slot), a reschedule of a booking into it, and a closure over it (every other round with
    ``cancel_bookings``). Afterwards no slot-holding booking overlaps any closure, and every
    answer is an ordinary one (201/200, 409, 422)."""
    room = await create_room(db, cast.institution_x, name="경합 시험실", max_active_per_citizen=50)
    citizens: list[User] = [
        await create_user(db, settings, name=f"시민 {i}") for i in range(BOOKERS)
    ]
    mover = await create_user(db, settings, name="옮기는 시민")
    statuses: Counter[tuple[str, int]] = Counter()
    async with concurrent_client(live_server, BOOKERS + 4) as http:
        for r in range(ROUNDS):
            start = _day(2 + r)
            pre = await http.post(
                "/v1/bookings",
                json=_booking(room, start + timedelta(hours=6)),
                headers=auth(mover),
            )
            assert pre.status_code == 201, pre.text
            moved = _booking(room, start + timedelta(hours=3))
            cancel = r % 2 == 1
            calls: list[Callable[[], Awaitable[httpx.Response]]] = [
                partial(
                    http.post,
                    "/v1/bookings",
                    json=_booking(room, start + timedelta(hours=i % 3)),
                    headers=auth(c),
                )
                for i, c in enumerate(citizens)
            ]
            calls.append(
                partial(
                    http.patch,
                    f"/v1/bookings/{pre.json()['id']}",
                    json={"start": moved["start"], "end": moved["end"]},
                    headers=auth(mover),
                )
            )
            extra = {"cancel_bookings": True, "cancellation_reason": "공사"} if cancel else {}
            calls.append(
                partial(
                    http.post,
                    f"/v1/rooms/{room}/closures",
                    json=_closure(start, 4, **extra),
                    headers=auth(cast.manager_x),
                )
            )
            answers = await run_at_once(calls)
            kinds = ["book"] * BOOKERS + ["reschedule", "close+cancel" if cancel else "close"]
            for kind, answer in zip(kinds, answers, strict=True):
                statuses[(kind, answer.status_code)] += 1
                assert answer.status_code in (200, 201, 409, 422), (kind, answer.text)
            assert await db.fetchval(OVERLAPS) == 0, f"round {r}"
    print(f"\nclosure race outcomes: {sorted(statuses.items())}")
    assert statuses[("close+cancel", 201)] == ROUNDS // 2
    assert await db.fetchval(OVERLAPS) == 0
