"""Commit -> SMTP-accept latency of confirmations at 100 bookings/s for 60 s.

A throw-away migrated database, a private redis-server, a real worker subprocess
(``python -m workers``) and an in-process aiosmtpd sink. Bookings
go through ``book()``, the engine's own SQL path. Commit time is ``bookings.created_at``;
accept time is when the sink accepted the message. ``--seconds=N`` / ``--rate=N`` change the load.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from aiosmtpd.controller import Controller

from bench.common import bench_database, option, report_latencies
from booking.accounts.security import hash_password
from booking.jobs import queries
from booking.notifications.smtp_sink import RecordingHandler
from booking.reservations.queries import book
from booking.settings import REPO_ROOT

__all__ = ("run",)

ROOMS = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _setup(pool: asyncpg.Pool, citizens: int) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    institution = await pool.fetchval(
        "INSERT INTO institutions (name, kind, region, district) "
        "VALUES ('벤치 주민센터', 'community_center', '서울특별시', '마포구') RETURNING id"
    )
    rooms = []
    for i in range(ROOMS):
        room = await pool.fetchval(
            """
            INSERT INTO rooms (institution_id, name, capacity, slot_minutes, min_minutes,
                               max_minutes, lead_minutes, horizon_days, max_active_per_citizen)
            VALUES ($1, $2, 20, 30, 30, 60, 0, 365, 100000) RETURNING id
            """,
            institution,
            f"회의실 {i}",
        )
        await pool.execute(
            "INSERT INTO availability_rules (room_id, days, start_time, end_time) "
            "VALUES ($1, '{1,2,3,4,5,6,7}', '00:00', '24:00')",
            room,
        )
        rooms.append(room)
    password = hash_password("bench password 1")
    users = [
        await pool.fetchval(
            "INSERT INTO users (email, password_hash, name, email_verified_at)"
            " VALUES ($1, $2, '시민', now()) RETURNING id",
            f"bench-{i}@example.org",
            password,
        )
        for i in range(citizens)
    ]
    return rooms, users


async def run(args: list[str]) -> None:
    seconds = int(option(args, "seconds", "60"))
    rate = int(option(args, "rate", "100"))
    total = seconds * rate
    redis_port, smtp_port = _free_port(), _free_port()
    redis = subprocess.Popen(  # noqa: ASYNC220 - started once, before any load
        [
            shutil.which("redis-server") or "/usr/bin/redis-server",
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    handler = RecordingHandler()
    sink = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    sink.start()
    worker: subprocess.Popen[bytes] | None = None
    try:
        async with bench_database("jobs") as url:
            pool = await asyncpg.create_pool(url, min_size=4, max_size=16)
            assert pool is not None
            rooms, users = await _setup(pool, 50)
            env = {
                **os.environ,
                "PYTHONPATH": str(REPO_ROOT),
                "BOOKING_ENV": "test",
                "BOOKING_DATABASE_URL": url,
                "BOOKING_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                "BOOKING_SMTP_PORT": str(smtp_port),
                "BOOKING_LOG_LEVEL": "WARNING",
            }
            worker = subprocess.Popen(  # noqa: ASYNC220 - started once, before any load
                [sys.executable, "-m", "workers"],
                env=env,
                cwd=REPO_ROOT,
            )
            await asyncio.sleep(2)  # let the worker start; latency counts from each commit
            base = (datetime.now(UTC) + timedelta(days=1)).replace(
                minute=0, second=0, microsecond=0
            )

            async def one(i: int) -> None:
                room = rooms[i % ROOMS]
                start = base + timedelta(minutes=30 * (i // ROOMS))
                async with pool.acquire() as conn:
                    await book(
                        conn,
                        citizen_id=users[i % len(users)],
                        room_id=room,
                        start=start,
                        end=start + timedelta(minutes=30),
                        purpose="bench",
                        purpose_public=False,
                        attendees=2,
                        idempotency_key=None,
                        request_hash=None,
                    )

            began = time.monotonic()
            tasks = []
            for i in range(total):
                delay = began + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(i)))
            await asyncio.gather(*tasks)
            print(f"booked {total} in {time.monotonic() - began:.1f} s", flush=True)
            deadline = time.monotonic() + 120
            while len(handler.snapshot()) < total and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            created = {
                str(r["id"]): r["created_at"].timestamp()
                for r in await pool.fetch("SELECT id, created_at FROM bookings")
            }
            samples = [
                (m.accepted_at - created[str(m.message["X-Nanum-Booking-Id"]).strip()]) * 1000
                for m in handler.snapshot()
            ]
            async with pool.acquire() as conn:
                backlog = await queries.outbox_backlog(conn)
            await pool.close()
            report_latencies(
                f"commit -> SMTP accept ({rate}/s for {seconds} s)", samples, target_p95_ms=2000
            )
            print(
                f"messages: {len(samples)} of {total}; outbox backlog at the end: "
                f"{backlog.undispatched} (target 0)",
                flush=True,
            )
            worker.terminate()
            worker.wait(timeout=30)
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
        sink.stop()
        redis.terminate()
        redis.wait()
