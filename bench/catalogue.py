"""Catalogue benchmark: free intervals and search over 5,000 rooms and 1,000,000 bookings.

Data is generated in SQL, set-based (generate_series), in a throw-away database built by the
real migrations. Latency is server-side: the service functions are timed directly on a pool,
so HTTP and client overhead are not included.
"""

from __future__ import annotations

import random
import time
from datetime import date, datetime, timedelta
from datetime import time as clock
from zoneinfo import ZoneInfo

import asyncpg

from bench.common import bench_database, report_latencies
from booking.catalogue.availability import free_time
from booking.catalogue.queries import RoomSearch, search_sql
from booking.catalogue.search import search_rooms
from booking.db import create_pool
from booking.settings import load_settings

__all__ = ("run",)

SEOUL = ZoneInfo("Asia/Seoul")
RUNS = 200
# Approximate centres of Seoul's 25 districts (lat, lon).
DISTRICTS: dict[str, tuple[float, float]] = {
    "종로구": (37.5735, 126.9790),
    "중구": (37.5641, 126.9979),
    "용산구": (37.5326, 126.9905),
    "성동구": (37.5634, 127.0369),
    "광진구": (37.5385, 127.0823),
    "동대문구": (37.5744, 127.0396),
    "중랑구": (37.6063, 127.0925),
    "성북구": (37.5894, 127.0167),
    "강북구": (37.6397, 127.0257),
    "도봉구": (37.6688, 127.0471),
    "노원구": (37.6542, 127.0568),
    "은평구": (37.6027, 126.9291),
    "서대문구": (37.5791, 126.9368),
    "마포구": (37.5663, 126.9019),
    "양천구": (37.5170, 126.8665),
    "강서구": (37.5509, 126.8495),
    "구로구": (37.4954, 126.8874),
    "금천구": (37.4568, 126.8954),
    "영등포구": (37.5264, 126.8962),
    "동작구": (37.5124, 126.9393),
    "관악구": (37.4784, 126.9516),
    "서초구": (37.4837, 127.0324),
    "강남구": (37.5172, 127.0473),
    "송파구": (37.5145, 127.1059),
    "강동구": (37.5301, 127.1238),
}
INSTITUTIONS_PER_DISTRICT = 40
ROOMS_PER_INSTITUTION = 5
BOOKINGS_PER_ROOM = 200  # 5,000 rooms x 200 = 1,000,000 bookings over a year


async def _generate(conn: asyncpg.Connection) -> None:
    await conn.execute("SET synchronous_commit = off")
    await conn.execute(
        """
        INSERT INTO users (email, password_hash, name)
        SELECT 'bench-' || g || '@example.org', 'not-a-hash', '시민 ' || g
        FROM generate_series(1, 2000) AS g
        """
    )
    names = list(DISTRICTS)
    await conn.execute(
        """
        INSERT INTO institutions (name, kind, region, district, latitude, longitude, address)
        SELECT d.name || ' ' || n || '동 주민센터', 'community_center', '서울특별시', d.name,
               d.lat + (random() - 0.5) * 0.05, d.lon + (random() - 0.5) * 0.06,
               '서울특별시 ' || d.name || ' ' || n || '길'
        FROM unnest($1::text[], $2::float8[], $3::float8[]) AS d(name, lat, lon),
             generate_series(1, $4) AS n
        """,
        names,
        [DISTRICTS[n][0] for n in names],
        [DISTRICTS[n][1] for n in names],
        INSTITUTIONS_PER_DISTRICT,
    )
    await conn.execute(
        """
        INSERT INTO rooms (institution_id, name, kind, capacity, amenities)
        SELECT i.id,
               (ARRAY['회의실', '강의실', '다목적실', '강당', '프로그램실'])[k] || ' ' || k,
               (ARRAY['meeting_room', 'lecture_room', 'multipurpose_room', 'hall',
                      'lecture_room'])[k],
               4 + floor(random() * 96)::int,
               (ARRAY['{projector,whiteboard}', '{desks,chairs}', '{projector,microphone}',
                      '{wifi,whiteboard,desks}'])[1 + floor(random() * 4)::int]::text[]
        FROM institutions i, generate_series(1, $1) AS k
        """,
        ROOMS_PER_INSTITUTION,
    )
    # Realistic windows: weekdays by day or evening, most rooms on weekend days, a few late
    # Friday windows crossing midnight.
    await conn.execute(
        """
        INSERT INTO availability_rules (room_id, days, start_time, end_time)
        SELECT id, '{1,2,3,4,5}',
               (ARRAY['09:00', '09:00', '18:00'])[1 + abs(hashtext(id::text)) % 3]::time,
               (ARRAY['18:00', '21:00', '22:00'])[1 + abs(hashtext(id::text)) % 3]::time
        FROM rooms;
        INSERT INTO availability_rules (room_id, days, start_time, end_time)
        SELECT id, '{6,7}', '09:00', '18:00' FROM rooms WHERE abs(hashtext(id::text)) % 10 < 7;
        INSERT INTO availability_rules (room_id, days, start_time, end_time)
        SELECT id, '{5}', '22:00', '02:00' FROM rooms WHERE abs(hashtext(id::text)) % 10 = 9;
        """
    )
    # One set-based INSERT. Per room, booking k falls on day floor(k * 365 / 200) of the year
    # (distinct days) between 09:00 and 18:00 local: non-overlapping by construction. The
    # exclusion constraint is re-added afterwards, which validates every row (bulk build is
    # much faster than 1M incremental GiST checks); the feed-version trigger is off meanwhile.
    started = time.perf_counter()
    await conn.execute(
        """
        ALTER TABLE bookings DROP CONSTRAINT booking_no_overlap;
        ALTER TABLE bookings DISABLE TRIGGER USER;
        """
    )
    await conn.execute(
        """
        WITH u AS (SELECT array_agg(id) AS ids FROM users),
             r AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM rooms)
        INSERT INTO bookings (room_id, citizen_id, during, status, attendees, purpose)
        SELECT r.id,
               u.ids[1 + (r.n * 7 + k) % 2000],
               tstzrange(s, s + (1 + (r.n + k) % 3) * interval '1 hour', '[)'),
               CASE WHEN (r.n + k) % 20 = 0 THEN 'cancelled'
                    WHEN (r.n + k) % 20 = 1 THEN 'pending' ELSE 'confirmed' END,
               1 + (r.n + k) % 20,
               '독서 모임'
        FROM u, r, generate_series(0, $1 - 1) AS k,
             LATERAL (SELECT ((current_date - 182 + (k * 365 / $1))::timestamp
                              + (9 + (r.n * 31 + k) % 7) * interval '1 hour')
                             AT TIME ZONE 'Asia/Seoul' AS s) AS t
        """,
        BOOKINGS_PER_ROOM,
    )
    await conn.execute(
        """
        ALTER TABLE bookings ADD CONSTRAINT booking_no_overlap
            EXCLUDE USING gist (room_id WITH =, during WITH &&)
            WHERE (status IN ('pending', 'confirmed', 'checked_in'));
        ALTER TABLE bookings ENABLE TRIGGER USER;
        """
    )
    print(f"bookings generated and constraint validated in {time.perf_counter() - started:.1f} s")
    await conn.execute("ANALYZE")


