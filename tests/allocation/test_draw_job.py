"""The draw job: killed mid-way and run again by the real worker, it draws the same result and
every applicant gets exactly one result e-mail."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg

from booking.allocation import draw as algorithm
from booking.allocation import service
from booking.settings import Settings
from tests.allocation.helpers import (
    DRAW_TIME,
    NOW,
    applicants,
    as_principal,
    lottery_room,
    open_round,
    saturday_slots,
)
from tests.factories import Cast
from tests.jobs.conftest import SmtpServer
from tests.jobs.helpers import poll_until, running_worker


async def test_a_draw_killed_mid_way_is_redrawn_identically_with_one_email_per_citizen(
    db: asyncpg.Pool, database_url: str, job_settings: Settings, cast: Cast, smtp: SmtpServer
) -> None:
    manager = as_principal(cast.manager_x, (cast.institution_x,))
    room = await lottery_room(db, cast.institution_x)
    round_id = await open_round(db, manager, room, saturday_slots(3))
    slots = (await service.get_round(db, None, round_id, NOW)).slots
    people = await applicants(db, job_settings, 8)
    for i, (_, citizen) in enumerate(people):
        for slot in slots[: 1 + i % 3]:
            await service.apply(db, citizen, round_id, slot.id, NOW)

    # What the published data determines, computed independently of the draw job.
    seed = await db.fetchval("SELECT seed FROM allocation_rounds WHERE id = $1", round_id)
    entries = await db.fetch(
        """
        SELECT s.position, a.pseudonym FROM allocation_applications a
        JOIN allocation_slots s ON s.id = a.slot_id WHERE a.round_id = $1
        """,
        round_id,
    )
    apps: dict[int, list[str]] = {}
    for e in entries:
        apps.setdefault(e["position"], []).append(e["pseudonym"])
    key = algorithm.draw_key(seed, algorithm.list_hash((e[0], e[1]) for e in entries), None)
    expected = {r.position: (r.order, r.winner) for r in algorithm.draw(key, apps, set())}

    # Run 1: blocked just before its outbox rows, then its backend is killed (a worker crash).
    blocker = await asyncpg.connect(database_url)
    await blocker.execute("BEGIN; LOCK TABLE outbox IN SHARE ROW EXCLUSIVE MODE")
    victim_pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    assert victim_pool is not None
    run_1 = asyncio.create_task(service.draw_round(victim_pool, round_id, DRAW_TIME))

    async def draw_waits_on_outbox() -> int | None:
        pid: int | None = await db.fetchval(
            """
            SELECT pid FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO outbox%'
            """
        )
        return pid

    await poll_until(draw_waits_on_outbox, within=20, what="the draw to reach its outbox rows")
    await db.execute("SELECT pg_terminate_backend($1)", await draw_waits_on_outbox())
    with contextlib.suppress(Exception):
        await run_1
    await blocker.execute("ROLLBACK")
    await blocker.close()
    victim_pool.terminate()
    assert (
        await db.fetchval("SELECT drawn_at FROM allocation_rounds WHERE id = $1", round_id) is None
    )
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE room_id = $1", room) == 0

    # Run 2: the real worker's tick finds the round due and draws it; the relay mails everyone.
    async with running_worker(job_settings):
        await poll_until(
            lambda: len(smtp.handler.snapshot()) >= len(people), within=60, what="8 result e-mails"
        )
        assert await service.draw_round(db, round_id, DRAW_TIME) == "already_drawn"
        await asyncio.sleep(1.5)  # a duplicate would arrive in this time

    result = await service.round_result(db, round_id)
    assert {s.position: (s.order, s.winner) for s in result.slots} == expected
    mails = smtp.handler.snapshot()
    recipients = sorted(r for m in mails for r in m.recipients)
    assert recipients == sorted(u.email for u, _ in people)
    winners = {s.winner for s in result.slots} - {None}
    subjects = [str(m.message["Subject"]) for m in mails]
    assert sum("추첨 결과: 당첨" in s for s in subjects) == len(winners)
    assert sum("추첨 결과: 미당첨" in s for s in subjects) == len(people) - len(winners)
