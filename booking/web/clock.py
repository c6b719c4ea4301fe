"""The time the pages act at: now, except in tests, which may set it (``BOOKING_ENV=test``
only) to act on a booking's day — the front desk's check-in opens 15 minutes before a start."""

from __future__ import annotations

from datetime import UTC, datetime

from booking.web.pages import PageRequest

__all__ = ("TEST_CLOCK_KEY", "page_now")

TEST_CLOCK_KEY = "nanum:test:now"
"""Redis key holding an RFC 3339 instant; read only when the app runs with ``env == "test"``."""


async def page_now(request: PageRequest) -> datetime:
    state = request.app.state
    if state.settings.env == "test":
        raw = await state.redis.get(TEST_CLOCK_KEY)
        if raw:
            moment = datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else str(raw))
            if moment.tzinfo is not None:
                return moment
    return datetime.now(UTC)