def _next_saturdays(count: int) -> list[date]:
    day = datetime.now(SEOUL).date() + timedelta(days=2)
    while day.isoweekday() != 6:
        day += timedelta(days=1)
    return [day + timedelta(weeks=n) for n in range(count)]


async def run(args: list[str]) -> None:
    async with bench_database("catalogue") as url:
        conn = await asyncpg.connect(url)
        try:
            started = time.perf_counter()
            await _generate(conn)
            counts = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM rooms) AS rooms,"
                " (SELECT count(DISTINCT district) FROM institutions) AS districts,"
                " (SELECT count(*) FROM bookings) AS bookings"
            )
            assert counts is not None
            print(
                f"generated {counts['rooms']} rooms in {counts['districts']} districts and"
                f" {counts['bookings']} bookings in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            rooms = [r["id"] for r in await conn.fetch("SELECT id FROM rooms")]
        finally:
            await conn.close()

        settings = load_settings(
            {"BOOKING_ENV": "test", "BOOKING_DATABASE_URL": url, "BOOKING_DB_POOL_MIN": "1"}
        )
        pool = await create_pool(settings)
        rng = random.Random(20261205)
        try:
            samples: list[float] = []
            for _ in range(RUNS):
                room = rng.choice(rooms)
                start = datetime.combine(
                    datetime.now(SEOUL).date() + timedelta(days=rng.randint(1, 20)), clock(), SEOUL
                )
                t0 = time.perf_counter()
                await free_time(pool, None, room, start, start + timedelta(days=31))
                samples.append((time.perf_counter() - t0) * 1000)
            report_latencies("free intervals, one room, 31 days", samples, 10)

            saturdays = _next_saturdays(6)
            districts = list(DISTRICTS)

            def district_search() -> RoomSearch:
                day = rng.choice(saturdays)
                hour = rng.choice((9, 10, 13, 14, 15))
                return RoomSearch(
                    region="서울특별시",
                    district=rng.choice(districts),
                    min_capacity=rng.choice((10, 20, 30)),
                    free_from=datetime.combine(day, clock(hour), SEOUL),
                    free_to=datetime.combine(day, clock(hour + 3), SEOUL),
                )

            samples = []
            for _ in range(RUNS):
                search = district_search()
                t0 = time.perf_counter()
                await search_rooms(pool, search, None)
                samples.append((time.perf_counter() - t0) * 1000)
            report_latencies("district search, 3-hour Saturday window, min_capacity", samples, 30)

            samples = []
            for _ in range(RUNS):
                lat, lon = DISTRICTS[rng.choice(districts)]
                search = RoomSearch(
                    near=(lat + rng.uniform(-0.01, 0.01), lon + rng.uniform(-0.01, 0.01)),
                    radius_km=3.0,
                )
                t0 = time.perf_counter()
                await search_rooms(pool, search, None)
                samples.append((time.perf_counter() - t0) * 1000)
            report_latencies("near search within 3 km", samples, 30)

            sql, params = search_sql(district_search())
            async with pool.acquire() as explain_conn:
                plan = await explain_conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *params)
            print("\nEXPLAIN (ANALYZE, BUFFERS) of the district search:")
            for row in plan:
                print("  " + row[0])
        finally:
            await pool.close()
