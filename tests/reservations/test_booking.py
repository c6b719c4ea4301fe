"""POST /v1/bookings: the happy path, conflicts decided by the constraint, idempotency."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.reservations.queries import delete_expired_idempotency_keys
from booking.settings import Settings
from tests.concurrency import concurrent_client, run_at_once
from tests.factories import Cast, auth, create_room
from tests.reservations.conftest import at, body, row_counts


async def test_booking_is_created_confirmed_with_history_and_outbox(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    response = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(18), at(19)), headers=cast.headers("citizen_a")
    )
    assert response.status_code == 201, response.text
    booking = response.json()
    assert booking["status"] == "confirmed"
    assert booking["room_id"] == str(cast.room_x)
    assert set(booking) >= {"id", "status", "room_id", "start", "end", "purpose", "attendees"}
    assert "citizen_id" not in booking and "citizen_name" not in booking
    assert response.headers["location"] == f"/v1/bookings/{booking['id']}"
    history = await db.fetch("SELECT * FROM booking_history WHERE booking_id = $1", booking["id"])
    assert [(h["from_status"], h["to_status"], h["actor_id"]) for h in history] == [
        (None, "confirmed", cast.citizen_a.id)
    ]
    topics = await db.fetch(
        "SELECT topic, payload FROM outbox WHERE booking_id = $1", booking["id"]
    )
    assert [(t["topic"], t["payload"]) for t in topics] == [("booking.created", "{}")]
    read = await client.get(f"/v1/bookings/{booking['id']}", headers=cast.headers("citizen_a"))
    assert read.json() == booking


async def test_times_are_rfc3339_in_the_institutions_offset_and_round_trip(
    client: AsyncTestClient[Litestar], cast: Cast
) -> None:
    response = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(18), at(19)), headers=cast.headers("citizen_a")
    )
    booking = response.json()
    assert booking["start"].endswith("+09:00")  # the institution is in Asia/Seoul
    assert datetime.fromisoformat(booking["start"]) == at(18)
    assert datetime.fromisoformat(booking["end"]) == at(19)


async def test_room_requiring_approval_gives_pending_that_holds_the_slot(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    room = await create_room(db, cast.institution_x, requires_approval=True)
    first = await client.post(
        "/v1/bookings", json=body(room, at(10), at(12)), headers=cast.headers("citizen_a")
    )
    assert first.status_code == 201
    assert first.json()["status"] == "pending"
    second = await client.post(
        "/v1/bookings", json=body(room, at(11), at(13)), headers=cast.headers("citizen_b")
    )
    assert second.status_code == 409


async def test_back_to_back_bookings_do_not_conflict_but_a_microsecond_overlap_does(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    a = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(18), at(19)), headers=cast.headers("citizen_a")
    )
    b = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(19), at(20)), headers=cast.headers("citizen_b")
    )
    assert (a.status_code, b.status_code) == (201, 201)
    # A one-microsecond overlap cannot pass the API's slot rule, so go straight to the table:
    # the constraint alone must refuse it.
    holder = await db.fetchval("SELECT citizen_id FROM bookings LIMIT 1")
    try:
        await db.execute(
            """
            INSERT INTO bookings (room_id, citizen_id, during, status, attendees)
            VALUES ($1, $2, tstzrange($3, $4, '[)'), 'confirmed', 1)
            """,
            cast.room_x,
            holder,
            at(19) - timedelta(microseconds=1),
            at(19, 30),
        )
    except asyncpg.ExclusionViolationError as exc:
        assert exc.constraint_name == "booking_no_overlap"
    else:
        raise AssertionError("a one-microsecond overlap was accepted")


async def test_one_microsecond_overlap_through_the_api_is_refused(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    # A 5-minute room lets the API itself try [18:00, 19:00) then [18:59:59.999999, ...):
    # the second is refused (422 alignment or 409), never accepted.
    await client.post(
        "/v1/bookings", json=body(cast.room_x, at(18), at(19)), headers=cast.headers("citizen_a")
    )
    response = await client.post(
        "/v1/bookings",
        json=body(cast.room_x, at(19) - timedelta(microseconds=1), at(20)),
        headers=cast.headers("citizen_b"),
    )
    assert response.status_code in (409, 422)
    assert await db.fetchval("SELECT count(*) FROM bookings") == 1


async def test_conflict_is_409_with_interval_and_alternatives_but_not_the_holder(
    client: AsyncTestClient[Litestar], cast: Cast
) -> None:
    await client.post(
        "/v1/bookings", json=body(cast.room_x, at(18), at(20)), headers=cast.headers("citizen_a")
    )
    response = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(19), at(20)), headers=cast.headers("citizen_b")
    )
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("/slot-taken")
    conflicts = [
        (datetime.fromisoformat(c["start"]), datetime.fromisoformat(c["end"]))
        for c in problem["conflicts"]
    ]
    assert conflicts == [(at(18), at(20))]
    alternatives = [
        (datetime.fromisoformat(c["start"]), datetime.fromisoformat(c["end"]))
        for c in problem["alternatives"]
    ]
    assert len(alternatives) == 3
    assert alternatives[0] in {(at(20), at(21)), (at(17), at(18))}
    for start, end in alternatives:
        assert end - start == timedelta(hours=1)
        assert end <= at(18) or start >= at(20)
    text = response.text
    assert str(cast.citizen_a.id) not in text and "시민 A" not in text


async def test_a_cancelled_slot_is_free_again_at_once(
    client: AsyncTestClient[Litestar], cast: Cast
) -> None:
    first = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(18), at(19)), headers=cast.headers("citizen_a")
    )
    cancel = await client.post(
        f"/v1/bookings/{first.json()['id']}/cancel", headers=cast.headers("citizen_a")
    )
    assert cancel.status_code == 200
    again = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(18), at(19)), headers=cast.headers("citizen_b")
    )
    assert again.status_code == 201


async def test_same_key_same_body_replays_the_first_answer(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    headers = {**cast.headers("citizen_a"), "Idempotency-Key": "order-1"}
    first = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(18), at(19)), headers=headers
    )
    before = await row_counts(db)
    again = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(18), at(19)), headers=headers
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again.headers.get("idempotent-replayed") == "true"
    assert await row_counts(db) == before


async def test_same_key_other_body_is_422_and_other_callers_have_their_own_keys(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    key = {"Idempotency-Key": "order-1"}
    first = await client.post(
        "/v1/bookings",
        json=body(cast.room_x, at(18), at(19)),
        headers={**cast.headers("citizen_a"), **key},
    )
    assert first.status_code == 201
    before = await row_counts(db)
    other_body = await client.post(
        "/v1/bookings",
        json=body(cast.room_x, at(20), at(21)),
        headers={**cast.headers("citizen_a"), **key},
    )
    assert other_body.status_code == 422
    assert other_body.json()["type"].endswith("/idempotency-key-reused")
    assert await row_counts(db) == before
    # The same key from another citizen is another key.
    other_caller = await client.post(
        "/v1/bookings",
        json=body(cast.room_x, at(20), at(21)),
        headers={**cast.headers("citizen_b"), **key},
    )
    assert other_caller.status_code == 201


async def test_a_failed_attempt_does_not_consume_the_key(
    client: AsyncTestClient[Litestar], cast: Cast
) -> None:
    headers = {**cast.headers("citizen_a"), "Idempotency-Key": "order-2"}
    refused = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(18), at(19), attendees=999), headers=headers
    )
    assert refused.status_code == 422
    fixed = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(18), at(19)), headers=headers
    )
    assert fixed.status_code == 201


async def test_a_taken_slot_does_not_consume_the_key_and_names_the_conflict(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    """book() answers a slot taken before the attempt itself (no failed insert); the 409 names
    the overlapping range and alternatives, writes nothing, and leaves the key free."""
    holder = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(18), at(20)), headers=cast.headers("citizen_b")
    )
    assert holder.status_code == 201
    headers = {**cast.headers("citizen_a"), "Idempotency-Key": "order-3"}
    before = await row_counts(db)
    taken = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(19), at(20)), headers=headers
    )
    assert taken.status_code == 409
    problem = taken.json()
    assert problem["type"].endswith("/slot-taken")
    assert [(c["start"], c["end"]) for c in problem["conflicts"]] == [
        (holder.json()["start"], holder.json()["end"])
    ]
    assert problem["alternatives"] and problem["fee"]["currency"] == "KRW"
    assert await row_counts(db) == before
    assert not await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'order-3'")
    cancel = await client.post(
        f"/v1/bookings/{holder.json()['id']}/cancel", headers=cast.headers("citizen_b")
    )
    assert cancel.status_code == 200
    booked = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(19), at(20)), headers=headers
    )
    assert booked.status_code == 201
    assert booked.headers.get("idempotent-replayed") is None


async def test_overlong_or_empty_key_is_422_and_writes_nothing(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    before = await row_counts(db)
    for key in ("k" * 256, ""):
        response = await client.post(
            "/v1/bookings",
            json=body(cast.room_x, at(18), at(19)),
            headers={**cast.headers("citizen_a"), "Idempotency-Key": key},
        )
        assert response.status_code == 422, key
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await row_counts(db) == before
    ok = await client.post(
        "/v1/bookings",
        json=body(cast.room_x, at(18), at(19)),
        headers={**cast.headers("citizen_a"), "Idempotency-Key": "k" * 255},
    )
    assert ok.status_code == 201


async def test_keys_expire_after_24_hours(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    headers = {**cast.headers("citizen_a"), "Idempotency-Key": "old"}
    first = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(18), at(19)), headers=headers
    )
    assert first.status_code == 201
    await db.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    second = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(20), at(21)), headers=headers
    )
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]

    await db.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    async with db.acquire() as conn:
        assert await delete_expired_idempotency_keys(conn) == 1
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys") == 0


async def test_fifty_concurrent_identical_requests_with_one_key_make_one_booking(
    wide_server: str, wide_settings: Settings, db: asyncpg.Pool, cast: Cast
) -> None:
    headers = {**auth(cast.citizen_a), "Idempotency-Key": "double-click"}
    payload = body(cast.room_x, at(18), at(19))
    async with concurrent_client(wide_server, 50) as http:

        async def attempt() -> httpx.Response:
            return await http.post("/v1/bookings", json=payload, headers=headers)

        responses = await run_at_once([attempt for _ in range(50)])
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert await db.fetchval("SELECT count(*) FROM bookings") == 1
    assert await db.fetchval("SELECT count(*) FROM outbox") == 1
    assert await db.fetchval("SELECT count(*) FROM booking_history") == 1


async def test_alternatives_offered_again_reflect_bookings_made_since(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    """The alternatives of a slot are reused by the next loser of the same slot only while the
    room's bookings (and catalogue rows) are unchanged."""
    await client.post(
        "/v1/bookings", json=body(cast.room_x, at(18), at(19)), headers=cast.headers("citizen_a")
    )

    async def offered() -> list[tuple[datetime, datetime]]:
        response = await client.post(
            "/v1/bookings",
            json=body(cast.room_x, at(18), at(19)),
            headers=cast.headers("citizen_b"),
        )
        assert response.status_code == 409
        return [
            (datetime.fromisoformat(c["start"]), datetime.fromisoformat(c["end"]))
            for c in response.json()["alternatives"]
        ]

    first = await offered()
    assert first == await offered()
    taken = first[0]
    booked = await client.post(
        "/v1/bookings", json=body(cast.room_x, *taken), headers=cast.headers("citizen_a")
    )
    assert booked.status_code == 201
    again = await offered()
    assert taken not in again and len(again) == 3
    await db.execute(
        "INSERT INTO closures (room_id, during) VALUES ($1, tstzrange($2, $3, '[)'))",
        cast.room_x,
        *again[0],
    )
    assert again[0] not in await offered()
