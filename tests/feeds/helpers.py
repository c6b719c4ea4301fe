"""Bookings inserted with SQL (the booking engine is built in parallel) and changed the way the
engine changes them: every change of time or status bumps ``sequence`` and ``updated_at``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

__all__ = (
    "T0",
    "cancel_booking",
    "create_booking",
    "reschedule_booking",
    "set_status",
)

T0 = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)
"""A fixed instant for deterministic fixtures (a Monday, 19:00 in Seoul)."""


async def create_booking(
    db: asyncpg.Pool,
    room_id: uuid.UUID,
    citizen_id: uuid.UUID,
    start: datetime,
    *,
    minutes: int = 90,
    status: str = "confirmed",
    purpose: str = "",
    purpose_public: bool = False,
    attendees: int = 5,
    booking_id: uuid.UUID | None = None,
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
    sequence: int = 0,
) -> uuid.UUID:
    """Insert one booking. Fixed ``booking_id``/timestamps give byte-stable output."""
    created = created_at or datetime.now(UTC)
    new_id: uuid.UUID = await db.fetchval(
        """
        INSERT INTO bookings (id, room_id, citizen_id, during, status, purpose, purpose_public,
                              attendees, sequence, created_at, updated_at)
        VALUES ($1, $2, $3, tstzrange($4, $5, '[)'), $6, $7, $8, $9, $10, $11, $12)
        RETURNING id
        """,
        booking_id or uuid.uuid4(),
        room_id,
        citizen_id,
        start,
        start + timedelta(minutes=minutes),
        status,
        purpose,
        purpose_public,
        attendees,
        sequence,
        created,
        updated_at or created,
    )
    return new_id


async def set_status(
    db: asyncpg.Pool, booking_id: uuid.UUID, status: str, *, at: datetime | None = None
) -> None:
    await db.execute(
        """
        UPDATE bookings SET status = $2, sequence = sequence + 1, updated_at = $3
        WHERE id = $1
        """,
        booking_id,
        status,
        at or datetime.now(UTC),
    )


async def cancel_booking(
    db: asyncpg.Pool, booking_id: uuid.UUID, *, at: datetime | None = None
) -> None:
    await set_status(db, booking_id, "cancelled", at=at)


async def reschedule_booking(
    db: asyncpg.Pool,
    booking_id: uuid.UUID,
    start: datetime,
    *,
    minutes: int = 90,
    at: datetime | None = None,
) -> None:
    await db.execute(
        """
        UPDATE bookings
        SET during = tstzrange($2, $3, '[)'), sequence = sequence + 1, updated_at = $4
        WHERE id = $1
        """,
        booking_id,
        start,
        start + timedelta(minutes=minutes),
        at or datetime.now(UTC),
    )


FIXED_NOW = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
"""The frozen clock of the stored-fixture tests."""
FIXED_INSTITUTION = uuid.UUID("00000000-0000-4000-8000-00000000000a")
FIXED_ROOM = uuid.UUID("00000000-0000-4000-8000-00000000000b")
FIXED_CITIZEN = uuid.UUID("00000000-0000-4000-8000-00000000000c")
FIXED_MANAGER = uuid.UUID("00000000-0000-4000-8000-00000000000d")


def fixed_booking_id(n: int) -> uuid.UUID:
    return uuid.UUID(f"00000000-0000-4000-9000-{n:012d}")


async def seed_fixed_world(db: asyncpg.Pool) -> None:
    """An institution, a room, a citizen, a manager and bookings with fixed ids and times."""
    created = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    await db.execute(
        """
        INSERT INTO institutions (id, name, kind, region, district, address, latitude, longitude,
                                  created_at, updated_at)
        VALUES ($1, '망원1동 주민센터', 'community_center', '서울특별시', '마포구',
                '서울특별시 마포구 월드컵로 1', 37.5556, 126.902, $2, $2)
        """,
        FIXED_INSTITUTION,
        created,
    )
    await db.execute(
        """
        INSERT INTO rooms (id, institution_id, name, name_en, capacity, created_at, updated_at)
        VALUES ($1, $2, '3층 다목적회의실', 'Multipurpose room (3F)', 20, $3, $3)
        """,
        FIXED_ROOM,
        FIXED_INSTITUTION,
        created,
    )
    await db.executemany(
        """
        INSERT INTO users (id, email, password_hash, name, phone, role, created_at, updated_at)
        VALUES ($1, $2, 'x', $3, '010-0000-0000', $4, $5, $5)
        """,
        [
            (FIXED_CITIZEN, "citizen@example.org", "김나눔", "citizen", created),
            (FIXED_MANAGER, "manager@example.org", "박관리", "manager", created),
        ],
    )
    await db.execute(
        "INSERT INTO institution_managers (institution_id, user_id) VALUES ($1, $2)",
        FIXED_INSTITUTION,
        FIXED_MANAGER,
    )
    long_purpose = "마포구 주민 자치회 정기 총회 및 한마당 잔치 준비 회의 — 모두 환영합니다!"
    rows = [
        # n, start, minutes, status, purpose, public, attendees, sequence, updated_at
        (1, T0, 90, "confirmed", "독서 모임", False, 8, 0, created),
        (2, T0 + timedelta(days=1), 120, "pending", "", False, 3, 0, created),
        (
            3,
            T0 + timedelta(days=2),
            60,
            "confirmed",
            long_purpose,
            True,
            40,
            2,
            datetime(2030, 2, 10, 9, 30, tzinfo=UTC),
        ),
        (
            4,
            T0 + timedelta(days=3),
            60,
            "cancelled",
            "요가",
            False,
            6,
            1,
            datetime(2030, 2, 20, 8, 0, tzinfo=UTC),
        ),
        # cancelled more than 30 days before FIXED_NOW: gone
        (
            5,
            T0 + timedelta(days=4),
            60,
            "cancelled",
            "",
            False,
            2,
            1,
            datetime(2030, 1, 5, 8, 0, tzinfo=UTC),
        ),
        # beyond the default window (365 days ahead): gone
        (6, datetime(2031, 6, 1, 10, 0, tzinfo=UTC), 60, "confirmed", "", False, 2, 0, created),
        (
            7,
            T0 - timedelta(days=10),
            60,
            "completed",
            "",
            False,
            4,
            1,
            datetime(2030, 2, 22, 11, 0, tzinfo=UTC),
        ),
    ]
    for n, start, minutes, status, purpose, public, attendees, sequence, updated in rows:
        await create_booking(
            db,
            FIXED_ROOM,
            FIXED_CITIZEN,
            start,
            minutes=minutes,
            status=status,
            purpose=purpose,
            purpose_public=public,
            attendees=attendees,
            booking_id=fixed_booking_id(n),
            created_at=created,
            updated_at=updated,
            sequence=sequence,
        )
