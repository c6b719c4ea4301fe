"""Every booking rule and every bad input: a 4xx problem+json naming what is wrong, nothing
written (rows counted in bookings, booking_history, outbox and idempotency_keys)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.settings import Settings
from tests.factories import Cast, auth, create_room, create_user, set_weekly_rules
from tests.reservations.conftest import SEOUL, at, body, day, row_counts


async def _refused(
    client: AsyncTestClient[Litestar],
    db: asyncpg.Pool,
    payload: Any,
    headers: dict[str, str],
    status: int,
) -> dict[str, Any]:
    before = await row_counts(db)
    response = await client.post(
        "/v1/bookings", json=payload, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await row_counts(db) == before
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    return problem


@pytest.mark.parametrize(
    ("rule", "room_kwargs", "start", "end", "attendees"),
    [
        ("slot_alignment", {}, (18, 10), (19, 10), 4),
        ("min_duration", {}, (18, 0), (18, 30), 4),
        ("max_duration", {}, (10, 0), (14, 30), 4),
        ("capacity", {"capacity": 5}, (18, 0), (19, 0), 6),
        ("lead_time", {"lead_minutes": 60 * 24 * 5}, (18, 0), (19, 0), 4),
        ("horizon", {"horizon_days": 1}, (18, 0), (19, 0), 4),
    ],
)
async def test_each_policy_rule_refuses_with_422_naming_it_and_writes_nothing(
    client: AsyncTestClient[Litestar],
    cast: Cast,
    db: asyncpg.Pool,
    rule: str,
    room_kwargs: dict[str, int],
    start: tuple[int, int],
    end: tuple[int, int],
    attendees: int,
) -> None:
    room = await create_room(db, cast.institution_x, **room_kwargs)  # type: ignore[arg-type]
    problem = await _refused(
        client,
        db,
        body(room, at(*start), at(*end), attendees=attendees),
        cast.headers("citizen_a"),
        422,
    )
    assert problem["rule"] == rule
    assert problem["type"].endswith("/policy-violation")


async def test_outside_the_weekly_window_is_refused(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    room = await create_room(db, cast.institution_x, always_open=False)
    await set_weekly_rules(db, room, [([1, 2, 3, 4, 5, 6, 7], "19:00", "22:00")])
    problem = await _refused(client, db, body(room, at(18), at(20)), cast.headers("citizen_a"), 422)
    assert problem["rule"] == "outside_opening_hours"
    inside = await client.post(
        "/v1/bookings", json=body(room, at(19), at(21)), headers=cast.headers("citizen_a")
    )
    assert inside.status_code == 201


async def test_a_window_crossing_midnight_takes_a_booking_across_it(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    room = await create_room(db, cast.institution_x, always_open=False)
    await set_weekly_rules(db, room, [([1, 2, 3, 4, 5, 6, 7], "22:00", "02:00")])
    response = await client.post(
        "/v1/bookings", json=body(room, at(23), at(25)), headers=cast.headers("citizen_a")
    )
    assert response.status_code == 201, response.text


async def test_a_closure_refuses_bookings_overlapping_it(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    await db.execute(
        "INSERT INTO closures (room_id, during, reason) VALUES ($1, tstzrange($2, $3), 'paint')",
        cast.room_x,
        at(18, 30),
        at(19),
    )
    problem = await _refused(
        client, db, body(cast.room_x, at(18), at(20)), cast.headers("citizen_a"), 422
    )
    assert problem["rule"] == "outside_opening_hours"


async def test_a_public_holiday_closes_a_room_that_says_so(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    holiday = day(3)
    await db.execute(
        "INSERT INTO public_holidays (country, day, name) VALUES ('KR', $1, '시험 공휴일') "
        "ON CONFLICT DO NOTHING",
        holiday,
    )
    await db.execute("UPDATE rooms SET closed_on_holidays = true WHERE id = $1", cast.room_x)
    problem = await _refused(
        client,
        db,
        body(cast.room_x, at(10, offset=3), at(11, offset=3)),
        cast.headers("citizen_a"),
        422,
    )
    assert problem["rule"] == "outside_opening_hours"


async def test_the_active_limit_per_citizen_is_enforced(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    room = await create_room(db, cast.institution_x, max_active_per_citizen=2)
    for hour in (10, 12):
        ok = await client.post(
            "/v1/bookings",
            json=body(room, at(hour), at(hour + 1)),
            headers=cast.headers("citizen_a"),
        )
        assert ok.status_code == 201
    problem = await _refused(client, db, body(room, at(14), at(15)), cast.headers("citizen_a"), 422)
    assert problem["rule"] == "active_limit"
    other = await client.post(
        "/v1/bookings", json=body(room, at(14), at(15)), headers=cast.headers("citizen_b")
    )
    assert other.status_code == 201


async def test_an_inactive_room_is_refused(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    await db.execute("UPDATE rooms SET active = false WHERE id = $1", cast.room_x)
    problem = await _refused(
        client, db, body(cast.room_x, at(18), at(19)), cast.headers("citizen_a"), 422
    )
    assert problem["rule"] == "room_inactive"


async def test_an_unknown_room_is_404(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    await _refused(client, db, body(uuid.uuid4(), at(18), at(19)), cast.headers("citizen_a"), 404)


def _valid(cast: Cast) -> dict[str, Any]:
    return body(cast.room_x, at(18), at(19))


def _naive(dt: datetime) -> str:
    return dt.astimezone(SEOUL).replace(tzinfo=None).isoformat()


BAD_INPUTS: list[tuple[str, Any]] = [
    ("missing start", lambda p: {k: v for k, v in p.items() if k != "start"}),
    ("missing end", lambda p: {k: v for k, v in p.items() if k != "end"}),
    ("naive start", lambda p: {**p, "start": _naive(at(18)), "end": _naive(at(19))}),
    ("not a time", lambda p: {**p, "start": "tomorrow evening"}),
    ("end equals start", lambda p: {**p, "end": p["start"]}),
    ("end before start", lambda p: {**p, "start": p["end"], "end": p["start"]}),
    ("zero attendees", lambda p: {**p, "attendees": 0}),
    ("negative attendees", lambda p: {**p, "attendees": -3}),
    ("overlong purpose", lambda p: {**p, "purpose": "가" * 501}),
    ("unknown field status", lambda p: {**p, "status": "confirmed"}),
    ("unknown field citizen_id", lambda p: {**p, "citizen_id": str(uuid.uuid4())}),
    ("room id not a uuid", lambda p: {**p, "room_id": "room-1"}),
    ("not an object", lambda p: [p]),
]


@pytest.mark.parametrize(("case", "mutate"), BAD_INPUTS, ids=[c for c, _ in BAD_INPUTS])
async def test_bad_input_is_a_4xx_problem_and_writes_nothing(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool, case: str, mutate: Any
) -> None:
    problem = await _refused(client, db, mutate(_valid(cast)), cast.headers("citizen_a"), 422)
    assert problem["detail"]
    assert "Traceback" not in problem["detail"] and "SELECT" not in problem["detail"]


async def test_anonymous_and_bad_tokens_are_401(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    await _refused(client, db, _valid(cast), {}, 401)
    await _refused(client, db, _valid(cast), {"Authorization": "Bearer nope"}, 401)


async def test_a_disabled_or_deleted_account_is_401_even_with_a_valid_token(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool, settings: Settings
) -> None:
    for column in ("disabled_at", "deleted_at"):
        user = await create_user(db, settings)
        await db.execute(f"UPDATE users SET {column} = now() WHERE id = $1", user.id)
        await _refused(client, db, _valid(cast), auth(user), 401)


async def test_unverified_accounts_do_not_book_whatever_their_role(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool, settings: Settings
) -> None:
    """Issue 15 replaced "managers and admins do not book" (roles are capabilities now: see
    tests/reservations/test_roles_are_capabilities.py): what refuses is an unverified e-mail."""
    for role in ("citizen", "manager", "admin"):
        user = await create_user(db, settings, role=role, verified=False)
        problem = await _refused(client, db, _valid(cast), auth(user), 403)
        assert problem["type"].endswith("/email-unverified")


async def test_bookings_start_no_earlier_than_the_lead_time(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    room = await create_room(db, cast.institution_x, lead_minutes=0, slot_minutes=5)
    past = datetime.now(SEOUL).replace(second=0, microsecond=0) - timedelta(hours=3)
    past = past - timedelta(minutes=past.minute % 5)
    problem = await _refused(
        client, db, body(room, past, past + timedelta(hours=1)), cast.headers("citizen_a"), 422
    )
    assert problem["rule"] == "lead_time"
