"""Factories that insert real rows. Each returns what a test needs to act as or on the object."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

import asyncpg

from booking.accounts.security import hash_password, issue_token
from booking.settings import Settings

__all__ = (
    "MATRIX_ROLES",
    "Cast",
    "User",
    "appoint_manager",
    "auth",
    "create_cast",
    "create_institution",
    "create_room",
    "create_user",
    "set_weekly_rules",
)

_FAST_HASH: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class User:
    id: uuid.UUID
    email: str
    password: str
    role: str
    token: str


def auth(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.token}"}


async def create_user(
    db: asyncpg.Pool,
    settings: Settings,
    *,
    role: str = "citizen",
    email: str | None = None,
    name: str = "홍길동",
    password: str = "correct horse battery",
    verified: bool = True,
) -> User:
    """An account; verified (it may book) unless ``verified=False``."""
    email = email or f"user-{secrets.token_hex(4)}@example.org"
    # argon2 is deliberately slow; hash each distinct password once per test session.
    if password not in _FAST_HASH:
        _FAST_HASH[password] = hash_password(password)
    user_id: uuid.UUID = await db.fetchval(
        "INSERT INTO users (email, password_hash, name, role, email_verified_at)"
        " VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN now() END) RETURNING id",
        email.lower(),
        _FAST_HASH[password],
        name,
        role,
        verified,
    )
    return User(user_id, email.lower(), password, role, issue_token(settings, user_id, role))


async def create_institution(
    db: asyncpg.Pool,
    *,
    name: str = "망원1동 주민센터",
    kind: str = "community_center",
    region: str = "서울특별시",
    district: str = "마포구",
    timezone: str = "Asia/Seoul",
    latitude: float | None = 37.5556,
    longitude: float | None = 126.9020,
    address: str | None = "서울특별시 마포구 월드컵로 1",
) -> uuid.UUID:
    institution_id: uuid.UUID = await db.fetchval(
        """
        INSERT INTO institutions (name, kind, region, district, timezone, latitude, longitude, address)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id
        """,
        name,
        kind,
        region,
        district,
        timezone,
        latitude,
        longitude,
        address,
    )
    return institution_id


async def appoint_manager(db: asyncpg.Pool, institution_id: uuid.UUID, user: User) -> None:
    await db.execute(
        "INSERT INTO institution_managers (institution_id, user_id) VALUES ($1, $2)",
        institution_id,
        user.id,
    )


async def create_room(
    db: asyncpg.Pool,
    institution_id: uuid.UUID,
    *,
    name: str = "3층 다목적회의실",
    capacity: int = 20,
    kind: str = "meeting_room",
    amenities: list[str] | None = None,
    slot_minutes: int = 30,
    min_minutes: int = 60,
    max_minutes: int = 240,
    lead_minutes: int = 60,
    horizon_days: int = 60,
    requires_approval: bool = False,
    max_active_per_citizen: int = 4,
    always_open: bool = True,
) -> uuid.UUID:
    """A room; ``always_open`` gives it a window covering every day (00:00-24:00 local)."""
    room_id: uuid.UUID = await db.fetchval(
        """
        INSERT INTO rooms (institution_id, name, capacity, kind, amenities, slot_minutes,
                           min_minutes, max_minutes, lead_minutes, horizon_days,
                           requires_approval, max_active_per_citizen)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id
        """,
        institution_id,
        name,
        capacity,
        kind,
        amenities or [],
        slot_minutes,
        min_minutes,
        max_minutes,
        lead_minutes,
        horizon_days,
        requires_approval,
        max_active_per_citizen,
    )
    if always_open:
        await set_weekly_rules(db, room_id, [([1, 2, 3, 4, 5, 6, 7], "00:00", "24:00")])
    return room_id


async def set_weekly_rules(
    db: asyncpg.Pool, room_id: uuid.UUID, rules: list[tuple[list[int], str, str]]
) -> None:
    """Replace a room's weekly windows: (ISO weekdays, "HH:MM" start, "HH:MM" end) in local
    time; "24:00" is the end of the day and an end before the start crosses midnight."""
    await db.execute("DELETE FROM availability_rules WHERE room_id = $1", room_id)
    await db.executemany(
        """
        INSERT INTO availability_rules (room_id, days, start_time, end_time)
        VALUES ($1, $2, $3::text::time, $4::text::time)
        """,
        [(room_id, days, start, end) for days, start, end in rules],
    )


@dataclass(frozen=True, slots=True)
class Cast:
    """The roles of the access matrix: institution X and Y, each with a manager and a room."""

    citizen_a: User
    citizen_b: User
    manager_x: User
    manager_y: User
    admin: User
    institution_x: uuid.UUID
    institution_y: uuid.UUID
    room_x: uuid.UUID
    room_y: uuid.UUID

    def headers(self, role: str) -> dict[str, str]:
        """Auth headers for a role name of the matrix; ``anonymous`` sends none."""
        if role == "anonymous":
            return {}
        user: User = getattr(self, role)
        return auth(user)


MATRIX_ROLES = ("anonymous", "citizen_a", "citizen_b", "manager_x", "manager_y", "admin")


async def create_cast(db: asyncpg.Pool, settings: Settings) -> Cast:
    institution_x = await create_institution(db, name="마포구청", kind="gu_office")
    institution_y = await create_institution(
        db,
        name="종로구청",
        kind="gu_office",
        district="종로구",
        latitude=37.5735,
        longitude=126.9790,
    )
    manager_x = await create_user(db, settings, role="manager", name="관리자 X")
    manager_y = await create_user(db, settings, role="manager", name="관리자 Y")
    await appoint_manager(db, institution_x, manager_x)
    await appoint_manager(db, institution_y, manager_y)
    return Cast(
        citizen_a=await create_user(db, settings, name="시민 A"),
        citizen_b=await create_user(db, settings, name="시민 B"),
        manager_x=manager_x,
        manager_y=manager_y,
        admin=await create_user(db, settings, role="admin", name="관리자"),
        institution_x=institution_x,
        institution_y=institution_y,
        room_x=await create_room(db, institution_x, name="마포 회의실"),
        room_y=await create_room(db, institution_y, name="종로 회의실"),
    )
