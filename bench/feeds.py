"""Calendar feeds: a room with 2,000 bookings in the window.

Figures: full feed p95 after one booking changed (target <= 50 ms: the changed event is rendered,
the others come from the event cache) and for unchanged data (the ETag-keyed body cache); how
many renders 100 concurrent first requests after a change cause (target: one); and the 304
revalidation path in requests/s against ``/healthz`` in the same run (target >= 50 %), measured
with ``wrk``.
The app runs under uvicorn (uvloop, httptools, no access log) in a subprocess.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from bench.common import bench_database, report_latencies
from booking.feeds.service import FINGERPRINT_TTL
from booking.settings import REPO_ROOT

__all__ = ("run",)

BOOKINGS = 2000
METRICS_TOKEN = "bench-metrics-token-0123456789"
WRK_SECONDS = 5
WRK_CONNECTIONS = 32


async def _seed(url: str) -> uuid.UUID:
    conn = await asyncpg.connect(url)
    try:
        institution: uuid.UUID = await conn.fetchval(
            """
            INSERT INTO institutions (name, kind, region, district, address, latitude, longitude)
            VALUES ('망원1동 주민센터', 'community_center', '서울특별시', '마포구',
                    '서울특별시 마포구 월드컵로 1', 37.5556, 126.902) RETURNING id
            """
        )
        room: uuid.UUID = await conn.fetchval(
            "INSERT INTO rooms (institution_id, name, capacity) VALUES ($1, '3층 다목적회의실', 20)"
            " RETURNING id",
            institution,
        )
        citizen: uuid.UUID = await conn.fetchval(
            "INSERT INTO users (email, password_hash, name) VALUES ('bench@example.org', 'x', '김나눔')"
            " RETURNING id"
        )
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        statuses = ("confirmed", "confirmed", "pending", "cancelled")
        await conn.executemany(
            """
            INSERT INTO bookings (room_id, citizen_id, during, status, purpose, purpose_public,
                                  attendees)
            VALUES ($1, $2, tstzrange($3, $4, '[)'), $5, $6, $7, $8)
            """,
            [
                (
                    room,
                    citizen,
                    start + timedelta(hours=4 * i),
                    start + timedelta(hours=4 * i + 2),
                    statuses[i % len(statuses)],
                    "주민 모임" if i % 5 == 0 else "",
                    i % 5 == 0,
                    1 + i % 30,
                )
                for i in range(BOOKINGS)
            ],
        )
        return room
    finally:
        await conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _wait_ready(base: str, proc: asyncio.subprocess.Process, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError("uvicorn exited during start-up")
            try:
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("uvicorn did not become ready in time")


def _wrk(url: str, headers: dict[str, str]) -> float:
    args = ["wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{WRK_SECONDS}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise RuntimeError(f"wrk saw {non_2xx.group(1)} error responses for {url}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"unexpected wrk output: {out}")
    return float(match.group(1))


async def _latencies(client: httpx.AsyncClient, path: str, n: int) -> list[float]:
    samples: list[float] = []
    for _ in range(n):
        started = time.perf_counter()
        response = await client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return samples


async def _change_one(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "UPDATE bookings SET updated_at = now(), sequence = sequence + 1"
        " WHERE id = (SELECT id FROM bookings ORDER BY random() LIMIT 1)"
    )


async def _renders(client: httpx.AsyncClient) -> float:
    metrics = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    found = re.search(rb"^nanum_feed_renders_total ([0-9.e+]+)$", metrics.content, re.M)
    return float(found.group(1)) if found else 0.0


async def run(args: list[str]) -> None:
    if shutil.which("wrk") is None:
        print("feeds bench needs wrk (apt-get install -y wrk)")
        return
    async with bench_database("feeds") as url:
        room = await _seed(url)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "BOOKING_DATABASE_URL": url,
            "BOOKING_ENV": "test",
            "BOOKING_ACCESS_LOG": "false",
            "BOOKING_LOG_LEVEL": "WARNING",
            "BOOKING_METRICS_TOKEN": METRICS_TOKEN,
            "PYTHONPATH": str(REPO_ROOT),
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "uvicorn", "booking.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop",
            "--http", "httptools", "--no-access-log", "--log-level", "warning",
            env=env,
            cwd=REPO_ROOT,
        )  # fmt: skip
        try:
            await _wait_ready(base, proc)
            path = f"/v1/rooms/{room}/calendar.ics"
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                first = await client.get(path)
                events = first.content.count(b"BEGIN:VEVENT")
                print(f"feed: {events} events, {len(first.content)} bytes", flush=True)

                cold: list[float] = []
                conn = await asyncpg.connect(url)
                try:
                    for _ in range(15):
                        # One booking changes; once the fingerprint's second has passed, the
                        # next GET assembles a new body (only that event is rendered).
                        await _change_one(conn)
                        await asyncio.sleep(FINGERPRINT_TTL + 0.05)
                        cold += await _latencies(client, path, 1)
                    await _change_one(conn)
                    await asyncio.sleep(FINGERPRINT_TTL + 0.05)
                    renders = await _renders(client)
                    answers = await asyncio.gather(*(client.get(path) for _ in range(100)))
                    assert {a.status_code for a in answers} == {200}
                    shared = await _renders(client) - renders
                finally:
                    await conn.close()
                report_latencies(
                    f"full feed after one change ({events} events)", cold, target_p95_ms=50
                )
                print(
                    f"100 concurrent first requests after a change: {shared:.0f} render(s) "
                    f"(target 1: {'met' if shared == 1 else 'MISSED'})",
                    flush=True,
                )
                warm = await _latencies(client, path, 200)
                report_latencies("full feed, unchanged data", warm, target_p95_ms=50)
                etag = (await client.get(path)).headers["etag"]
                assert (await client.get(path, headers={"If-None-Match": etag})).status_code == 304

            healthz = await asyncio.to_thread(_wrk, f"{base}/healthz", {})
            not_modified = await asyncio.to_thread(_wrk, f"{base}{path}", {"If-None-Match": etag})
            ratio = not_modified / healthz
            verdict = "met" if ratio >= 0.5 else "MISSED"
            print(f"/healthz: {healthz:.0f} req/s", flush=True)
            print(
                f"feed 304 revalidation: {not_modified:.0f} req/s = {ratio:.0%} of /healthz "
                f"(target >= 50 %: {verdict})",
                flush=True,
            )
        finally:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
