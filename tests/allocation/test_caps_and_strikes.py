"""Monthly caps (counted in the booking transaction, months in Asia/Seoul) and no-show strikes
(90 days, 3 suspend for 30 days, half strikes for late cancellations, forgiveness)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.errors import Problem
from booking.reservations import service as reservations
from booking.reservations.queries import transition
from schemas.reservations import BookingCreate
from tests.allocation.helpers import as_principal
from tests.factories import Cast, auth, create_room
from tests.jobs.helpers import insert_booking

SEOUL = ZoneInfo("Asia/Seoul")


def _next_month_start_seoul() -> datetime:
    """00:00 KST of the first day of the month after next week (as an aware UTC instant)."""
    local = (datetime.now(UTC) + timedelta(days=7)).astimezone(SEOUL)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return datetime(year, month, 1, tzinfo=SEOUL).astimezone(UTC)


async def _book(db: asyncpg.Pool, citizen: uuid.UUID, room: uuid.UUID, start: datetime) -> str:
    body = BookingCreate(room_id=room, start=start, end=start + timedelta(hours=1), attendees=2)
    try:
        answer = await reservations.create_booking(db, citizen, body, None)
    except Problem as exc:
        return str(exc.extra.get("rule") or exc.code)
    return answer.booking.status


async def test_the_monthly_room_cap_counts_calendar_months_in_seoul(
    db: asyncpg.Pool, cast: Cast
) -> None:
    await db.execute("UPDATE rooms SET monthly_cap_per_citizen = 1 WHERE id = $1", cast.room_x)
    boundary = _next_month_start_seoul()
    citizen = cast.citizen_a.id
    # 23:00-24:00 KST on the last day of the month: that month's one booking.
    assert await _book(db, citizen, cast.room_x, boundary - timedelta(hours=1)) == "confirmed"
    # 00:00 KST on the 1st is the next month (though still the previous day in UTC).
    assert (boundary - timedelta(hours=1)).astimezone(UTC).day == boundary.astimezone(UTC).day
    assert await _book(db, citizen, cast.room_x, boundary) == "confirmed"
    # Another one in either month is refused, and writes nothing.
    assert await _book(db, citizen, cast.room_x, boundary - timedelta(hours=3)) == "monthly_cap"
    assert await _book(db, citizen, cast.room_x, boundary + timedelta(hours=5)) == "monthly_cap"
    assert await db.fetchval("SELECT count(*) FROM bookings") == 2
    # Someone else is not affected.
    assert await _book(db, cast.citizen_b.id, cast.room_x, boundary + timedelta(hours=5)) == (
        "confirmed"
    )


async def test_the_institution_cap_counts_every_room_of_the_institution(
    db: asyncpg.Pool, cast: Cast
) -> None:
    await db.execute(
        "UPDATE institutions SET monthly_cap_per_citizen = 1 WHERE id = $1", cast.institution_x
    )
    other_room = await create_room(db, cast.institution_x, name="2층 강의실")
    start = _next_month_start_seoul() + timedelta(days=2, hours=1)
    assert await _book(db, cast.citizen_a.id, cast.room_x, start) == "confirmed"
    refused = await _book(db, cast.citizen_a.id, other_room, start + timedelta(hours=3))
    assert refused == "institution_monthly_cap"
    # Another institution's room is fine.
    assert await _book(db, cast.citizen_a.id, cast.room_y, start + timedelta(hours=3)) == (
        "confirmed"
    )


async def _strike(
    db: asyncpg.Pool, cast: Cast, at: datetime, weight: float = 1.0, kind: str = "no_show"
) -> uuid.UUID:
    strike_id: uuid.UUID = await db.fetchval(
        """
        INSERT INTO strikes (citizen_id, institution_id, kind, weight, at)
        VALUES ($1, $2, $3, $4, $5) RETURNING id
        """,
        cast.citizen_a.id,
        cast.institution_x,
        kind,
        weight,
        at,
    )
    return strike_id


async def _suspended_until(db: asyncpg.Pool, citizen: uuid.UUID, at: datetime) -> datetime | None:
    until: datetime | None = await db.fetchval(
        "SELECT citizen_suspended_until($1, $2)", citizen, at
    )
    return until


T0 = datetime(2026, 6, 30, 15, 0, tzinfo=UTC)  # 2026-07-01 00:00 KST


async def test_three_strikes_in_90_days_suspend_for_30_days(db: asyncpg.Pool, cast: Cast) -> None:
    for days in (80, 40, 0):
        await _strike(db, cast, T0 - timedelta(days=days))
    assert await _suspended_until(db, cast.citizen_a.id, T0 - timedelta(seconds=1)) is None
    assert await _suspended_until(db, cast.citizen_a.id, T0) == T0 + timedelta(days=30)
    last = T0 + timedelta(days=30) - timedelta(seconds=1)
    assert await _suspended_until(db, cast.citizen_a.id, last) == T0 + timedelta(days=30)
    assert await _suspended_until(db, cast.citizen_a.id, T0 + timedelta(days=30)) is None


async def test_a_strike_90_days_old_no_longer_counts(db: asyncpg.Pool, cast: Cast) -> None:
    await _strike(db, cast, T0 - timedelta(days=90))
    await _strike(db, cast, T0 - timedelta(days=10))
    await _strike(db, cast, T0)
    assert await _suspended_until(db, cast.citizen_a.id, T0) is None
    # One second younger, it still counts.
    await db.execute(
        "UPDATE strikes SET at = at + interval '1 second' WHERE at = $1", T0 - timedelta(days=90)
    )
    assert await _suspended_until(db, cast.citizen_a.id, T0) == T0 + timedelta(days=30)


async def test_two_late_cancellations_are_one_strike(db: asyncpg.Pool, cast: Cast) -> None:
    await _strike(db, cast, T0 - timedelta(days=5))
    await _strike(db, cast, T0 - timedelta(days=4), 0.5, "late_cancel")
    await _strike(db, cast, T0 - timedelta(days=3), 0.5, "late_cancel")
    assert await _suspended_until(db, cast.citizen_a.id, T0) is None
    await _strike(db, cast, T0)
    assert await _suspended_until(db, cast.citizen_a.id, T0) == T0 + timedelta(days=30)


async def test_no_show_and_late_cancellation_write_strikes_and_early_or_manager_ones_do_not(
    db: asyncpg.Pool, cast: Cast
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    soon = (now + timedelta(hours=5)).replace(minute=0, second=0)
    far = soon + timedelta(days=3)
    citizen = as_principal(cast.citizen_a)
    manager = as_principal(cast.manager_x, (cast.institution_x,))
    late = await insert_booking(db, cast.citizen_a.id, cast.room_x, soon, soon + timedelta(hours=1))
    early = await insert_booking(db, cast.citizen_a.id, cast.room_x, far, far + timedelta(hours=1))
    by_manager = await insert_booking(
        db, cast.citizen_a.id, cast.room_x, soon + timedelta(hours=2), soon + timedelta(hours=3)
    )
    missed = await insert_booking(
        db, cast.citizen_a.id, cast.room_x, soon + timedelta(hours=4), soon + timedelta(hours=5)
    )
    await reservations.cancel_booking(db, citizen, late, None)
    await reservations.cancel_booking(db, citizen, early, None)
    await reservations.cancel_booking(db, manager, by_manager, "boiler repair")
    async with db.acquire() as conn, conn.transaction():
        await transition(
            conn,
            missed,
            "no_show",
            from_statuses=("confirmed",),
            actor_id=None,
            reason="not checked in",
            topic=None,
        )
    rows = await db.fetch("SELECT booking_id, kind, weight FROM strikes ORDER BY weight")
    assert [(r["booking_id"], r["kind"], float(r["weight"])) for r in rows] == [
        (late, "late_cancel", 0.5),
        (missed, "no_show", 1.0),
    ]


async def test_a_suspended_citizen_is_refused_with_403_naming_the_end_and_a_manager_can_forgive(
    db: asyncpg.Pool, cast: Cast, client: AsyncTestClient[Litestar]
) -> None:
    now = datetime.now(UTC)
    ids = [await _strike(db, cast, now - timedelta(days=d)) for d in (20, 10, 1)]
    until = now - timedelta(days=1) + timedelta(days=30)
    start = (now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    payload = {
        "room_id": str(cast.room_x),
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "attendees": 2,
    }
    refused = await client.post("/v1/bookings", json=payload, headers=auth(cast.citizen_a))
    assert refused.status_code == 403
    problem = refused.json()
    assert problem["type"].endswith("/booking-suspended")
    assert datetime.fromisoformat(problem["suspended_until"].replace("Z", "+00:00")) == until
    assert until.strftime("%Y-%m-%d") in problem["detail"]
    assert await db.fetchval("SELECT count(*) FROM bookings") == 0

    mine = (await client.get("/v1/me/strikes", headers=auth(cast.citizen_a))).json()
    assert mine["active_weight"] == 3.0 and mine["suspended_until"] is not None

    # Only the institution's managers may forgive, with a reason.
    other = await client.post(
        f"/v1/strikes/{ids[0]}/forgive", json={"reason": "x"}, headers=auth(cast.manager_y)
    )
    assert other.status_code == 404
    empty = await client.post(
        f"/v1/strikes/{ids[0]}/forgive", json={"reason": ""}, headers=auth(cast.manager_x)
    )
    assert empty.status_code == 422
    forgiven = await client.post(
        f"/v1/strikes/{ids[0]}/forgive",
        json={"reason": "병원 진료 확인서 제출"},
        headers=auth(cast.manager_x),
    )
    assert forgiven.status_code == 204
    again = await client.post(
        f"/v1/strikes/{ids[0]}/forgive", json={"reason": "x"}, headers=auth(cast.manager_x)
    )
    assert again.status_code == 409

    mine = (await client.get("/v1/me/strikes", headers=auth(cast.citizen_a))).json()
    assert mine["active_weight"] == 2.0 and "suspended_until" not in mine
    assert [s["forgiven_reason"] for s in mine["strikes"] if "forgiven_at" in s] == [
        "병원 진료 확인서 제출"
    ]
    booked = await client.post("/v1/bookings", json=payload, headers=auth(cast.citizen_a))
    assert booked.status_code == 201
