"""Cancel, approve, reject, reschedule, reads and lists: statuses, history, sequence, outbox."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Cast, create_room
from tests.reservations.conftest import SEOUL, at, body, row_counts


async def _book(
    client: AsyncTestClient[Litestar],
    room: uuid.UUID,
    start: datetime,
    end: datetime,
    who: str,
    cast: Cast,
) -> dict[str, Any]:
    response = await client.post(
        "/v1/bookings", json=body(room, start, end), headers=cast.headers(who)
    )
    assert response.status_code == 201, response.text
    booking: dict[str, Any] = response.json()
    return booking


async def _topics(db: asyncpg.Pool, booking_id: str) -> list[str]:
    rows = await db.fetch("SELECT topic FROM outbox WHERE booking_id = $1 ORDER BY id", booking_id)
    return [r["topic"] for r in rows]


async def test_owner_cancels_before_start_with_history_sequence_and_outbox(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    booking = await _book(client, cast.room_x, at(18), at(19), "citizen_a", cast)
    response = await client.post(
        f"/v1/bookings/{booking['id']}/cancel",
        json={"reason": "아파요"},
        headers=cast.headers("citizen_a"),
    )
    assert response.status_code == 200
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["sequence"] == booking["sequence"] + 1
    assert cancelled["updated_at"] > booking["updated_at"]
    history = await db.fetch(
        "SELECT from_status, to_status, actor_id, reason FROM booking_history WHERE booking_id = $1 ORDER BY id",
        booking["id"],
    )
    assert [tuple(h) for h in history][-1] == (
        "confirmed",
        "cancelled",
        cast.citizen_a.id,
        "아파요",
    )
    assert await _topics(db, booking["id"]) == ["booking.created", "booking.cancelled"]
    again = await client.post(
        f"/v1/bookings/{booking['id']}/cancel", headers=cast.headers("citizen_a")
    )
    assert again.status_code == 409
    assert again.json()["current_status"] == "cancelled"


async def test_manager_cancels_only_with_a_reason(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    booking = await _book(client, cast.room_x, at(18), at(19), "citizen_a", cast)
    before = await row_counts(db)
    no_reason = await client.post(
        f"/v1/bookings/{booking['id']}/cancel", headers=cast.headers("manager_x")
    )
    assert no_reason.status_code == 422
    assert await row_counts(db) == before
    ok = await client.post(
        f"/v1/bookings/{booking['id']}/cancel",
        json={"reason": "누수 공사"},
        headers=cast.headers("manager_x"),
    )
    assert ok.status_code == 200
    assert ok.json()["status"] == "cancelled"
    assert ok.json()["citizen_name"] == "시민 A"


async def test_cancelling_a_past_booking_is_409_with_its_status(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    start = datetime.now(SEOUL) - timedelta(days=1)
    booking_id = await db.fetchval(
        """
        INSERT INTO bookings (room_id, citizen_id, during, status, attendees)
        VALUES ($1, $2, tstzrange($3, $4, '[)'), 'confirmed', 2) RETURNING id
        """,
        cast.room_x,
        cast.citizen_a.id,
        start,
        start + timedelta(hours=1),
    )
    for who, extra in (("citizen_a", {}), ("manager_x", {"reason": "정리"})):
        response = await client.post(
            f"/v1/bookings/{booking_id}/cancel", json=extra or None, headers=cast.headers(who)
        )
        assert response.status_code == 409
        assert response.json()["current_status"] == "confirmed"


async def test_approve_and_reject_pending_bookings(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    room = await create_room(db, cast.institution_x, requires_approval=True)
    first = await _book(client, room, at(10), at(11), "citizen_a", cast)
    second = await _book(client, room, at(12), at(13), "citizen_b", cast)
    assert first["status"] == second["status"] == "pending"
    owner_try = await client.post(
        f"/v1/bookings/{first['id']}/approve", headers=cast.headers("citizen_a")
    )
    assert owner_try.status_code == 403
    approved = await client.post(
        f"/v1/bookings/{first['id']}/approve", headers=cast.headers("manager_x")
    )
    assert approved.status_code == 200
    assert approved.json()["status"] == "confirmed"
    no_reason = await client.post(
        f"/v1/bookings/{second['id']}/reject", json={}, headers=cast.headers("manager_x")
    )
    assert no_reason.status_code == 422
    rejected = await client.post(
        f"/v1/bookings/{second['id']}/reject",
        json={"reason": "행사 중복"},
        headers=cast.headers("admin"),
    )
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"
    assert await _topics(db, first["id"]) == ["booking.created", "booking.approved"]
    assert await _topics(db, second["id"]) == ["booking.created", "booking.rejected"]
    # The rejected slot is free again.
    await _book(client, room, at(12), at(13), "citizen_a", cast)


async def test_approving_a_cancelled_booking_is_409_with_its_status(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    room = await create_room(db, cast.institution_x, requires_approval=True)
    booking = await _book(client, room, at(10), at(11), "citizen_a", cast)
    await client.post(f"/v1/bookings/{booking['id']}/cancel", headers=cast.headers("citizen_a"))
    before = await row_counts(db)
    response = await client.post(
        f"/v1/bookings/{booking['id']}/approve", headers=cast.headers("manager_x")
    )
    assert response.status_code == 409
    assert response.json()["current_status"] == "cancelled"
    assert await row_counts(db) == before
    confirmed = await _book(client, cast.room_x, at(10), at(11), "citizen_a", cast)
    response = await client.post(
        f"/v1/bookings/{confirmed['id']}/approve", headers=cast.headers("manager_x")
    )
    assert response.status_code == 409
    assert response.json()["current_status"] == "confirmed"


async def test_reschedule_moves_the_booking_and_bumps_the_sequence(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    booking = await _book(client, cast.room_x, at(18), at(19), "citizen_a", cast)
    response = await client.patch(
        f"/v1/bookings/{booking['id']}",
        json={"start": at(20).isoformat(), "end": at(22).isoformat()},
        headers=cast.headers("citizen_a"),
    )
    assert response.status_code == 200, response.text
    moved = response.json()
    assert datetime.fromisoformat(moved["start"]) == at(20)
    assert datetime.fromisoformat(moved["end"]) == at(22)
    assert moved["sequence"] == 1
    assert await _topics(db, booking["id"]) == ["booking.created", "booking.rescheduled"]
    # The old slot is free at once.
    await _book(client, cast.room_x, at(18), at(19), "citizen_b", cast)


async def test_a_conflicting_reschedule_is_409_and_leaves_the_booking_untouched(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    mine = await _book(client, cast.room_x, at(18), at(19), "citizen_a", cast)
    await _book(client, cast.room_x, at(20), at(21), "citizen_b", cast)
    before = await row_counts(db)
    response = await client.patch(
        f"/v1/bookings/{mine['id']}",
        json={"start": at(20).isoformat(), "end": at(21).isoformat()},
        headers=cast.headers("citizen_a"),
    )
    assert response.status_code == 409
    problem = response.json()
    assert [datetime.fromisoformat(c["start"]) for c in problem["conflicts"]] == [at(20)]
    assert await row_counts(db) == before
    after = await client.get(f"/v1/bookings/{mine['id']}", headers=cast.headers("citizen_a"))
    assert after.json() == mine
    policy = await client.patch(
        f"/v1/bookings/{mine['id']}",
        json={"start": at(20, 10).isoformat(), "end": at(21).isoformat()},
        headers=cast.headers("citizen_a"),
    )
    assert policy.status_code == 422
    assert policy.json()["rule"] == "slot_alignment"
    other = await client.patch(
        f"/v1/bookings/{mine['id']}",
        json={"start": at(22).isoformat(), "end": at(23).isoformat()},
        headers=cast.headers("manager_x"),
    )
    assert other.status_code == 403


async def test_rescheduling_in_an_approval_room_needs_approval_again(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    room = await create_room(db, cast.institution_x, requires_approval=True)
    booking = await _book(client, room, at(10), at(11), "citizen_a", cast)
    await client.post(f"/v1/bookings/{booking['id']}/approve", headers=cast.headers("manager_x"))
    moved = await client.patch(
        f"/v1/bookings/{booking['id']}",
        json={"start": at(14).isoformat(), "end": at(15).isoformat()},
        headers=cast.headers("citizen_a"),
    )
    assert moved.json()["status"] == "pending"


async def test_my_bookings_filters_and_pages(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    room = await create_room(db, cast.institution_x, max_active_per_citizen=10)
    made = [
        await _book(client, room, at(h), at(h + 1), "citizen_a", cast) for h in (8, 10, 12, 14, 16)
    ]
    await _book(client, room, at(18), at(19), "citizen_b", cast)
    await client.post(f"/v1/bookings/{made[0]['id']}/cancel", headers=cast.headers("citizen_a"))
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (
            await client.get("/v1/me/bookings", params=params, headers=cast.headers("citizen_a"))
        ).json()
        seen += [b["id"] for b in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert seen == [b["id"] for b in made]
    confirmed = await client.get(
        "/v1/me/bookings", params={"status": "confirmed"}, headers=cast.headers("citizen_a")
    )
    assert [b["id"] for b in confirmed.json()["items"]] == [b["id"] for b in made[1:]]
    window = await client.get(
        "/v1/me/bookings",
        params={"from": at(11).isoformat(), "to": at(14).isoformat()},
        headers=cast.headers("citizen_a"),
    )
    assert [b["id"] for b in window.json()["items"]] == [made[2]["id"]]
    bad = await client.get(
        "/v1/me/bookings", params={"status": "lost"}, headers=cast.headers("citizen_a")
    )
    assert bad.status_code in (400, 422)
    bad_cursor = await client.get(
        "/v1/me/bookings", params={"cursor": "zzz"}, headers=cast.headers("citizen_a")
    )
    assert bad_cursor.status_code == 422


async def test_institution_bookings_show_names_to_managers_only(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    a = await _book(client, cast.room_x, at(10), at(11), "citizen_a", cast)
    await _book(client, cast.room_y, at(10), at(11), "citizen_b", cast)
    page = await client.get(
        f"/v1/institutions/{cast.institution_x}/bookings", headers=cast.headers("manager_x")
    )
    assert page.status_code == 200
    items = page.json()["items"]
    assert [(b["id"], b["citizen_name"]) for b in items] == [(a["id"], "시민 A")]
    by_room = await client.get(
        f"/v1/institutions/{cast.institution_x}/bookings",
        params={"room_id": str(cast.room_y)},
        headers=cast.headers("admin"),
    )
    assert by_room.json()["items"] == []
    mine = await client.get(f"/v1/bookings/{a['id']}", headers=cast.headers("citizen_a"))
    assert "citizen_name" not in mine.json()
    unknown = await client.get(
        f"/v1/institutions/{uuid.uuid4()}/bookings", headers=cast.headers("admin")
    )
    assert unknown.status_code == 404
