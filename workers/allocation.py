"""arq jobs of fair allocation: thin wrappers around ``booking.allocation.service``.

- ``allocation_tick`` (cron, every 5 s): expires offers past their hold, makes offers for freed
  slots, freezes the application lists of rounds whose period closed, and enqueues a
  ``draw_round`` job for each round due.
- ``draw_round``: draws one round. Exactly once however often it runs: the draw commits in one
  transaction under the round's row lock and a re-run finds it drawn (a run killed mid-way
  leaves nothing, and the next tick enqueues it again).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from booking.allocation import queries, service
from workers.jobs import runtime, with_retries

__all__ = ("DRAW_JOB", "allocation_tick", "draw_round")

DRAW_JOB = "draw_round"
"""Runs within the jobs' 8 s budget: a round of 500 slots and 20,000 applications draws in
1.7-3.5 s (bench/allocation.py). A budget overrun rolls the draw back and it is retried."""


async def allocation_tick(ctx: dict[str, Any]) -> int:
    rt = runtime(ctx)
    now = datetime.now(UTC)
    await service.expire_offers(rt.pool, now)
    await service.offer_freed_slots(rt.pool, now)
    await service.freeze_due_rounds(rt.pool, now)
    async with rt.pool.acquire() as conn:
        due = await queries.due_draws(conn, now)
    for round_id in due:
        # One job id per round and minute: a finished job's kept result does not block the
        # next attempt for long, and duplicates are harmless anyway.
        await ctx["redis"].enqueue_job(
            DRAW_JOB, str(round_id), _job_id=f"draw:{round_id}:{now:%Y%m%d%H%M}"
        )
    return len(due)


async def draw_round(ctx: dict[str, Any], round_id: str) -> str | None:
    rt = runtime(ctx)
    return await with_retries(
        ctx,
        DRAW_JOB,
        [round_id],
        lambda: service.draw_round(rt.pool, uuid.UUID(round_id), datetime.now(UTC)),
    )
