"""Who may call the booking endpoints: every role of the cast, every endpoint."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.settings import Settings
from tests.accounts.matrix import Case, MatrixContext, assert_matrix, statuses
from tests.factories import Cast, create_room
from tests.reservations.conftest import at

# Every cell gets its own hour (spread over days), so cells never conflict with each other.
_slots = itertools.count()


def _next_slot() -> tuple[str, str]:
    n = next(_slots)
    start = at(n % 20, offset=2 + n // 20)
    return start.isoformat(), at(n % 20 + 1, offset=2 + n // 20).isoformat()


async def _insert(
    context: MatrixContext, room: object, status: str, owner: str = "citizen_a"
) -> str:
    start, end = _next_slot()
    booking_id = await context.db.fetchval(
        """
        INSERT INTO bookings (room_id, citizen_id, during, status, attendees)
        VALUES ($1, $2, tstzrange($3::text::timestamptz, $4::text::timestamptz, '[)'), $5, 2)
        RETURNING id
        """,
        room,
        getattr(context.cast, owner).id,
        start,
        end,
        status,
    )
    return str(booking_id)


async def new_slot(context: MatrixContext) -> Mapping[str, object]:
    start, end = _next_slot()
    return {"start": start, "end": end}


async def booking_of_a(context: MatrixContext) -> Mapping[str, object]:
    """A confirmed booking of citizen A in room X (institution X), plus a free slot."""
    start, end = _next_slot()
    return {
        "booking": await _insert(context, context.cast.room_x, "confirmed"),
        "start": start,
        "end": end,
    }


async def pending_booking_of_a(context: MatrixContext) -> Mapping[str, object]:
    room = await create_room(context.db, context.cast.institution_x, requires_approval=True)
    return {"booking": await _insert(context, room, "pending")}


async def pending_booking_of_manager_x(context: MatrixContext) -> Mapping[str, object]:
    """Manager X booked a room of their own institution X, as a resident: nobody decides
    their own case, so X may not approve or reject it (another manager or an admin does)."""
    room = await create_room(context.db, context.cast.institution_x, requires_approval=True)
    return {"booking": await _insert(context, room, "pending", owner="manager_x")}


SIGNED_IN = {"citizen_a": 200, "citizen_b": 200, "manager_x": 200, "manager_y": 200, "admin": 200}

CASES = [
    Case(
        "POST",
        "/v1/bookings",
        {"room_id": "{room_x}", "start": "{start}", "end": "{end}", "attendees": 3},
        # Roles are capabilities: managers and admins book as residents too (was 403).
        statuses(
            anonymous=401, citizen_a=201, citizen_b=201, manager_x=201, manager_y=201, admin=201
        ),
        prepare=new_slot,
    ),
    Case(
        "GET",
        "/v1/bookings/{booking}",
        None,
        statuses(
            anonymous=401, citizen_a=200, citizen_b=404, manager_x=200, manager_y=404, admin=200
        ),
        prepare=booking_of_a,
    ),
    Case(
        "PATCH",
        "/v1/bookings/{booking}",
        {"start": "{start}", "end": "{end}"},
        statuses(
            anonymous=401, citizen_a=200, citizen_b=404, manager_x=403, manager_y=404, admin=403
        ),
        prepare=booking_of_a,
    ),
    Case(
        "POST",
        "/v1/bookings/{booking}/cancel",
        {"reason": "사정이 생겨서"},
        statuses(
            anonymous=401, citizen_a=200, citizen_b=404, manager_x=200, manager_y=404, admin=200
        ),
        prepare=booking_of_a,
    ),
    Case(
        "POST",
        "/v1/bookings/{booking}/approve",
        None,
        statuses(
            anonymous=401, citizen_a=403, citizen_b=404, manager_x=200, manager_y=404, admin=200
        ),
        prepare=pending_booking_of_a,
    ),
    Case(
        "POST",
        "/v1/bookings/{booking}/reject",
        {"reason": "정원 초과"},
        statuses(
            anonymous=401, citizen_a=403, citizen_b=404, manager_x=200, manager_y=404, admin=200
        ),
        prepare=pending_booking_of_a,
    ),
    Case(
        "POST",
        "/v1/bookings/{booking}/approve",
        None,
        statuses(
            anonymous=401, citizen_a=404, citizen_b=404, manager_x=403, manager_y=404, admin=200
        ),
        prepare=pending_booking_of_manager_x,
    ),
    Case(
        "POST",
        "/v1/bookings/{booking}/reject",
        {"reason": "정원 초과"},
        statuses(
            anonymous=401, citizen_a=404, citizen_b=404, manager_x=403, manager_y=404, admin=200
        ),
        prepare=pending_booking_of_manager_x,
    ),
    Case("GET", "/v1/me/bookings", None, statuses(anonymous=401, **SIGNED_IN)),
    Case(
        "GET",
        "/v1/institutions/{institution_x}/bookings",
        None,
        statuses(
            anonymous=401, citizen_a=403, citizen_b=403, manager_x=200, manager_y=403, admin=200
        ),
    ),
    Case(
        "GET",
        "/v1/institutions/00000000-0000-4000-8000-000000000000/bookings",
        None,
        statuses(
            anonymous=401, citizen_a=404, citizen_b=404, manager_x=404, manager_y=404, admin=404
        ),
    ),
    Case(
        "GET",
        "/v1/bookings/00000000-0000-4000-8000-000000000000",
        None,
        statuses(
            anonymous=401, citizen_a=404, citizen_b=404, manager_x=404, manager_y=404, admin=404
        ),
    ),
]


async def test_access_matrix(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool, settings: Settings
) -> None:
    await assert_matrix(client, MatrixContext(cast, db, settings), CASES)
