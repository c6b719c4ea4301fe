"""Instants at the ends of the calendar, in every time parameter of every operation, are a 422
naming the field, and nothing is written (invariant 7). The one accepted range is
[1970-01-01T00:00:00Z, 2200-01-01T00:00:00Z): ``schemas.common.INSTANT_MIN/MAX``."""

from __future__ import annotations

import base64
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Cast
from tests.hardening.api import audit_counts, operations, prepare_target

EXTREMES = (
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-12:00",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "1969-12-31T23:59:59Z",
    "2200-01-01T00:00:00Z",
    "2199-12-31T23:00:00-01:00",
)
QUERY_TIMES = [(op, name) for op in operations() for name in op.times]
BODY_TIMES = [
    (op, name)
    for op in operations()
    if op.body is not None
    for name, prop in op.body.get("properties", {}).items()
    if prop.get("format") == "date-time"
]


def test_time_parameters_are_found_in_the_document() -> None:
    """The derivation finds at least what exists today (it must not silently shrink)."""
    found = {(op.operation_id, name) for op, name in QUERY_TIMES + BODY_TIMES}
    assert {
        ("searchRooms", "free_from"),
        ("getRoomAvailability", "to"),
        ("listMyBookings", "from"),
        ("listInstitutionBookings", "to"),
        ("getRoomCalendar", "from"),
        ("getInstitutionCalendar", "to"),
        ("getPrivateCalendar", "from"),
        ("createBooking", "start"),
        ("rescheduleBooking", "end"),
        ("createClosure", "start"),
    } <= found


def _problem(response: Any, field: str) -> None:
    assert response.status_code == 422, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == [field], response.text


async def test_query_instants_outside_the_range_are_422_everywhere(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    target = await prepare_target(client, cast, db)
    before = await audit_counts(db)
    for op, name in QUERY_TIMES:
        other = {n: "2026-12-07T00:00:00+09:00" for n in op.times if n != name}
        for moment in EXTREMES:
            params = {**other, name: moment}
            response = await client.request(
                op.method, target.url(op), params=params, headers=cast.headers("admin")
            )
            if op.method == "HEAD":
                assert response.status_code == 422, (str(op), moment)
            else:
                _problem(response, name)
    assert await audit_counts(db) == before


async def test_body_instants_outside_the_range_are_422_and_write_nothing(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    target = await prepare_target(client, cast, db)
    before = await audit_counts(db)
    for op, name in BODY_TIMES:
        role = "citizen_a" if "booking" in op.operation_id.lower() else "manager_x"
        for moment in (*EXTREMES, 1700000000, 0, True, "2026-12-07T19:00:00"):
            body = {**target.body(op), name: moment}
            response = await client.request(
                op.method, target.url(op), json=body, headers=cast.headers(role)
            )
            _problem(response, name)
    assert await audit_counts(db) == before


async def test_a_closure_at_the_end_of_time_is_refused_and_the_list_keeps_working(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    """The issue's case: the closure was stored while answering 500, and its list then answered
    500 for good."""
    manager = cast.headers("manager_x")
    for start, end in (
        ("0001-01-01T00:00:00Z", "2026-12-26T00:00:00+09:00"),
        ("2026-12-24T00:00:00+09:00", "9999-12-31T23:59:59Z"),
        ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"),
    ):
        response = await client.post(
            f"/v1/rooms/{cast.room_x}/closures", json={"start": start, "end": end}, headers=manager
        )
        assert response.status_code == 422, response.text
    assert await db.fetchval("SELECT count(*) FROM closures") == 0
    listed = await client.get(f"/v1/rooms/{cast.room_x}/closures", headers=manager)
    assert listed.status_code == 200
    assert listed.json() == []


async def test_instants_at_the_edges_of_the_range_are_accepted(
    client: AsyncTestClient[Litestar], cast: Cast
) -> None:
    mine = await client.get(
        "/v1/me/bookings",
        params={"from": "1970-01-01T00:00:00Z", "to": "2199-12-31T23:59:59+00:00"},
        headers=cast.headers("citizen_a"),
    )
    assert mine.status_code == 200, mine.text


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
async def test_times_inside_cursors_outside_the_range_are_422(
    client: AsyncTestClient[Litestar], cast: Cast, moment: str
) -> None:
    cursor = base64.urlsafe_b64encode(
        f"{moment}|00000000-0000-0000-0000-000000000000".encode()
    ).decode()
    for path, role in (
        ("/v1/me/bookings", "citizen_a"),
        (f"/v1/institutions/{cast.institution_x}/bookings", "manager_x"),
    ):
        response = await client.get(path, params={"cursor": cursor}, headers=cast.headers(role))
        _problem(response, "cursor")


async def test_query_times_parse_like_body_times(
    client: AsyncTestClient[Litestar], cast: Cast
) -> None:
    """One parser: a number is not a time anywhere, a time needs an offset everywhere."""
    for value in ("1700000000", "2026-12-07T19:00:00", "2026-12-07"):
        for path in ("/v1/me/bookings", f"/v1/rooms/{cast.room_x}/availability"):
            response = await client.get(
                path,
                params={"from": value, "to": "2026-12-08T00:00:00+09:00"},
                headers=cast.headers("citizen_a"),
            )
            _problem(response, "from")
