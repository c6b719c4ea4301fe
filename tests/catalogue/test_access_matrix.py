"""Who may call the catalogue and availability endpoints: every role, every endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.settings import Settings
from tests.accounts.matrix import Case, MatrixContext, assert_matrix, statuses
from tests.factories import Cast, create_room

UNKNOWN = str(uuid.uuid4())
EVERYONE_200 = statuses(
    anonymous=200, citizen_a=200, citizen_b=200, manager_x=200, manager_y=200, admin=200
)
EVERYONE_404 = statuses(
    anonymous=404, citizen_a=404, citizen_b=404, manager_x=404, manager_y=404, admin=404
)


def managers_of_x(ok: int) -> dict[str, int]:
    return statuses(
        anonymous=401, citizen_a=403, citizen_b=403, manager_x=ok, manager_y=403, admin=ok
    )


def only_x_sees(ok: int, *, anonymous: int = 404) -> dict[str, int]:
    """For a deactivated room of X: only X's managers and admins know it exists."""
    return statuses(
        anonymous=anonymous, citizen_a=404, citizen_b=404, manager_x=ok, manager_y=404, admin=ok
    )


async def fresh_closure(context: MatrixContext) -> Mapping[str, object]:
    closure_id = await context.db.fetchval(
        "INSERT INTO closures (room_id, during) VALUES ($1, tstzrange(now() + interval '1 day',"
        " now() + interval '2 days')) RETURNING id",
        context.cast.room_x,
    )
    return {"closure": closure_id}


async def inactive_room_of_x(context: MatrixContext) -> Mapping[str, object]:
    room = await create_room(context.db, context.cast.institution_x, name="쉬는 방")
    await context.db.execute("UPDATE rooms SET active = false WHERE id = $1", room)
    return {"inactive": room}


INSTITUTION = {
    "name": "새 주민센터",
    "kind": "community_center",
    "region": "서울특별시",
    "district": "마포구",
}
WINDOW = "from=2027-01-04T00:00:00%2B09:00&to=2027-01-05T00:00:00%2B09:00"

CASES = [
    Case(
        "POST",
        "/v1/institutions",
        INSTITUTION,
        statuses(
            anonymous=401, citizen_a=403, citizen_b=403, manager_x=403, manager_y=403, admin=201
        ),
    ),
    Case("GET", "/v1/institutions", None, EVERYONE_200),
    Case("GET", "/v1/institutions/{institution_x}", None, EVERYONE_200),
    Case("GET", f"/v1/institutions/{UNKNOWN}", None, EVERYONE_404),
    Case("PATCH", "/v1/institutions/{institution_x}", {"phone": "02-000-0000"}, managers_of_x(200)),
    Case(
        "PATCH",
        f"/v1/institutions/{UNKNOWN}",
        {"phone": "02-000-0000"},
        statuses(
            anonymous=401, citizen_a=404, citizen_b=404, manager_x=404, manager_y=404, admin=404
        ),
    ),
    Case(
        "POST",
        "/v1/institutions/{institution_x}/rooms",
        {"name": "새 방", "capacity": 10},
        managers_of_x(201),
    ),
    Case("GET", "/v1/rooms", None, EVERYONE_200),
    Case("GET", "/v1/rooms/{room_x}", None, EVERYONE_200),
    Case("GET", f"/v1/rooms/{UNKNOWN}", None, EVERYONE_404),
    Case("GET", "/v1/rooms/{inactive}", None, only_x_sees(200), prepare=inactive_room_of_x),
    Case("PATCH", "/v1/rooms/{room_x}", {"capacity": 25}, managers_of_x(200)),
    Case(
        "PATCH",
        "/v1/rooms/{inactive}",
        {"capacity": 25},
        only_x_sees(200, anonymous=401),
        prepare=inactive_room_of_x,
    ),
    Case(
        "PATCH",
        "/v1/rooms/{room_x}",
        {"fee": {"free": True}},
        statuses(
            anonymous=401, citizen_a=403, citizen_b=403, manager_x=422, manager_y=403, admin=200
        ),
    ),
    Case(
        "PUT",
        "/v1/rooms/{room_x}/availability-rules",
        [{"days": ["sat"], "start": "09:00", "end": "18:00"}],
        managers_of_x(200),
    ),
    Case("GET", "/v1/rooms/{room_x}/availability-rules", None, EVERYONE_200),
    Case(
        "POST",
        "/v1/rooms/{room_x}/closures",
        {"start": "2027-01-01T00:00:00+09:00", "end": "2027-01-02T00:00:00+09:00"},
        managers_of_x(201),
    ),
    Case("GET", "/v1/rooms/{room_x}/closures", None, managers_of_x(200)),
    Case(
        "DELETE",
        "/v1/rooms/{room_x}/closures/{closure}",
        None,
        managers_of_x(204),
        prepare=fresh_closure,
    ),
    Case("GET", "/v1/rooms/{room_x}/availability?" + WINDOW, None, EVERYONE_200),
    Case(
        "GET",
        "/v1/rooms/{inactive}/availability?" + WINDOW,
        None,
        only_x_sees(200),
        prepare=inactive_room_of_x,
    ),
]


async def test_access_matrix(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool, settings: Settings
) -> None:
    await assert_matrix(client, MatrixContext(cast, db, settings), CASES)
