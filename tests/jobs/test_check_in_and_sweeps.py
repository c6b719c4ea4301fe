"""Check-in, no-show auto-release, completion and reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.notifications import service
from booking.reservations import lifecycle
from booking.settings import Settings
from tests.factories import Cast
from tests.jobs.conftest import SmtpServer
from tests.jobs.helpers import insert_booking, poll_until, running_worker
from workers import jobs


def _now_slot() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


async def _status(db: asyncpg.Pool, booking_id: object) -> str:
    return str(await db.fetchval("SELECT status FROM bookings WHERE id = $1", booking_id))


async def test_unchecked_booking_turns_no_show_frees_the_slot_and_tells_the_citizen(
    db: asyncpg.Pool, cast: Cast, smtp: SmtpServer, job_settings: Settings
) -> None:
    await db.execute(
        "UPDATE rooms SET requires_check_in = true, check_in_grace_minutes = 15 WHERE id = $1",
        cast.room_x,
    )
    start = _now_slot() - timedelta(minutes=20)
    end = start + timedelta(hours=2)
    booking_id = await insert_booking(db, cast.citizen_a.id, cast.room_x, start, end)
    # Inside the grace period nothing happens; after it the booking is released.
    assert await lifecycle.release_no_shows(db, start + timedelta(minutes=14)) == []
    assert await lifecycle.release_no_shows(db, datetime.now(UTC)) == [booking_id]
    assert await _status(db, booking_id) == "no_show"
    history = await db.fetchrow(
        "SELECT from_status, to_status FROM booking_history WHERE booking_id = $1 ORDER BY id DESC",
        booking_id,
    )
    assert history is not None and tuple(history) == ("confirmed", "no_show")

    # The rest of the slot can be booked by someone else (the constraint no longer sees it).
    rest = await insert_booking(
        db, cast.citizen_b.id, cast.room_x, _now_slot() + timedelta(minutes=5), end
    )
    assert await _status(db, rest) == "confirmed"

    async with running_worker(job_settings):
        await poll_until(
            lambda: any(
                "no_show" in str(m.message["X-Nanum-Delivery-Key"]).strip()
                for m in smtp.handler.snapshot()
            ),
            within=20,
            what="the no-show notice",
        )
    notice = next(
        m
        for m in smtp.handler.snapshot()
        if "no_show" in str(m.message["X-Nanum-Delivery-Key"]).strip()
    )
    assert notice.recipients == (cast.citizen_a.email,)


async def test_check_in_window_owner_only_and_no_show_skips_checked_in(
    db: asyncpg.Pool, cast: Cast, app: Litestar, client: AsyncTestClient[Litestar]
) -> None:
    await db.execute("UPDATE rooms SET requires_check_in = true WHERE id = $1", cast.room_x)
    later = _now_slot() + timedelta(hours=3)
    future = await insert_booking(
        db, cast.citizen_a.id, cast.room_x, later, later + timedelta(hours=1)
    )
    started = await insert_booking(
        db,
        cast.citizen_a.id,
        cast.room_x,
        _now_slot() - timedelta(minutes=5),
        _now_slot() + timedelta(minutes=55),
    )

    too_early = await client.post(
        f"/v1/bookings/{future}/check-in", headers=cast.headers("citizen_a")
    )
    assert too_early.status_code == 409
    assert too_early.json()["current_status"] == "confirmed"
    assert too_early.headers["content-type"].startswith("application/problem+json")

    for role, expected in (
        ("anonymous", 401),
        ("citizen_b", 404),
        ("manager_y", 404),
        ("manager_x", 403),
    ):
        r = await client.post(f"/v1/bookings/{started}/check-in", headers=cast.headers(role))
        assert r.status_code == expected, role

    ok = await client.post(f"/v1/bookings/{started}/check-in", headers=cast.headers("citizen_a"))
    assert ok.status_code == 200
    assert ok.json() == {"booking_id": str(started), "status": "checked_in"}
    again = await client.post(f"/v1/bookings/{started}/check-in", headers=cast.headers("citizen_a"))
    assert again.status_code == 200
    assert (
        await db.fetchval(
            "SELECT count(*) FROM outbox WHERE booking_id = $1 AND topic = 'booking.checked_in'",
            started,
        )
        == 1
    )
    assert await lifecycle.release_no_shows(db, datetime.now(UTC) + timedelta(minutes=30)) == []
    assert await _status(db, started) == "checked_in"
    # After the end a checked-in booking is completed.
    completed = await lifecycle.complete_ended_bookings(db, datetime.now(UTC) + timedelta(hours=1))
    assert started in completed
    assert await _status(db, started) == "completed"


async def test_reminders_are_sent_once_and_never_for_cancelled_bookings(
    db: asyncpg.Pool, cast: Cast, smtp: SmtpServer, job_settings: Settings
) -> None:
    start = _now_slot() + timedelta(hours=30)
    kept = await insert_booking(
        db, cast.citizen_a.id, cast.room_x, start, start + timedelta(hours=1)
    )
    dropped = await insert_booking(
        db, cast.citizen_b.id, cast.room_y, start, start + timedelta(hours=1), status="cancelled"
    )
    await db.execute("UPDATE bookings SET created_at = now() - interval '3 days'")
    at = start - timedelta(hours=23)
    due = await service.due_reminders(db, "reminder_24h", at)
    assert due == [kept]
    assert dropped not in due
    assert await service.send_reminder(db, job_settings, kept, "reminder_24h") is True
    assert await service.send_reminder(db, job_settings, kept, "reminder_24h") is False
    assert await service.send_reminder(db, job_settings, dropped, "reminder_24h") is False
    assert await service.due_reminders(db, "reminder_24h", at) == []
    keys = [str(m.message["X-Nanum-Delivery-Key"]).strip() for m in smtp.handler.snapshot()]
    assert keys == [f"booking:{kept}:reminder_24h"]
    assert jobs.REMINDER_JOB == "send_reminder"
