"""Who may call the accounts endpoints: every role of the cast, every endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.settings import Settings
from tests.accounts.matrix import Case, MatrixContext, assert_matrix, statuses
from tests.factories import Cast, appoint_manager, create_user

UNKNOWN = str(uuid.uuid4())


async def fresh_citizen(context: MatrixContext) -> Mapping[str, object]:
    user = await create_user(context.db, context.settings)
    return {"appointee": user.id}


async def fresh_manager_of_x(context: MatrixContext) -> Mapping[str, object]:
    user = await create_user(context.db, context.settings, role="manager")
    await appoint_manager(context.db, context.cast.institution_x, user)
    return {"appointee": user.id}


ADMIN_ONLY = {
    "anonymous": 401,
    "citizen_a": 403,
    "citizen_b": 403,
    "manager_x": 403,
    "manager_y": 403,
}

CASES = [
    Case(
        "GET",
        "/v1/me",
        None,
        statuses(
            anonymous=401, citizen_a=200, citizen_b=200, manager_x=200, manager_y=200, admin=200
        ),
    ),
    Case(
        "POST",
        "/v1/institutions/{institution_x}/managers",
        {"user_id": "{appointee}"},
        statuses(**ADMIN_ONLY, admin=201),
        prepare=fresh_citizen,
    ),
    # Already appointed: nothing changes.
    Case(
        "POST",
        "/v1/institutions/{institution_y}/managers",
        {"user_id": "{manager_y}"},
        statuses(**ADMIN_ONLY, admin=200),
    ),
    Case(
        "POST",
        f"/v1/institutions/{UNKNOWN}/managers",
        {"user_id": "{citizen_a}"},
        statuses(**ADMIN_ONLY, admin=404),
    ),
    Case(
        "POST",
        "/v1/institutions/{institution_x}/managers",
        {"user_id": UNKNOWN},
        statuses(**ADMIN_ONLY, admin=404),
    ),
    Case(
        "DELETE",
        "/v1/institutions/{institution_x}/managers/{appointee}",
        None,
        statuses(**ADMIN_ONLY, admin=204),
        prepare=fresh_manager_of_x,
    ),
    # manager_x is not a manager of institution Y.
    Case(
        "DELETE",
        "/v1/institutions/{institution_y}/managers/{manager_x}",
        None,
        statuses(**ADMIN_ONLY, admin=404),
    ),
    Case(
        "DELETE",
        f"/v1/institutions/{UNKNOWN}/managers/{{manager_x}}",
        None,
        statuses(**ADMIN_ONLY, admin=404),
    ),
]


async def test_access_matrix_of_accounts(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool, settings: Settings
) -> None:
    await assert_matrix(client, MatrixContext(cast, db, settings), CASES)
