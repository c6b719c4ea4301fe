"""Roles are capabilities, not a replacement: a manager or an admin is still a resident who
books for themself; nobody decides on their own booking; an appointment's powers end with it;
an account books only once its e-mail address is verified."""

from __future__ import annotations

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.settings import Settings
from tests.factories import Cast, auth, create_room, create_user
from tests.reservations.conftest import at, body, row_counts


async def _history(db: asyncpg.Pool, booking_id: str) -> list[str]:
    rows = await db.fetch(
        "SELECT to_status FROM booking_history WHERE booking_id = $1 ORDER BY id", booking_id
    )
    return [r["to_status"] for r in rows]


async def test_a_manager_books_their_own_institution_but_another_one_decides(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    room = await create_room(db, cast.institution_x, requires_approval=True)
    booked = await client.post(
        "/v1/bookings", json=body(room, at(10), at(11)), headers=cast.headers("manager_x")
    )
    assert booked.status_code == 201, booked.text
    booking = booked.json()
    assert booking["status"] == "pending"

    before = await row_counts(db)
    for action, payload in (("approve", None), ("reject", {"reason": "내가 반려"})):
        refused = await client.post(
            f"/v1/bookings/{booking['id']}/{action}",
            json=payload,
            headers=cast.headers("manager_x"),
        )
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith("/own-booking")
        assert "own booking" in refused.json()["detail"]
    assert await row_counts(db) == before  # refused requests write nothing
    assert await _history(db, booking["id"]) == ["pending"]

    # An administrator (or another manager of the institution, below) decides.
    approved = await client.post(
        f"/v1/bookings/{booking['id']}/approve", headers=cast.headers("admin")
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "confirmed"


async def test_a_colleague_manager_decides_a_managers_booking(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool, settings: Settings
) -> None:
    colleague = await create_user(db, settings, role="manager", name="동료 관리자")
    await db.execute(
        "INSERT INTO institution_managers (institution_id, user_id) VALUES ($1, $2)",
        cast.institution_x,
        colleague.id,
    )
    room = await create_room(db, cast.institution_x, requires_approval=True)
    booked = await client.post(
        "/v1/bookings", json=body(room, at(12), at(13)), headers=cast.headers("manager_x")
    )
    assert booked.status_code == 201, booked.text
    rejected = await client.post(
        f"/v1/bookings/{booked.json()['id']}/reject",
        json={"reason": "정기 점검"},
        headers=auth(colleague),
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"


async def test_an_admin_books_and_may_not_approve_it(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    room = await create_room(db, cast.institution_y, requires_approval=True)
    booked = await client.post(
        "/v1/bookings", json=body(room, at(14), at(15)), headers=cast.headers("admin")
    )
    assert booked.status_code == 201, booked.text
    refused = await client.post(
        f"/v1/bookings/{booked.json()['id']}/approve", headers=cast.headers("admin")
    )
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/own-booking")
    approved = await client.post(
        f"/v1/bookings/{booked.json()['id']}/approve", headers=cast.headers("manager_y")
    )
    assert approved.status_code == 200, approved.text


async def test_a_manager_cancels_their_own_booking_as_its_owner(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    """No reason needed (they are the owner), and the owner's rules apply, not a manager's."""
    booked = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(16), at(17)), headers=cast.headers("manager_x")
    )
    assert booked.status_code == 201, booked.text
    cancelled = await client.post(
        f"/v1/bookings/{booked.json()['id']}/cancel", headers=cast.headers("manager_x")
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"


async def test_removing_an_appointment_removes_its_powers_at_once(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    room = await create_room(db, cast.institution_x, requires_approval=True)
    booked = await client.post(
        "/v1/bookings", json=body(room, at(18), at(19)), headers=cast.headers("citizen_a")
    )
    assert booked.status_code == 201, booked.text
    listing = f"/v1/institutions/{cast.institution_x}/bookings"
    assert (await client.get(listing, headers=cast.headers("manager_x"))).status_code == 200

    removed = await client.delete(
        f"/v1/institutions/{cast.institution_x}/managers/{cast.manager_x.id}",
        headers=cast.headers("admin"),
    )
    assert removed.status_code == 204
    # The same (still unexpired) token: the principal is read per request.
    assert (await client.get(listing, headers=cast.headers("manager_x"))).status_code == 403
    approve = await client.post(
        f"/v1/bookings/{booked.json()['id']}/approve", headers=cast.headers("manager_x")
    )
    assert approve.status_code == 404  # no longer theirs to see
    # Still a resident: books for themself.
    own = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(20), at(21)), headers=cast.headers("manager_x")
    )
    assert own.status_code == 201, own.text


async def test_an_unverified_account_may_not_book_and_nothing_is_written(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool, settings: Settings
) -> None:
    fresh = await create_user(db, settings, verified=False)
    before = await row_counts(db)
    refused = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(9), at(10)), headers=auth(fresh)
    )
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("/email-unverified")
    assert await row_counts(db) == before

    await db.execute("UPDATE users SET email_verified_at = now() WHERE id = $1", fresh.id)
    booked = await client.post(
        "/v1/bookings", json=body(cast.room_x, at(9), at(10)), headers=auth(fresh)
    )
    assert booked.status_code == 201, booked.text
