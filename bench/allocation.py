"""A lottery round of 500 slots with 20,000 applications: freeze + draw + booking of the
winners + waitlists + one outbox row per applicant, in the draw job's one transaction.
Target ≤ 10 s. ``--slots=N`` / ``--applications=N`` change the size."""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.common import bench_database, option
from booking.accounts.auth import Principal
from booking.allocation import service
from schemas.allocation import RoundCreate, SlotRange

__all__ = ("run",)

TARGET_SECONDS = 10.0


async def run(args: list[str]) -> None:
    slots = int(option(args, "slots", "500"))
    applications = int(option(args, "applications", "20000"))
    per_citizen = 2
    citizens = applications // per_citizen
    async with bench_database("allocation") as url:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
        assert pool is not None
        try:
            institution: uuid.UUID = await pool.fetchval(
                "INSERT INTO institutions (name, kind, region, district)"
                " VALUES ('마포구청', 'gu_office', '서울특별시', '마포구') RETURNING id"
            )
            room: uuid.UUID = await pool.fetchval(
                "INSERT INTO rooms (institution_id, name, capacity, allocation_mode, horizon_days)"
                " VALUES ($1, '대강당', 200, 'lottery', 3650) RETURNING id",
                institution,
            )
            admin_id: uuid.UUID = await pool.fetchval(
                "INSERT INTO users (email, password_hash, name, role)"
                " VALUES ('admin@bench', 'x', 'admin', 'admin') RETURNING id"
            )
            await pool.execute(
                """
                INSERT INTO users (email, password_hash, name)
                SELECT 'c' || g || '@bench', 'x', '시민 ' || g FROM generate_series(1, $1) g
                """,
                citizens,
            )
            citizen_ids = [
                r["id"] for r in await pool.fetch("SELECT id FROM users WHERE role = 'citizen'")
            ]
            admin = Principal(admin_id, "admin@bench", "admin", "admin", frozenset())
            now = datetime.now(UTC)
            first = (now + timedelta(days=30)).replace(minute=0, second=0, microsecond=0)
            body = RoundCreate(
                title="bench",
                opens_at=now - timedelta(hours=1),
                closes_at=now + timedelta(days=1),
                draw_at=now + timedelta(days=2),
                slots=[
                    SlotRange(start=first + timedelta(hours=i), end=first + timedelta(hours=i + 1))
                    for i in range(slots)
                ],
                max_applications_per_citizen=per_citizen,
            )
            created = await service.create_round(pool, admin, room, body, now)
            await service.publish_round(pool, admin, created.id, now)
            salt: bytes = await pool.fetchval(
                "SELECT pseudonym_salt FROM allocation_rounds WHERE id = $1", created.id
            )
            slot_ids = [s.id for s in created.slots]
            rows = []
            for c in citizen_ids:  # two different random slots each
                first_slot = secrets.randbelow(slots)
                second_slot = (first_slot + 1 + secrets.randbelow(slots - 1)) % slots
                name = service.pseudonym(salt, c)
                rows += [(c, slot_ids[first_slot], name), (c, slot_ids[second_slot], name)]
            await pool.execute(
                """
                INSERT INTO allocation_applications (round_id, slot_id, citizen_id, pseudonym)
                SELECT $1, t.s, t.c, t.p
                FROM unnest($2::uuid[], $3::uuid[], $4::text[]) AS t(c, s, p)
                """,
                created.id,
                [r[0] for r in rows],
                [r[1] for r in rows],
                [r[2] for r in rows],
            )
            total = await pool.fetchval(
                "SELECT count(*) FROM allocation_applications WHERE round_id = $1", created.id
            )
            started = time.perf_counter()
            outcome = await service.draw_round(pool, created.id, now + timedelta(days=2))
            elapsed = time.perf_counter() - started
            winners = await pool.fetchval(
                "SELECT count(*) FROM bookings WHERE room_id = $1 AND holds_slot", room
            )
            waiting = await pool.fetchval("SELECT count(*) FROM waitlist_entries")
            print(
                f"round of {slots} slots, {total} applications from {citizens} citizens: "
                f"{outcome} in {elapsed:.2f} s (target ≤ {TARGET_SECONDS:.0f} s) — "
                f"{winners} winners booked, {waiting} waitlist entries"
            )
        finally:
            await pool.close()
