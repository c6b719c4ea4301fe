"""Fairness of nanum-draw-v1: uniform over valid applications, at most one win per citizen."""

from __future__ import annotations

import hashlib
import secrets

import asyncpg

from booking.allocation import draw as algorithm
from booking.allocation import service
from booking.settings import Settings
from tests.allocation.helpers import (
    DRAW_TIME,
    NOW,
    applicants,
    as_principal,
    lottery_room,
    open_round,
    saturday_slots,
)
from tests.factories import Cast

# Chi-square critical value for 49 degrees of freedom at p = 0.001 (scipy is not a dependency).
CHI2_CRITICAL_DF49_P001 = 85.35


def test_ten_thousand_draws_of_one_slot_pick_each_of_fifty_applicants_uniformly() -> None:
    names = [hashlib.sha256(f"citizen-{i}".encode()).hexdigest() for i in range(50)]
    list_hash = algorithm.list_hash((1, n) for n in names)
    wins = dict.fromkeys(names, 0)
    draws = 10_000
    for _ in range(draws):
        key = algorithm.draw_key(secrets.token_bytes(32), list_hash, None)
        (result,) = algorithm.draw(key, {1: names}, set())
        assert result.winner is not None
        wins[result.winner] += 1
    expected = draws / len(names)
    chi2 = sum((observed - expected) ** 2 / expected for observed in wins.values())
    assert chi2 < CHI2_CRITICAL_DF49_P001, f"chi-square {chi2:.1f} rejects uniformity"
    # Every place of the draw order is uniform too, not only the first (the waitlist order).
    assert min(wins.values()) > 0


def test_the_draw_order_is_a_permutation_of_the_applicants() -> None:
    names = [f"{i:064x}" for i in range(7)]
    key = algorithm.draw_key(b"\x01" * 32, algorithm.list_hash((1, n) for n in names), None)
    order = algorithm.shuffle(key, 1, names)
    assert sorted(order) == sorted(names)
    assert order == algorithm.shuffle(key, 1, list(reversed(names)))  # input order is irrelevant


async def test_a_citizen_applying_for_every_slot_wins_at_most_one(
    db: asyncpg.Pool, settings: Settings, cast: Cast
) -> None:
    """One greedy citizen applies for all 5 slots, 3 others for one slot each: the greedy one
    wins at most one slot; the slots they do not win go to others or stay free."""
    manager = as_principal(cast.manager_x, (cast.institution_x,))
    room = await lottery_room(db, cast.institution_x)
    round_id = await open_round(db, manager, room, saturday_slots(5), max_applications=5)
    details = await service.get_round(db, None, round_id, NOW)
    greedy, *others = await applicants(db, settings, 4)
    for slot in details.slots:
        await service.apply(db, greedy[1], round_id, slot.id, NOW)
    for (_, citizen), slot in zip(others, details.slots, strict=False):
        await service.apply(db, citizen, round_id, slot.id, NOW)

    assert await service.draw_round(db, round_id, DRAW_TIME) == "drawn"

    greedy_wins = await db.fetchval(
        "SELECT count(*) FROM bookings WHERE citizen_id = $1 AND holds_slot", greedy[0].id
    )
    assert greedy_wins == 1
    result = await service.round_result(db, round_id)
    winners = [s.winner for s in result.slots if s.winner is not None]
    assert len(winners) == len(set(winners))  # nobody wins twice
    mine = await service.my_applications(db, greedy[1], round_id)
    assert [a.outcome for a in mine].count("won") == 1
    assert set(a.outcome for a in mine) <= {"won", "won_elsewhere"}
    # A slot nobody else applied for stays free rather than going to the greedy citizen twice.
    booked = await db.fetchval("SELECT count(*) FROM bookings WHERE room_id = $1", room)
    assert booked == len(winners)


async def test_a_citizen_at_the_institution_monthly_win_cap_cannot_win(
    db: asyncpg.Pool, settings: Settings, cast: Cast
) -> None:
    manager = as_principal(cast.manager_x, (cast.institution_x,))
    room = await lottery_room(db, cast.institution_x)
    round_id = await open_round(db, manager, room, saturday_slots(1), win_cap=1)
    (capped, other) = await applicants(db, settings, 2)
    # The capped citizen already has a booking this December (KST) at the same institution.
    await db.execute(
        """
        INSERT INTO bookings (room_id, citizen_id, during, status, attendees)
        VALUES ($1, $2, tstzrange('2026-12-20 10:00+09', '2026-12-20 11:00+09', '[)'),
                'confirmed', 1)
        """,
        cast.room_x,
        capped[0].id,
    )
    slot = (await service.get_round(db, None, round_id, NOW)).slots[0]
    await service.apply(db, capped[1], round_id, slot.id, NOW)
    await service.apply(db, other[1], round_id, slot.id, NOW)
    await service.draw_round(db, round_id, DRAW_TIME)
    result = await service.round_result(db, round_id)
    assert result.slots[0].winner == service.pseudonym(
        await db.fetchval("SELECT pseudonym_salt FROM allocation_rounds WHERE id = $1", round_id),
        other[0].id,
    )
    assert result.slots[0].ineligible == [
        service.pseudonym(
            await db.fetchval(
                "SELECT pseudonym_salt FROM allocation_rounds WHERE id = $1", round_id
            ),
            capped[0].id,
        )
    ]
