"""Bookings cancelled by a closure: each citizen gets a cancellation with a CANCEL invite."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.settings import Settings
from tests.factories import Cast, auth
from tests.jobs.conftest import SmtpServer
from tests.jobs.helpers import poll_until, running_worker

KST = timezone(timedelta(hours=9))


async def test_each_citizen_whose_booking_a_closure_cancels_gets_a_cancel_invite(
    client: AsyncTestClient[Litestar],
    db: asyncpg.Pool,
    cast: Cast,
    smtp: SmtpServer,
    job_settings: Settings,
) -> None:
    start = datetime.now(KST).replace(hour=10, minute=0, second=0, microsecond=0)
    start += timedelta(days=3)
    for citizen, hours in ((cast.citizen_a, 0), (cast.citizen_b, 1)):
        r = await client.post(
            "/v1/bookings",
            json={
                "room_id": str(cast.room_x),
                "start": (start + timedelta(hours=hours)).isoformat(),
                "end": (start + timedelta(hours=hours + 1)).isoformat(),
                "purpose": "모임",
                "attendees": 2,
            },
            headers=auth(citizen),
        )
        assert r.status_code == 201, r.text
    closed = await client.post(
        f"/v1/rooms/{cast.room_x}/closures",
        json={
            "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(),
            "reason": "정전",
            "cancel_bookings": True,
            "cancellation_reason": "정전으로 시설을 닫습니다.",
        },
        headers=auth(cast.manager_x),
    )
    assert closed.status_code == 201, closed.text
    async with running_worker(job_settings):
        # The booking.created rows find the bookings cancelled: no confirmation (no REQUEST
        # invite for a dead booking), only the two cancellations.
        await poll_until(
            lambda: db.fetchval("SELECT bool_and(processed_at IS NOT NULL) FROM outbox"),
            within=30,
            what="every outbox row processed",
        )
    assert await db.fetchval("SELECT count(*) FROM deliveries WHERE status = 'sent'") == 2
    cancellations = [
        m
        for m in smtp.handler.snapshot()
        if ":cancelled:" in str(m.message["X-Nanum-Delivery-Key"])
    ]
    assert sorted(m.recipients[0] for m in cancellations) == sorted(
        [cast.citizen_a.email, cast.citizen_b.email]
    )
    for mail in cancellations:
        invites = [p for p in mail.message.walk() if p.get_content_type() == "text/calendar"]
        assert len(invites) == 1
        assert invites[0].get_param("method") == "CANCEL"
        assert b"METHOD:CANCEL" in invites[0].get_payload(decode=True)
