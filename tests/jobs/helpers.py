"""Bookings as the engine writes them (booking + history + outbox row in one transaction),
an SMTP server, a private Redis and an in-process worker for the jobs tests."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, cast

import asyncpg
from arq.connections import RedisSettings
from arq.worker import Worker, create_worker

from booking.settings import Settings
from workers.settings import WorkerSettings

__all__ = (
    "PrivateRedis",
    "free_port",
    "insert_booking",
    "insert_bookings",
    "poll_until",
    "running_worker",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def insert_booking(
    db: asyncpg.Pool,
    citizen_id: uuid.UUID,
    room_id: uuid.UUID,
    start: datetime,
    end: datetime,
    *,
    status: str = "confirmed",
    topic: str = "booking.created",
) -> uuid.UUID:
    async with db.acquire() as conn, conn.transaction():
        booking_id: uuid.UUID = await conn.fetchval(
            """
            INSERT INTO bookings (room_id, citizen_id, during, status, attendees)
            VALUES ($1, $2, tstzrange($3, $4, '[)'), $5, 4) RETURNING id
            """,
            room_id,
            citizen_id,
            start,
            end,
            status,
        )
        await conn.execute(
            """
            INSERT INTO booking_history (booking_id, actor_id, from_status, to_status, during)
            SELECT id, citizen_id, NULL, status, during FROM bookings WHERE id = $1
            """,
            booking_id,
        )
        await conn.execute(
            "INSERT INTO outbox (topic, booking_id) VALUES ($1, $2)", topic, booking_id
        )
    return booking_id


async def insert_bookings(
    db: asyncpg.Pool,
    citizen_id: uuid.UUID,
    room_id: uuid.UUID,
    first_start: datetime,
    count: int,
    slot: Any,
) -> list[uuid.UUID]:
    """``count`` back-to-back bookings, each its own transaction, like ``count`` requests."""
    return [
        await insert_booking(
            db, citizen_id, room_id, first_start + i * slot, first_start + (i + 1) * slot
        )
        for i in range(count)
    ]


async def poll_until(
    condition: Callable[[], Any], *, within: float, interval: float = 0.05, what: str = ""
) -> None:
    """Wait for ``condition()`` (sync or async) to be truthy, failing after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what or condition}")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running_worker(
    settings: Settings, *, max_tries: int = 5, backoff: float = 0.05, relay: bool = True
) -> AsyncIterator[Worker]:
    """The real WorkerSettings in this event loop (relay loop included), stopped when idle."""
    worker = create_worker(
        cast(Any, WorkerSettings),
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        handle_signals=False,
        max_tries=max_tries,
        ctx={
            "settings": settings,
            "max_tries": max_tries,
            "retry_backoff_seconds": backoff,
            "relay": relay,
        },
    )
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        await poll_until(
            lambda: all(t.done() for t in worker.tasks.values()), within=10, what="idle worker"
        )
        with contextlib.suppress(asyncio.CancelledError), warnings.catch_warnings():
            # arq 0.28 closes its pool with redis' deprecated close(); not ours to fix.
            warnings.filterwarnings("ignore", "Call to deprecated close", DeprecationWarning)
            await worker.close()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class PrivateRedis:
    """A redis-server of this test alone (so it can be stopped), on a free port."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.binary = binary
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.spawn()

        def answers() -> bool:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return True
            return False

        await poll_until(answers, within=10, what="redis-server to listen")

    def spawn(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
