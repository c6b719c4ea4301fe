"""The worker process rides out a Redis restart and a Postgres restart without exiting, and
every confirmation still arrives once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import asyncpg
import pytest

from booking.settings import REPO_ROOT
from tests.conftest import make_settings
from tests.factories import create_cast
from tests.jobs.conftest import SmtpServer
from tests.jobs.helpers import insert_booking, poll_until
from tests.postgres_server import PrivatePostgres
from tests.redis_server import PrivateRedis

OUTAGE_SECONDS = 4.0


def _start_worker(
    database_url: str, redis_url: str, smtp_port: int, log: BinaryIO
) -> subprocess.Popen[bytes]:
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
        [sys.executable, "-m", "workers"],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


@pytest.mark.slow
async def test_the_worker_rides_out_a_redis_and_a_postgres_restart(
    private_postgres: PrivatePostgres,
    private_redis: PrivateRedis,
    smtp: SmtpServer,
    tmp_path: Path,
) -> None:
    settings = make_settings(private_postgres.url, private_redis.url, smtp_port=str(smtp.port))
    db = await asyncpg.create_pool(private_postgres.url, min_size=1, max_size=2)
    assert db is not None
    log = tmp_path / "worker.log"
    with log.open("wb") as log_file:
        worker = _start_worker(private_postgres.url, private_redis.url, smtp.port, log_file)
    try:
        cast = await create_cast(db, settings)
        start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)

        async def book(n: int) -> None:
            s = start + timedelta(hours=n)
            await insert_booking(db, cast.citizen_a.id, cast.room_x, s, s + timedelta(hours=1))

        async def mails(n: int) -> None:
            await poll_until(lambda: len(smtp.handler.snapshot()) >= n, within=60, what=f"{n}")

        await book(0)
        await mails(1)

        # Redis goes away (and comes back empty); a booking is made meanwhile.
        await private_redis.stop()
        await book(1)
        await asyncio.sleep(OUTAGE_SECONDS)
        assert worker.poll() is None, "the worker exited when Redis went away"
        await private_redis.start()
        await mails(2)

        # Postgres restarts; a booking is made once it is back.
        await db.close()
        await private_postgres.stop()
        await asyncio.sleep(OUTAGE_SECONDS)
        assert worker.poll() is None, "the worker exited when Postgres went away"
        await private_postgres.start()
        db = await asyncpg.create_pool(private_postgres.url, min_size=1, max_size=2)
        assert db is not None
        await book(2)
        await mails(3)
        assert worker.poll() is None
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(worker.wait, 30)
            except subprocess.TimeoutExpired:
                worker.kill()
        await db.close()
    stderr = log.read_text()
    keys = Counter(str(m.message["X-Nanum-Delivery-Key"]).strip() for m in smtp.handler.snapshot())
    assert len(keys) == 3 and all(n == 1 for n in keys.values()), keys
    assert "redis unreachable" in stderr
    assert "redis reachable again" in stderr
