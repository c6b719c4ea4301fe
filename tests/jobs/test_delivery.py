"""Confirmations reach a real SMTP server once: Redis outages, retries, failed jobs, invites."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import asyncpg
import icalendar
from aiosmtpd.controller import Controller
from arq.connections import ArqRedis
from litestar.testing import AsyncTestClient

from booking.app import create_app
from booking.feeds.ical import booking_uid
from booking.jobs import queries
from booking.jobs.cli import jobs_retry
from booking.reservations.queries import transition
from booking.settings import Settings
from tests.conftest import make_settings
from tests.factories import Cast, auth, create_room
from tests.jobs.conftest import SmtpServer
from tests.jobs.helpers import (
    StallingHandler,
    free_port,
    insert_booking,
    poll_until,
    running_worker,
)
from tests.redis_server import PrivateRedis
from workers.relay import Relay


def _tomorrow() -> datetime:
    return (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


def _delivery_keys(smtp: SmtpServer) -> list[str]:
    return [str(m.message["X-Nanum-Delivery-Key"]).strip() for m in smtp.handler.snapshot()]


async def _backlog(db: asyncpg.Pool) -> int:
    async with db.acquire() as conn:
        row = await queries.outbox_backlog(conn)
    return int(row.undispatched)


async def test_bookings_made_while_redis_is_down_get_exactly_one_confirmation_each(
    db: asyncpg.Pool,
    database_url: str,
    settings: Settings,
    cast: Cast,
    smtp: SmtpServer,
    private_redis: PrivateRedis,
) -> None:
    """The API and the worker both use a Redis that is stopped while 200 bookings are made
    through POST /v1/bookings; once it is back, exactly 200 confirmations arrive."""
    app_settings = make_settings(
        database_url,
        private_redis.url,
        smtp_port=str(smtp.port),
        secret_key=settings.secret_key,  # the cast's tokens are signed with this key
        write_rate_limit_per_minute="5",  # would refuse most of these if Redis answered
    )
    room = await create_room(
        db, cast.institution_x, name="레디스 없는 방", max_active_per_citizen=1000
    )
    await private_redis.stop()

    first = _tomorrow() + timedelta(days=1)
    ids: list[str] = []
    async with AsyncTestClient(app=create_app(app_settings)) as client:
        for i in range(200):
            start = first + i * timedelta(hours=1)
            response = await client.post(
                "/v1/bookings",
                json={
                    "room_id": str(room),
                    "start": start.isoformat(),
                    "end": (start + timedelta(hours=1)).isoformat(),
                    "purpose": "Redis 점검 중 예약",
                    "attendees": 3,
                },
                headers=auth(cast.citizen_a),
            )
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
    assert len(set(ids)) == 200
    assert await _backlog(db) == 200

    # The relay meets the dead Redis: nothing is lost, the claims are given back.
    redis = ArqRedis.from_url(private_redis.url)
    try:
        relay = Relay(db, redis)
        try:
            await relay.run_once()
            raise AssertionError("enqueue to a stopped Redis must fail")
        except (ConnectionError, OSError):
            pass
    finally:
        await redis.aclose()
    assert await _backlog(db) == 200
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE claimed_at IS NOT NULL") == 0

    await private_redis.start()
    async with running_worker(app_settings):
        await poll_until(lambda: len(smtp.handler.snapshot()) >= 200, within=60, what="200 mails")
        await poll_until(
            lambda: db.fetchval("SELECT count(*) = 200 FROM deliveries WHERE status = 'sent'"),
            within=10,
        )
    keys = _delivery_keys(smtp)
    assert len(keys) == 200
    assert len(set(keys)) == 200
    assert {str(m.message["X-Nanum-Booking-Id"]).strip() for m in smtp.handler.snapshot()} == set(
        ids
    )
    assert await _backlog(db) == 0


async def test_smtp_refusing_twice_then_accepting_delivers_once_after_retries(
    db: asyncpg.Pool, cast: Cast, smtp: SmtpServer, job_settings: Settings
) -> None:
    smtp.handler.refuse_next = 2
    booking_id = await insert_booking(
        db, cast.citizen_a.id, cast.room_x, _tomorrow(), _tomorrow() + timedelta(hours=1)
    )
    async with running_worker(job_settings, max_tries=5, backoff=0.1):
        await poll_until(lambda: smtp.handler.snapshot(), within=20, what="the confirmation")
        await poll_until(
            lambda: db.fetchval("SELECT bool_and(status = 'sent') FROM deliveries"), within=10
        )
    assert smtp.handler.refused == 2
    assert len(smtp.handler.snapshot()) == 1
    row = await db.fetchrow("SELECT status, attempts, booking_id FROM deliveries")
    assert row is not None
    assert (row["status"], row["attempts"], row["booking_id"]) == ("sent", 3, booking_id)
    assert await db.fetchval("SELECT count(*) FROM failed_jobs") == 0


async def test_always_refusing_smtp_fails_the_job_and_jobs_retry_delivers_it(
    db: asyncpg.Pool, cast: Cast, smtp: SmtpServer, job_settings: Settings
) -> None:
    smtp.handler.refuse_all = True
    await insert_booking(
        db, cast.citizen_a.id, cast.room_x, _tomorrow(), _tomorrow() + timedelta(hours=1)
    )
    async with running_worker(job_settings, max_tries=3, backoff=0.05):
        await poll_until(
            lambda: db.fetchval("SELECT count(*) = 1 FROM failed_jobs"),
            within=20,
            what="failed job",
        )
        failed = await db.fetchrow("SELECT id, job_name, args::text, attempts FROM failed_jobs")
        assert failed is not None
        assert failed["job_name"] == "handle_outbox_event"
        assert failed["attempts"] == 3
        assert smtp.handler.refused == 3
        assert smtp.handler.snapshot() == []

        smtp.handler.refuse_all = False
        assert await jobs_retry(job_settings, argparse.Namespace(id=failed["id"])) == 0
        await poll_until(lambda: smtp.handler.snapshot(), within=20, what="the retried mail")
        await poll_until(
            lambda: db.fetchval("SELECT bool_and(status = 'sent') FROM deliveries"), within=10
        )
    assert len(smtp.handler.snapshot()) == 1
    assert await db.fetchval("SELECT retried_at IS NOT NULL FROM failed_jobs") is True


async def test_invite_parses_with_the_booking_uid_and_cancellation_sends_cancel(
    db: asyncpg.Pool, cast: Cast, smtp: SmtpServer, job_settings: Settings
) -> None:
    booking_id = await insert_booking(
        db, cast.citizen_a.id, cast.room_x, _tomorrow(), _tomorrow() + timedelta(hours=2)
    )
    async with running_worker(job_settings):
        await poll_until(lambda: smtp.handler.snapshot(), within=20, what="the confirmation")
        async with db.acquire() as conn, conn.transaction():
            await transition(
                conn,
                booking_id,
                "cancelled",
                from_statuses=("confirmed",),
                actor_id=cast.citizen_a.id,
                reason="plans changed",
                topic="booking.cancelled",
            )
        await poll_until(lambda: len(smtp.handler.snapshot()) >= 2, within=20, what="the cancel")

    confirmation, cancellation = smtp.handler.snapshot()
    invites = []
    for mail in (confirmation, cancellation):
        message = mail.message
        assert mail.recipients == (cast.citizen_a.email,)
        parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        assert len(parts) == 1
        body = parts[0].get_payload(decode=True)
        assert isinstance(body, bytes)
        calendar = icalendar.Calendar.from_ical(body)
        event = next(iter(calendar.walk("VEVENT")))
        invites.append(
            (
                parts[0].get_param("method"),
                str(calendar["METHOD"]),
                str(event["UID"]),
                int(str(event["SEQUENCE"])),
            )
        )
        text = next(p for p in message.walk() if p.get_content_type() == "text/plain")
        content = text.get_content()
        assert "예약" in content and "booking" in content.lower()
    assert invites[0][:3] == ("REQUEST", "REQUEST", booking_uid(booking_id))
    assert invites[1][:3] == ("CANCEL", "CANCEL", booking_uid(booking_id))
    assert invites[1][3] > invites[0][3]


async def test_a_job_slower_than_its_budget_is_retried_not_lost(
    db: asyncpg.Pool, cast: Cast, database_url: str, redis_url: str
) -> None:
    """A send that outlives the job's time budget is abandoned and retried. Without the budget,
    arq's job timeout (here 2 s, under the server's 3 s stall) would end the job with no retry,
    no failed_jobs row and the delivery stuck in 'sending'."""
    handler = StallingHandler(stall_next=1, stall_seconds=3.0)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = make_settings(database_url, redis_url, smtp_port=str(port))
        await insert_booking(
            db, cast.citizen_a.id, cast.room_x, _tomorrow(), _tomorrow() + timedelta(hours=1)
        )
        async with running_worker(settings, max_tries=3, backoff=0.05, budget=1.0):
            await poll_until(lambda: handler.snapshot(), within=20, what="the retried mail")
            await poll_until(
                lambda: db.fetchval("SELECT bool_and(status = 'sent') FROM deliveries"), within=10
            )
    finally:
        controller.stop()
    assert handler.stalled == 1
    assert len(handler.snapshot()) == 1
    assert await db.fetchval("SELECT attempts FROM deliveries") == 2
    assert await db.fetchval("SELECT count(*) FROM failed_jobs") == 0
