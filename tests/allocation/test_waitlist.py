"""Waitlists and offers: the cascade under a controlled clock, and no double allocation when
cancellations, offers, first-come bookings and a draw all race."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from booking.allocation import service
from booking.errors import Problem
from booking.reservations import service as reservations
from booking.settings import Settings
from schemas.allocation import WaitlistJoin
from schemas.reservations import BookingCreate
from tests.allocation.helpers import (
    DRAW_TIME,
    NOW,
    applicants,
    as_principal,
    lottery_room,
    open_round,
    overlapping_holders,
    saturday_slots,
)
from tests.concurrency import run_at_once
from tests.factories import Cast, create_room
from tests.jobs.helpers import insert_booking


def _hour(days: int, hour: int) -> datetime:
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return base.replace(hour=hour) + timedelta(days=days)


async def _status(db: asyncpg.Pool, booking_id: uuid.UUID) -> str:
    status: str = await db.fetchval("SELECT status FROM bookings WHERE id = $1", booking_id)
    return status


@pytest.fixture
async def wide_db(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=30)
    assert pool is not None
    yield pool
    await pool.close()


async def test_offer_expires_then_goes_to_the_next_who_accepts(
    db: asyncpg.Pool, settings: Settings, cast: Cast
) -> None:
    start, end = _hour(3, 10), _hour(3, 12)
    (owner, owner_p), (_, first_p), (second, second_p) = await applicants(db, settings, 3)
    held = await insert_booking(db, owner.id, cast.room_x, start, end)
    now = datetime.now(UTC)
    join = WaitlistJoin(room_id=cast.room_x, start=start, end=end)
    entry_1 = await service.join_waitlist(db, first_p, join, now)
    entry_2 = await service.join_waitlist(db, second_p, join, now)
    assert (entry_1.position, entry_2.position) == (1, 2)

    await reservations.cancel_booking(db, owner_p, held, None)
    (offer_1,) = await service.offer_freed_slots(db, now)
    assert await _status(db, offer_1) == "offered"
    mine = await service.my_waitlist(db, first_p)
    assert mine[0].status == "offered" and mine[0].offer_booking_id == offer_1
    assert mine[0].offer_expires_at == now + timedelta(hours=2)  # start is days away
    assert await service.offer_freed_slots(db, now) == []  # exactly once
    # Nobody can book the held slot meanwhile: the offer holds it like any booking.
    with pytest.raises(Problem) as taken:
        await reservations.create_booking(
            db,
            second.id,
            BookingCreate(room_id=cast.room_x, start=start, end=end, attendees=2),
            None,
        )
    assert taken.value.status == 409

    # Two hours later the offer expires and the next in line gets it.
    later = now + timedelta(hours=2, seconds=1)
    assert await service.expire_offers(db, later) == 1
    assert await _status(db, offer_1) == "cancelled"
    offer_2 = (await service.my_waitlist(db, second_p))[0].offer_booking_id
    assert offer_2 is not None and await _status(db, offer_2) == "offered"
    with pytest.raises(Problem) as expired:
        await service.accept_offer(db, first_p, offer_1, later)
    assert expired.value.status == 409

    accepted = await service.accept_offer(db, second_p, offer_2, later)
    assert accepted.status == "confirmed"
    assert await _status(db, offer_2) == "confirmed"
    topics = [
        r["topic"]
        for r in await db.fetch(
            "SELECT topic FROM outbox WHERE booking_id = ANY($1::uuid[]) ORDER BY id",
            [offer_1, offer_2],
        )
    ]
    assert topics == [
        "booking.offered",
        "booking.offer_expired",
        "booking.offered",
        "booking.created",
    ]


async def test_a_declined_offer_goes_to_the_next_at_once_and_the_hold_shrinks_near_the_start(
    db: asyncpg.Pool, settings: Settings, cast: Cast
) -> None:
    now = datetime.now(UTC)
    start = (now + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(hours=1)
    (owner, owner_p), (_, first_p), (_, second_p) = await applicants(db, settings, 3)
    held = await insert_booking(db, owner.id, cast.room_x, start, end)
    join = WaitlistJoin(room_id=cast.room_x, start=start, end=end)
    await service.join_waitlist(db, first_p, join, now)
    await service.join_waitlist(db, second_p, join, now)
    await reservations.cancel_booking(db, owner_p, held, None)
    (offer_1,) = await service.offer_freed_slots(db, now)
    entry = (await service.my_waitlist(db, first_p))[0]
    assert entry.offer_expires_at == now + (start - now) / 2  # under 2 h: half the time left
    await service.decline_offer(db, first_p, offer_1, now)
    second = (await service.my_waitlist(db, second_p))[0]
    assert second.status == "offered"


async def test_joining_a_free_time_is_refused_and_writes_nothing(
    db: asyncpg.Pool, settings: Settings, cast: Cast
) -> None:
    ((_, citizen),) = await applicants(db, settings, 1)
    join = WaitlistJoin(room_id=cast.room_x, start=_hour(4, 10), end=_hour(4, 11))
    with pytest.raises(Problem) as free:
        await service.join_waitlist(db, citizen, join, datetime.now(UTC))
    assert (free.value.status, free.value.code) == (409, "slot-free")
    assert await db.fetchval("SELECT count(*) FROM waitlist_entries") == 0


@pytest.mark.slow
async def test_200_concurrent_cancellations_give_each_freed_slot_one_offer_to_its_first_waiter(
    wide_db: asyncpg.Pool, settings: Settings, cast: Cast
) -> None:
    room = await create_room(wide_db, cast.institution_x, name="인기 회의실", lead_minutes=0)
    people = await applicants(wide_db, settings, 200)
    first = _hour(2, 0)
    slots = [(first + timedelta(hours=i), first + timedelta(hours=i + 1)) for i in range(200)]
    held = [
        await insert_booking(wide_db, u.id, room, s, e)
        for (u, _), (s, e) in zip(people, slots, strict=True)
    ]
    now = datetime.now(UTC)
    # Each slot: its two neighbours' owners wait for it (in that order); some also wait for a
    # two-hour range spanning two slots, queued after everyone else.
    for i, (s, e) in enumerate(slots):
        for k in (1, 2):
            await service.join_waitlist(
                wide_db, people[(i + k) % 200][1], WaitlistJoin(room_id=room, start=s, end=e), now
            )
    for i in range(0, 198, 20):
        await service.join_waitlist(
            wide_db,
            people[(i + 50) % 200][1],
            WaitlistJoin(room_id=room, start=slots[i][0], end=slots[i + 1][1]),
            now,
        )

    async def cancel(index: int) -> None:
        await reservations.cancel_booking(wide_db, people[index][1], held[index], None)

    async def offer_repeatedly() -> None:
        for _ in range(5):
            await service.offer_freed_slots(wide_db, now)
            await asyncio.sleep(0)

    await run_at_once([*(lambda i=i: cancel(i) for i in range(200)), *([offer_repeatedly] * 4)])
    await service.offer_freed_slots(wide_db, now)

    assert await overlapping_holders(wide_db) == 0
    offers = await wide_db.fetch(
        """
        SELECT b.during, e.citizen_id, e.id FROM bookings b
        JOIN waitlist_entries e ON e.offer_booking_id = b.id
        WHERE b.room_id = $1 AND b.status = 'offered'
        """,
        room,
    )
    assert len(offers) == 200  # every freed slot: exactly one live offer
    firsts = {(s, e): people[(i + 1) % 200][0].id for i, (s, e) in enumerate(slots)}
    assert {(o["during"].lower, o["during"].upper): o["citizen_id"] for o in offers} == firsts
    assert await service.offer_freed_slots(wide_db, now) == []
    assert (
        await wide_db.fetchval("SELECT count(*) FROM outbox WHERE topic = 'booking.offered'") == 200
    )


@pytest.mark.slow
async def test_a_draw_racing_first_come_bookings_and_cancellations_never_double_allocates(
    wide_db: asyncpg.Pool, settings: Settings, cast: Cast
) -> None:
    manager = as_principal(cast.manager_x, (cast.institution_x,))
    room = await lottery_room(wide_db, cast.institution_x)
    round_slots = saturday_slots(20)
    round_id = await open_round(wide_db, manager, room, round_slots, max_applications=3)
    details = await service.get_round(wide_db, None, round_id, NOW)
    people = await applicants(wide_db, settings, 40)
    for i, (_, citizen) in enumerate(people):
        for k in range(3):
            await service.apply(wide_db, citizen, round_id, details.slots[(i + k) % 20].id, NOW)
    # Outside the round, the same room has first-come bookings that get cancelled meanwhile.
    later = round_slots[-1].end + timedelta(hours=1)
    outside = [
        await insert_booking(
            wide_db,
            people[i][0].id,
            room,
            later + timedelta(hours=i),
            later + timedelta(hours=i + 1),
        )
        for i in range(10)
    ]

    async def first_come(index: int) -> int:
        slot = round_slots[index % 20] if index % 2 else None
        start = slot.start if slot else later + timedelta(hours=index % 10, minutes=30)
        body = BookingCreate(room_id=room, start=start, end=start + timedelta(hours=1), attendees=2)
        try:
            await reservations.create_booking(wide_db, people[index][0].id, body, None)
        except Problem as exc:
            return exc.status
        return 201

    async def cancel(index: int) -> int:
        await reservations.cancel_booking(wide_db, people[index][1], outside[index], None)
        return 200

    async def draw() -> int:
        assert await service.draw_round(wide_db, round_id, DRAW_TIME) == "drawn"
        return 0

    results = await run_at_once(
        [
            draw,
            *(lambda i=i: first_come(i) for i in range(40)),
            *(lambda i=i: cancel(i) for i in range(10)),
        ]
    )
    assert set(results[1:41]) <= {201, 409, 422}
    assert await overlapping_holders(wide_db) == 0
    result = await service.round_result(wide_db, round_id)
    booked_winners = await wide_db.fetchval(
        "SELECT count(*) FROM allocation_results WHERE round_id = $1 AND outcome = 'won'", round_id
    )
    assert booked_winners == sum(1 for s in result.slots if s.booked)
    # Every slot with applicants has a winner (the lottery kept them from first-come bookers).
    assert all(s.winner is not None and s.booked for s in result.slots)
