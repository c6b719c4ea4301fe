"""A worker killed with SIGKILL mid-way loses nothing and sends nothing twice after restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from booking.settings import REPO_ROOT
from tests.factories import Cast
from tests.jobs.conftest import SmtpServer
from tests.jobs.helpers import PrivateRedis, insert_bookings, poll_until


def _start_worker(database_url: str, redis_url: str, smtp_port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "BOOKING_ENV": "test",
        "BOOKING_DATABASE_URL": database_url,
        "BOOKING_REDIS_URL": redis_url,
        "BOOKING_SMTP_PORT": str(smtp_port),
        "BOOKING_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "arq", "workers.settings.WorkerSettings"],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
async def test_worker_killed_mid_batch_delivers_all_500_once_after_restart(
    db: asyncpg.Pool,
    database_url: str,
    cast: Cast,
    smtp: SmtpServer,
    private_redis: PrivateRedis,
) -> None:
    start = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    await insert_bookings(db, cast.citizen_a.id, cast.room_x, start, 500, timedelta(minutes=30))

    async def sent() -> int:
        return int(await db.fetchval("SELECT count(*) FROM deliveries WHERE status = 'sent'"))

    worker = _start_worker(database_url, private_redis.url, smtp.port)
    try:
        # Killed at a point chosen by the database's progress, not by the SMTP server's.
        await poll_until(
            lambda: sent() if worker.poll() is None else True, within=60, what="progress"
        )
        assert worker.poll() is None, "the worker exited on its own"
        await poll_until(lambda: _at_least(sent, 150), within=60, what="150 sent")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)
    assert len(smtp.handler.snapshot()) < 500, "the kill came too late to test anything"

    worker = _start_worker(database_url, private_redis.url, smtp.port)
    try:
        # Jobs killed mid-run wait for arq's in-progress marker to expire (job timeout + 10 s).
        await poll_until(lambda: _at_least(sent, 500), within=60, what="500 sent")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0 or worker.returncode is not None
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)

    mails = smtp.handler.snapshot()
    counts = Counter(str(m.message["X-Nanum-Delivery-Key"]).strip() for m in mails)
    assert len(counts) == 500
    # The one documented window: the server accepted, the worker died before recording it.
    # Such a resend can only be a delivery that was in flight at the kill (attempts > 1), at
    # most one per job slot, and it carries the same Message-ID, so mail clients collapse it.
    twice = sorted(key for key, n in counts.items() if n > 1)
    assert all(counts[key] == 2 for key in twice)
    retried = {
        r["delivery_key"]
        for r in await db.fetch("SELECT delivery_key FROM deliveries WHERE attempts > 1")
    }
    assert set(twice) <= retried
    assert len(twice) <= 20  # WorkerSettings.max_jobs
    assert len({str(m.message["Message-ID"]) for m in mails}) == 500
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE dispatched_at IS NULL") == 0


async def _at_least(counter: object, n: int) -> bool:
    assert callable(counter)
    value = await counter()
    return bool(value >= n)
