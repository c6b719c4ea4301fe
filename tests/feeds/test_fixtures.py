"""Output against stored ``.ics`` fixtures, with fixed rows and a frozen clock.

After an intended change of the output (bump ``FEED_FORMAT``), regenerate with
``NANUM_WRITE_FIXTURES=1 pytest tests/feeds/test_fixtures.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg

from booking.accounts.auth import Principal
from booking.feeds import service
from booking.feeds.service import Conditions
from booking.settings import Settings
from tests.conftest import make_settings
from tests.feeds.helpers import (
    FIXED_CITIZEN,
    FIXED_INSTITUTION,
    FIXED_MANAGER,
    FIXED_NOW,
    FIXED_ROOM,
    fixed_booking_id,
    seed_fixed_world,
)
from tests.feeds.ics_reader import parse_ics

FIXTURES = Path(__file__).parent / "fixtures"


def _settings(database_url: str, redis_url: str) -> Settings:
    return make_settings(database_url, redis_url, public_base_url="https://nanum.example")


def _check(name: str, body: bytes) -> None:
    path = FIXTURES / name
    if os.environ.get("NANUM_WRITE_FIXTURES") == "1":
        path.write_bytes(body)
    parse_ics(body)  # the stored bytes are valid too
    assert body == path.read_bytes(), f"output differs from {path.name}"


async def test_room_feed_matches_stored_fixture(
    db: asyncpg.Pool, database_url: str, redis_url: str
) -> None:
    await seed_fixed_world(db)
    settings = _settings(database_url, redis_url)
    window = service.feed_window(FIXED_NOW, None, None)
    answer = await service.room_feed(db, settings, FIXED_ROOM, window, Conditions())
    assert answer.body is not None
    _check("room_feed.ics", answer.body)
    again = await service.room_feed(db, settings, FIXED_ROOM, window, Conditions())
    assert again.body == answer.body and again.etag == answer.etag


async def test_institution_feed_matches_stored_fixture(
    db: asyncpg.Pool, database_url: str, redis_url: str
) -> None:
    await seed_fixed_world(db)
    settings = _settings(database_url, redis_url)
    window = service.feed_window(FIXED_NOW, None, None)
    answer = await service.institution_feed(db, settings, FIXED_INSTITUTION, window, Conditions())
    assert answer.body is not None
    _check("institution_feed.ics", answer.body)


async def test_manager_private_feed_matches_stored_fixture(
    db: asyncpg.Pool, database_url: str, redis_url: str
) -> None:
    await seed_fixed_world(db)
    settings = _settings(database_url, redis_url)
    manager = Principal(
        id=FIXED_MANAGER,
        email="manager@example.org",
        name="박관리",
        role="manager",
        institutions=frozenset({FIXED_INSTITUTION}),
    )
    https_url, _ = await service.calendar_urls(db, settings, manager)
    token = https_url.rsplit("/", 1)[1].removesuffix(".ics")
    window = service.feed_window(FIXED_NOW, None, None)
    answer = await service.private_feed(db, settings, token, window, Conditions())
    assert answer.body is not None
    _check("manager_feed.ics", answer.body)


async def test_citizen_event_download_matches_stored_fixture(
    db: asyncpg.Pool, database_url: str, redis_url: str
) -> None:
    await seed_fixed_world(db)
    settings = _settings(database_url, redis_url)
    citizen = Principal(
        id=FIXED_CITIZEN,
        email="citizen@example.org",
        name="김나눔",
        role="citizen",
        institutions=frozenset(),
    )
    answer = await service.booking_event_feed(
        db, settings, citizen, fixed_booking_id(1), Conditions()
    )
    assert answer.body is not None
    _check("citizen_event.ics", answer.body)
