"""Graceful shutdown: on SIGTERM the server stops accepting and finishes what is in flight."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from booking.settings import REPO_ROOT, Settings
from tests.factories import auth, create_institution, create_room, create_user


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


async def _until(condition: object, what: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while True:
        result = condition() if callable(condition) else condition
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_sigterm_finishes_the_request_in_flight_then_exits(
    database_url: str, redis_url: str, db: asyncpg.Pool, settings: Settings
) -> None:
    citizen = await create_user(db, settings)
    room = await create_room(db, await create_institution(db))
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "BOOKING_ENV": "test",
        "BOOKING_DATABASE_URL": database_url,
        "BOOKING_REDIS_URL": redis_url,
        "BOOKING_SECRET_KEY": settings.secret_key,
        "BOOKING_ACCESS_LOG": "false",
    }
    server = subprocess.Popen(  # noqa: ASYNC220 - returns at once; waited on below off the loop
        [
            sys.executable,
            "-m",
            "uvicorn",
            "booking.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await _until(lambda: _accepts(port), "the server to listen")
        # Hold the request inside its transaction: our uncommitted claim of the same
        # Idempotency-Key makes the server's book() wait on it.
        blocker = await asyncpg.connect(database_url)
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, response)"
            " VALUES ($1, 'held', '\\x00', 0, '')",
            citizen.id,
        )
        start = (datetime.now(UTC) + timedelta(days=2)).replace(
            hour=10, minute=0, second=0, microsecond=0
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            request = asyncio.create_task(
                http.post(
                    "/v1/bookings",
                    json={
                        "room_id": str(room),
                        "start": start.isoformat(),
                        "end": (start + timedelta(hours=1)).isoformat(),
                        "attendees": 2,
                    },
                    headers={**auth(citizen), "Idempotency-Key": "held"},
                )
            )
            await _until(
                lambda: db.fetchval(
                    "SELECT count(*) > 0 FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ),
                "the request to wait on the held key",
            )
            server.send_signal(signal.SIGTERM)
            await _until(lambda: not _accepts(port), "the server to stop accepting")
            assert not request.done()
            await transaction.rollback()  # release: the request in flight can finish
            await blocker.close()
            response = await request
        assert response.status_code == 201, response.text
        # uvicorn re-raises the captured SIGTERM once it has shut down cleanly.
        assert await asyncio.to_thread(server.wait, 20) in (0, -signal.SIGTERM)
        assert await db.fetchval("SELECT count(*) FROM bookings") == 1
    finally:
        if server.poll() is None:
            server.kill()
            await asyncio.to_thread(server.wait, 20)
