"""``python -m workers`` (``workers/worker.py``) runs these settings: the worker process of Nanum.

on_startup loads the settings, opens the asyncpg pool, refuses to start while migrations are
pending, and starts the outbox relay; everything is kept in ``ctx``. On SIGTERM the worker
stops taking jobs, lets running ones finish for up to ``job_completion_wait`` seconds and
cancels the rest, which arq puts back on the queue (``retry_jobs``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, ClassVar

import asyncpg
from arq import cron, func
from arq.connections import RedisSettings
from arq.cron import CronJob
from arq.worker import Function

from booking.catalogue import import_jobs
from booking.db import create_pool, ensure_migrated
from booking.observability import configure_logging
from booking.settings import Settings, load_settings
from workers import allocation, jobs
from workers.relay import OUTBOX_JOB, REDISPATCH_AFTER_SECONDS, Relay

log = logging.getLogger("workers.settings")

__all__ = (
    "JOB_TIMEOUT_SECONDS",
    "MAX_TRIES",
    "RETRY_BACKOFF_SECONDS",
    "WorkerSettings",
    "shutdown",
    "startup",
)

MAX_TRIES = 5
"""Tries per job (the first run included) before it lands in failed_jobs."""
RETRY_BACKOFF_SECONDS = 5.0
"""Try n waits n times this long before the next try."""
JOB_TIMEOUT_SECONDS = 10
"""Jobs are short (one SMTP exchange); a job killed with the worker is picked up again once
arq's in-progress marker expires (this + 10 s)."""


async def startup(ctx: dict[str, Any]) -> None:
    """Pool, settings and the relay into ``ctx``. ``ctx`` may carry ``settings``, ``max_tries``,
    ``budget_seconds``, ``redispatch_after_seconds``,
    ``retry_backoff_seconds`` and ``relay`` (False: no relay loop) given by tests."""
    settings: Settings = ctx.get("settings") or load_settings()
    if "settings" not in ctx:
        configure_logging(settings.log_level)
        # arq's CLI installs a plain-text handler of its own: log through the JSON one only,
        # at BOOKING_LOG_LEVEL (arq logs two INFO lines per job).
        arq_logger = logging.getLogger("arq")
        arq_logger.handlers.clear()
        arq_logger.propagate = True
        arq_logger.setLevel(settings.log_level)
    pool = await _connect_when_up(settings)
    try:
        await ensure_migrated(pool)
    except Exception:
        await pool.close()
        raise
    ctx["runtime"] = jobs.Runtime(
        pool=pool,
        settings=settings,
        max_tries=int(ctx.get("max_tries", MAX_TRIES)),
        retry_backoff_seconds=float(ctx.get("retry_backoff_seconds", RETRY_BACKOFF_SECONDS)),
        budget_seconds=float(ctx.get("budget_seconds", JOB_TIMEOUT_SECONDS - 2)),
        redispatch_after_seconds=float(
            ctx.get("redispatch_after_seconds", REDISPATCH_AFTER_SECONDS)
        ),
    )
    if ctx.get("relay", True):
        relay = Relay(pool, ctx["redis"])
        ctx["relay_loop"] = relay
        ctx["relay_task"] = asyncio.create_task(relay.run_forever(), name="outbox-relay")


_PG_DOWN = (
    OSError,
    ConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


async def _connect_when_up(settings: Settings) -> asyncpg.Pool:
    """The asyncpg pool, waiting (0.5 s doubling to 10 s) while Postgres does not answer, so a
    worker started with (or restarted before) its database comes up by itself."""
    pause = 0.5
    while True:
        try:
            return await create_pool(settings)
        except _PG_DOWN as exc:
            log.warning("postgres unreachable at start, retrying in %.1f s: %s", pause, exc)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 10.0)


async def shutdown(ctx: dict[str, Any]) -> None:
    relay: Relay | None = ctx.get("relay_loop")
    task: asyncio.Task[None] | None = ctx.get("relay_task")
    if relay is not None and task is not None:
        relay.stop()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
    rt: jobs.Runtime | None = ctx.get("runtime")
    if rt is not None:
        await rt.pool.close()


def _redis_settings() -> RedisSettings:
    return RedisSettings.from_dsn(load_settings().redis_url)


_EVERY_10_SECONDS = set(range(0, 60, 10))


class WorkerSettings:
    """Read by ``python -m workers`` (``workers/worker.py``) and by tests."""

    functions: ClassVar[list[Function]] = [
        func(jobs.handle_outbox_event, name=OUTBOX_JOB),
        func(jobs.send_reminder, name=jobs.REMINDER_JOB),
        # The default job timeout: arq keeps every job's in-progress marker for the longest
        # function timeout + 10 s, so a longer one would delay re-runs after a crash for all jobs.
        func(allocation.draw_round, name=allocation.DRAW_JOB),
        # Steps of a few seconds each, chained (see booking/catalogue/import_jobs.py).
        func(jobs.import_open_data, name=import_jobs.IMPORT_JOB),
    ]
    cron_jobs: ClassVar[list[CronJob]] = [
        cron(jobs.sweep_outbox, name="sweep_outbox", second=_EVERY_10_SECONDS),
        cron(jobs.enqueue_reminders, name="enqueue_reminders", second={0}),
        cron(jobs.release_no_shows, name="release_no_shows", second={5, 35}),
        cron(jobs.complete_bookings, name="complete_bookings", second={15}),
        cron(jobs.clean_idempotency_keys, name="clean_idempotency_keys", minute={17}, second={0}),
        cron(allocation.allocation_tick, name="allocation_tick", second=set(range(0, 60, 5))),
        # No timeout of its own: arq holds every job's in-progress marker for the longest
        # function timeout, which would delay recovery after a crash (two months over 5,000
        # rooms take about 2 s, well inside job_timeout).
        cron(jobs.compute_usage, name="compute_usage", minute={5}, second={0}),
        cron(jobs.resume_open_data_imports, name="resume_open_data_imports", second={40}),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = _redis_settings()
    max_tries = MAX_TRIES
    job_timeout = JOB_TIMEOUT_SECONDS
    job_completion_wait = 10
    max_jobs = 20
    poll_delay = 0.05
    keep_result = 3600
    log_results = False
