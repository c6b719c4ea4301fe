"""Lottery rooms and rounds made through the real services, with a controlled clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from booking.accounts.auth import Principal
from booking.allocation import service
from booking.settings import Settings
from schemas.allocation import RoundCreate, SlotRange
from tests.factories import User, create_room, create_user

__all__ = (
    "NOW",
    "applicants",
    "as_principal",
    "lottery_room",
    "open_round",
    "overlapping_holders",
)

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
"""The tests' clock: rounds open before it; slots are in December 2026 (KST)."""


def as_principal(user: User, institutions: tuple[uuid.UUID, ...] = ()) -> Principal:
    return Principal(
        id=user.id,
        email=user.email,
        name="test",
        role=user.role,
        institutions=frozenset(institutions),
    )


async def lottery_room(
    db: asyncpg.Pool, institution_id: uuid.UUID, *, requires_approval: bool = False
) -> uuid.UUID:
    room_id = await create_room(
        db,
        institution_id,
        name="대강당",
        horizon_days=3650,
        lead_minutes=0,
        max_active_per_citizen=1000,
        requires_approval=requires_approval,
    )
    await db.execute("UPDATE rooms SET allocation_mode = 'lottery' WHERE id = $1", room_id)
    return room_id


def saturday_slots(count: int, first: datetime | None = None) -> list[SlotRange]:
    """``count`` back-to-back 1-hour slots from ``first`` (default 2026-12-05 10:00 KST)."""
    start = first or datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
    return [
        SlotRange(start=start + timedelta(hours=i), end=start + timedelta(hours=i + 1))
        for i in range(count)
    ]


async def open_round(
    db: asyncpg.Pool,
    manager: Principal,
    room_id: uuid.UUID,
    slots: list[SlotRange],
    *,
    max_applications: int = 3,
    win_cap: int | None = None,
    public_value_required: bool = False,
) -> uuid.UUID:
    """A published round open from NOW - 1 h to NOW + 1 day, drawn at NOW + 2 days."""
    body = RoundCreate(
        title="12월 추첨",
        opens_at=NOW - timedelta(hours=1),
        closes_at=NOW + timedelta(days=1),
        draw_at=NOW + timedelta(days=2),
        slots=slots,
        max_applications_per_citizen=max_applications,
        institution_monthly_win_cap=win_cap,
        public_value_required=public_value_required,
    )
    created = await service.create_round(db, manager, room_id, body, NOW - timedelta(hours=2))
    await service.publish_round(db, manager, created.id, NOW - timedelta(hours=2))
    return created.id


DRAW_TIME = NOW + timedelta(days=2)


async def applicants(
    db: asyncpg.Pool, settings: Settings, count: int
) -> list[tuple[User, Principal]]:
    users = [await create_user(db, settings, name=f"시민 {i}") for i in range(count)]
    return [(u, as_principal(u)) for u in users]


OVERLAP_AUDIT = """
SELECT count(*) FROM bookings a JOIN bookings b
  ON a.room_id = b.room_id AND a.id < b.id AND a.during && b.during
WHERE a.holds_slot AND b.holds_slot
"""


async def overlapping_holders(db: asyncpg.Pool) -> int:
    """Pairs of slot-holding bookings of one room that overlap (must always be 0)."""
    count: int = await db.fetchval(OVERLAP_AUDIT)
    return count
