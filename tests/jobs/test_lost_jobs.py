"""A job lost inside Redis after dispatch (a flush, a restart without persistence) is sent
again by the outbox sweep, under the same delivery keys: everything arrives, nothing twice."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg
from arq.connections import ArqRedis

from booking.settings import Settings
from tests.conftest import make_settings
from tests.factories import Cast, create_room
from tests.jobs.conftest import SmtpServer
from tests.jobs.helpers import insert_bookings, poll_until, running_worker
from tests.redis_server import PrivateRedis
from workers.relay import Relay, sweep_stale_claims

BOOKINGS = 200


def _first_start() -> datetime:
    return (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)


async def test_200_confirmations_lost_in_a_flushed_redis_all_arrive_once(
    db: asyncpg.Pool,
    database_url: str,
    cast: Cast,
    smtp: SmtpServer,
    private_redis: PrivateRedis,
) -> None:
    """200 bookings are dispatched to Redis (rows ``dispatched_at``, jobs queued) while no worker
    runs; Redis is flushed, as a restart without persistence would; a worker then starts. The
    sweep finds the 200 rows dispatched but never processed and dispatches them again: all 200
    confirmations arrive, each once, and every row ends processed."""
    settings = make_settings(database_url, private_redis.url, smtp_port=str(smtp.port))
    room = await create_room(
        db, cast.institution_x, name="유실 시험실", max_active_per_citizen=1000
    )
    ids = await insert_bookings(
        db, cast.citizen_a.id, room, _first_start(), BOOKINGS, timedelta(hours=1)
    )

    redis = ArqRedis.from_url(private_redis.url)
    try:
        assert await Relay(db, redis).run_once() == BOOKINGS
        assert await redis.zcard("arq:queue") == BOOKINGS
        await redis.flushall()
        assert await redis.zcard("arq:queue") == 0
    finally:
        await redis.aclose()
    assert (
        await db.fetchval(
            "SELECT count(*) FROM outbox WHERE dispatched_at IS NOT NULL AND processed_at IS NULL"
        )
        == BOOKINGS
    )

    async with running_worker(settings, redispatch_after=1.0):
        # The sweep cron runs every 10 s.
        await poll_until(
            lambda: len(smtp.handler.snapshot()) >= BOOKINGS, within=60, what="200 mails"
        )
        await poll_until(
            lambda: db.fetchval(
                "SELECT count(*) = $1 FROM outbox WHERE processed_at IS NOT NULL", BOOKINGS
            ),
            within=20,
            what="every row processed",
        )

    mails = smtp.handler.snapshot()
    keys = Counter(str(m.message["X-Nanum-Delivery-Key"]).strip() for m in mails)
    assert len(mails) == BOOKINGS
    assert all(n == 1 for n in keys.values()), keys.most_common(3)
    assert {str(m.message["X-Nanum-Booking-Id"]).strip() for m in mails} == {str(i) for i in ids}
    assert await db.fetchval("SELECT count(*) FROM deliveries WHERE status = 'sent'") == BOOKINGS
    # Nothing is left for the sweep, even with no grace at all: processed rows stay put.
    assert await sweep_stale_claims(db, older_than=0, redispatch_after=0) == 0


async def test_processed_rows_are_never_dispatched_again_and_slow_ones_are_a_no_op(
    db: asyncpg.Pool, cast: Cast, smtp: SmtpServer, job_settings: Settings
) -> None:
    """A row whose job finished is not touched by the sweep; a row dispatched whose job is
    still in Redis is re-enqueued as a no-op (same job id), so it is sent once."""
    room = await create_room(db, cast.institution_x, name="느린 방", max_active_per_citizen=100)
    await insert_bookings(db, cast.citizen_a.id, room, _first_start(), 3, timedelta(hours=1))
    redis = ArqRedis.from_url(job_settings.redis_url)
    try:
        assert await Relay(db, redis).run_once() == 3
        # Dispatched, still queued in Redis: the sweep gives them back and the relay's second
        # enqueue is refused by arq (same job id): still three jobs.
        assert await sweep_stale_claims(db, older_than=0, redispatch_after=0) == 3
        assert await Relay(db, redis).run_once() == 3
        assert await redis.zcard("arq:queue") == 3
    finally:
        await redis.aclose()
    async with running_worker(job_settings):
        await poll_until(
            lambda: db.fetchval("SELECT count(*) = 3 FROM outbox WHERE processed_at IS NOT NULL"),
            within=20,
            what="three rows processed",
        )
    assert await sweep_stale_claims(db, older_than=0, redispatch_after=0) == 0
    assert len(smtp.handler.snapshot()) == 3
