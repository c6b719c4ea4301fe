"""Helpers of the booking tests: times in Seoul, request bodies, row counts, a wide server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from booking.accounts.security import issue_token
from booking.app import create_app
from booking.settings import Settings
from tests.conftest import make_settings, serve
from tests.factories import User, create_user

SEOUL = ZoneInfo("Asia/Seoul")
AUDITED_TABLES = ("bookings", "booking_history", "outbox", "idempotency_keys")


def day(offset: int = 2) -> date:
    """A Seoul calendar day ``offset`` days from today (well past the default lead time)."""
    return datetime.now(SEOUL).date() + timedelta(days=offset)


def at(hour: int, minute: int = 0, *, offset: int = 2) -> datetime:
    """An aware Seoul time on :func:`day` ``offset``; hour 24 is the next midnight."""
    base = datetime.combine(day(offset), time(0, 0), tzinfo=SEOUL)
    return base + timedelta(hours=hour, minutes=minute)


def body(
    room_id: uuid.UUID,
    start: datetime,
    end: datetime,
    *,
    attendees: int = 4,
    purpose: str = "주민 독서모임",
) -> dict[str, Any]:
    return {
        "room_id": str(room_id),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "attendees": attendees,
        "purpose": purpose,
    }


async def row_counts(db: asyncpg.Pool) -> dict[str, int]:
    """Rows in every table a booking writes to; equal before and after = nothing written."""
    counts: dict[str, int] = {}
    for table in AUDITED_TABLES:
        counts[table] = await db.fetchval(f"SELECT count(*) FROM {table}")
    return counts


async def create_citizens(db: asyncpg.Pool, settings: Settings, n: int) -> list[User]:
    """``n`` citizens (one cached password hash; rows inserted in one statement)."""
    first = await create_user(db, settings)
    password_hash = await db.fetchval("SELECT password_hash FROM users WHERE id = $1", first.id)
    rows = await db.fetch(
        """
        INSERT INTO users (email, password_hash, name, email_verified_at)
        SELECT 'crowd-' || g || '-' || $2 || '@example.org', $1, '시민 ' || g, now()
        FROM generate_series(1, $3) AS g
        RETURNING id, email
        """,
        password_hash,
        uuid.uuid4().hex[:8],
        n - 1,
    )
    return [first] + [
        User(
            r["id"],
            r["email"],
            first.password,
            "citizen",
            issue_token(settings, r["id"], "citizen"),
        )
        for r in rows
    ]


@pytest.fixture
def wide_settings(database_url: str, redis_url: str, settings: Settings) -> Settings:
    """Settings for crowds: 60 pooled connections, write rate limit out of the way; the same
    signing key as ``settings`` so the cast's tokens work."""
    return make_settings(
        database_url,
        redis_url,
        db_pool_max="60",
        write_rate_limit_per_minute="1000000",
        secret_key=settings.secret_key,
    )


@pytest.fixture
async def wide_server(wide_settings: Settings) -> AsyncIterator[str]:
    """The app (pool of 60) behind uvicorn on a loopback port, in this test's event loop."""
    async with serve(create_app(wide_settings)) as url:
        yield url
