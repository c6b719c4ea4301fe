"""``python -m bench manager_pages``: the manager's week view and use page.

The catalogue benchmark's generator fills a throw-away database (5,000 rooms, 1,000,000
bookings over a year); on top of it one institution gets 30 rooms open every day 08:00-22:00,
each booked 09:00-21:00 in 2-hour blocks every day for the past 12 months and the coming week
(≈ 66,000 more bookings). The real app is served by uvicorn on a loopback port and asked, one
request at a time over a kept-alive connection by a signed-in manager, for the institution's
week view (30 columns) and for the use page of one of its rooms (12 months). Use figures come
from ``room_usage_monthly``: the hourly job's refresh of every active room (this and last month)
is timed too, and the 12 months of the institution's rooms are computed before the timing, as
the job (or a first visit) would have done.

``--week-only`` skips the 1,000,000-booking generator and the use page: only the institution
(its 30 rooms and ≈ 66,000 bookings) and the week view, in about a minute, for iterating on it.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from bench.catalogue import _generate
from bench.common import app_settings, bench_database, report_latencies, served_app
from booking.accounts.security import hash_password
from booking.db import create_pool
from booking.manage import service as manage
from booking.settings import Settings

SEOUL = ZoneInfo("Asia/Seoul")
RUNS = 200
TARGET_MS = 50
PASSWORD = "bench manager password"


async def _institution(conn: asyncpg.Connection) -> tuple[str, list[str], str]:
    institution = await conn.fetchval(
        """
        INSERT INTO institutions (name, kind, region, district)
        VALUES ('벤치 구청', 'gu_office', '서울특별시', '마포구') RETURNING id
        """
    )
    rooms = await conn.fetch(
        """
        INSERT INTO rooms (institution_id, name, capacity, slot_minutes, min_minutes,
                           max_minutes, lead_minutes, horizon_days)
        SELECT $1, '회의실 ' || g, 20, 60, 60, 240, 0, 365 FROM generate_series(1, 30) AS g
        RETURNING id
        """,
        institution,
    )
    room_ids = [r["id"] for r in rooms]
    await conn.execute(
        """
        INSERT INTO availability_rules (room_id, days, start_time, end_time)
        SELECT r, ARRAY[1,2,3,4,5,6,7], '08:00', '22:00' FROM unnest($1::uuid[]) AS r
        """,
        room_ids,
    )
    citizen = await conn.fetchval("SELECT id FROM users WHERE role = 'citizen' LIMIT 1")
    if citizen is None:  # --week-only: no generated catalogue
        citizen = await conn.fetchval(
            "INSERT INTO users (email, password_hash, name) "
            "VALUES ('bench-citizen@example.org', 'not-a-hash', '시민') RETURNING id"
        )
    await conn.execute(
        """
        INSERT INTO bookings (room_id, citizen_id, during, status, attendees, purpose)
        SELECT r, $2,
               tstzrange((d + make_interval(hours => h)) AT TIME ZONE 'Asia/Seoul',
                         (d + make_interval(hours => h + 2)) AT TIME ZONE 'Asia/Seoul', '[)'),
               CASE WHEN d >= $3::date THEN 'confirmed'
                    ELSE (ARRAY['completed','completed','completed','no_show','cancelled'])
                         [1 + (abs(hashtext(r::text || d::text || h::text)) % 5)] END,
               5, '동아리 모임'
        FROM unnest($1::uuid[]) AS r,
             -- Local dates (date + n), so that date + hours is a local wall-clock time.
             generate_series(-365, 7) AS n, LATERAL (SELECT $3::date + n AS d) AS day,
             unnest(ARRAY[9, 11, 13, 15, 17, 19]) AS h
        """,
        room_ids,
        citizen,
        datetime.now(SEOUL).date(),
    )
    manager = await conn.fetchval(
        """
        INSERT INTO users (email, password_hash, name, role)
        VALUES ('bench-manager@example.org', $1, '관리자', 'manager') RETURNING id
        """,
        hash_password(PASSWORD),
    )
    await conn.execute(
        "INSERT INTO institution_managers (institution_id, user_id) VALUES ($1, $2)",
        institution,
        manager,
    )
    return str(institution), [str(r) for r in room_ids], "bench-manager@example.org"


async def _sign_in(client: httpx.AsyncClient, email: str) -> None:
    page = await client.get("/sign-in")
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert match
    answer = await client.post(
        "/sign-in",
        data={"_csrf_token": match.group(1), "email": email, "password": PASSWORD, "next": "/"},
    )
    assert answer.status_code == 303, answer.status_code


async def _time(client: httpx.AsyncClient, paths: list[str]) -> list[float]:
    for path in paths[:10]:  # warm up
        await client.get(path)
    samples: list[float] = []
    for n in range(RUNS):
        path = paths[n % len(paths)]
        t0 = time.perf_counter()
        answer = await client.get(path)
        samples.append((time.perf_counter() - t0) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    return samples


async def run(args: list[str]) -> None:
    week_only = "--week-only" in args
    async with bench_database("manager") as url:
        conn = await asyncpg.connect(url)
        try:
            started = time.perf_counter()
            if not week_only:
                await _generate(conn)
            institution, rooms, email = await _institution(conn)
            total = await conn.fetchval("SELECT count(*) FROM bookings")
            print(
                f"generated {total} bookings ({await conn.fetchval('SELECT count(*) FROM rooms')}"
                f" rooms) in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            await conn.execute("ANALYZE")
        finally:
            await conn.close()
        settings = app_settings(url)
        if not week_only:
            await _use_figures(settings, rooms)
        await _serve_and_time(settings, institution, rooms, email, week_only=week_only)


async def _use_figures(settings: Settings, rooms: list[str]) -> None:
    pool = await create_pool(settings)
    try:
        t0 = time.perf_counter()
        pairs = await manage.refresh_recent_use(pool, datetime.now(UTC))
        print(
            f"use job: this and last month of every active room ({pairs} room-months) in"
            f" {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        months = manage.month_starts(datetime.now(SEOUL).date())
        t0 = time.perf_counter()
        for r in rooms:
            await manage.refresh_use(pool, [(uuid.UUID(r), m) for m in months], datetime.now(UTC))
        print(
            f"use figures of the institution's 30 rooms x 12 months computed in"
            f" {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
    finally:
        await pool.close()


async def _serve_and_time(
    settings: Settings, institution: str, rooms: list[str], email: str, *, week_only: bool
) -> None:
    rng = random.Random(20261130)
    today = datetime.now(SEOUL).date()
    monday = today - timedelta(days=today.weekday())
    async with served_app(settings) as base, httpx.AsyncClient(base_url=base) as client:
        await _sign_in(client, email)
        weeks = [monday, monday + timedelta(days=7)]
        week_paths = [f"/manage/{institution}/calendar?week={date.isoformat(w)}" for w in weeks]
        samples = await _time(client, week_paths)
        report_latencies(
            "institution week view (30 rooms, a full week of bookings), server time",
            samples,
            TARGET_MS,
        )
        if week_only:
            return
        use_paths = [f"/manage/{institution}/use?room={rng.choice(rooms)}"]
        use_paths += [f"/manage/{institution}/use?room={r}" for r in rooms]
        samples = await _time(client, use_paths)
        report_latencies(
            "use page (one room, 12 months; 1,000,000+ bookings in the table), server time",
            samples,
            TARGET_MS,
        )
