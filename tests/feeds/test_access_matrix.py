"""Who may call each feed endpoint: every role of the cast against every endpoint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import MATRIX_ROLES, Cast
from tests.feeds.helpers import create_booking

# (method, path template, expected status per role in MATRIX_ROLES order:
#  anonymous, citizen_a, citizen_b, manager_x, manager_y, admin)
MATRIX: list[tuple[str, str, tuple[int, ...]]] = [
    ("GET", "/v1/rooms/{room_x}/calendar.ics", (200, 200, 200, 200, 200, 200)),
    ("HEAD", "/v1/rooms/{room_x}/calendar.ics", (200, 200, 200, 200, 200, 200)),
    ("GET", "/v1/institutions/{institution_x}/calendar.ics", (200, 200, 200, 200, 200, 200)),
    ("GET", "/v1/me/calendar", (401, 200, 200, 200, 200, 200)),
    ("POST", "/v1/me/calendar/rotate", (401, 200, 200, 200, 200, 200)),
    # A booking of citizen A in room X: its citizen and X's managers (and admins) only.
    ("GET", "/v1/bookings/{booking}/event.ics", (401, 200, 404, 200, 404, 200)),
    ("HEAD", "/v1/bookings/{booking}/event.ics", (401, 200, 404, 200, 404, 200)),
]


@pytest.mark.parametrize(("method", "template", "expected"), MATRIX)
async def test_feed_access_matrix(
    client: AsyncTestClient[Litestar],
    db: asyncpg.Pool,
    cast: Cast,
    method: str,
    template: str,
    expected: tuple[int, ...],
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    booking = await create_booking(db, cast.room_x, cast.citizen_a.id, start)
    path = template.format(room_x=cast.room_x, institution_x=cast.institution_x, booking=booking)
    got = []
    for role in MATRIX_ROLES:
        response = await client.request(method, path, headers=cast.headers(role))
        got.append(response.status_code)
    assert tuple(got) == expected, dict(zip(MATRIX_ROLES, got, strict=True))
