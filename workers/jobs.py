"""arq jobs: thin wrappers around the services of ``booking/`` (notifications, reservations' lifecycle, the job plumbing); never queries.

Every job body runs through :func:`with_retries`: a failure is retried with a growing delay
(``Retry(defer=job_try * backoff)``); the last failure (or the first one that retrying cannot
help, :class:`MailUndeliverable`) is recorded in ``failed_jobs`` instead
(``python -m booking jobs failed`` / ``jobs retry ID``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import asyncpg
from arq import Retry

from booking.catalogue import import_jobs
from booking.jobs import service as outbox
from booking.jobs.service import record_failed_job
from booking.notifications import service
from booking.notifications.mail import MailUndeliverable, NoticeKind
from booking.opendata.service import refresh_usage
from booking.reservations import lifecycle
from booking.reservations.service import forget_expired_idempotency_keys
from booking.settings import Settings
from workers.relay import REDISPATCH_AFTER_SECONDS, sweep_stale_claims

__all__ = (
    "REMINDER_JOB",
    "Runtime",
    "clean_idempotency_keys",
    "complete_bookings",
    "compute_usage",
    "enqueue_reminders",
    "handle_outbox_event",
    "import_open_data",
    "release_no_shows",
    "resume_open_data_imports",
    "runtime",
    "send_reminder",
    "sweep_outbox",
    "with_retries",
)

log = logging.getLogger("workers.jobs")
T = TypeVar("T")
REMINDER_JOB = "send_reminder"


@dataclass(frozen=True, slots=True)
class Runtime:
    """What on_startup puts in ``ctx["runtime"]``."""

    pool: asyncpg.Pool
    settings: Settings
    max_tries: int
    retry_backoff_seconds: float
    budget_seconds: float
    """A job body that runs longer is abandoned and retried (kept under arq's job_timeout, which
    would otherwise end the job without a retry or a failed_jobs row)."""
    redispatch_after_seconds: float = REDISPATCH_AFTER_SECONDS
    """Outbox rows dispatched this long ago and never processed are dispatched again."""


def runtime(ctx: dict[str, Any]) -> Runtime:
    return cast(Runtime, ctx["runtime"])


async def with_retries(
    ctx: dict[str, Any],
    name: str,
    args: list[object],
    body: Callable[[], Awaitable[T]],
    *,
    on_failure: Callable[[str, bool], Awaitable[None]] | None = None,
) -> T | None:
    """Run ``body`` within the time budget; retry a failure, record the last one.
    ``on_failure(error, final)`` hears of each failed try (its own failure is only logged)."""
    rt = runtime(ctx)
    try:
        async with asyncio.timeout(rt.budget_seconds):
            return await body()
    except Exception as exc:
        job_try = int(ctx.get("job_try", 1))
        # Undeliverable: retrying cannot help; recorded at once for `jobs retry`.
        final = job_try >= rt.max_tries or isinstance(exc, MailUndeliverable)
        error = f"{type(exc).__name__}: {exc}"
        if on_failure is not None:
            try:
                await on_failure(error, final)
            except Exception as hook_exc:  # noqa: BLE001 - never hides the job's own failure
                log.warning("job %s: failure hook failed: %s", name, hook_exc)
        if not final:
            log.warning("job %s try %d failed, retrying: %s", name, job_try, exc)
            raise Retry(defer=job_try * rt.retry_backoff_seconds) from exc
        failed_id = await record_failed_job(
            rt.pool,
            str(ctx.get("job_id", "")),
            name,
            json.dumps(args),
            error,
            job_try,
        )
        log.error(
            "job %s failed after %d tries (failed_jobs id %d): %s", name, job_try, failed_id, exc
        )
        return None


async def handle_outbox_event(ctx: dict[str, Any], outbox_id: int) -> int | None:
    """Send every notice of one outbox row (confirmation with invite, approval, ...), then mark
    the row processed (in the retried body: a failed mark is retried like a failed send). After
    the last try the failure is in failed_jobs and the row is marked processed too, so the sweep
    leaves it to ``jobs retry``."""
    rt = runtime(ctx)

    async def body() -> int:
        sent = await service.process_outbox_event(rt.pool, rt.settings, outbox_id)
        await outbox.mark_processed(rt.pool, outbox_id)
        return sent

    result = await with_retries(ctx, "handle_outbox_event", [outbox_id], body)
    if result is None:
        await outbox.mark_processed(rt.pool, outbox_id)
    return result


async def send_reminder(ctx: dict[str, Any], booking_id: str, kind: str) -> bool | None:
    rt = runtime(ctx)
    notice_kind = cast(NoticeKind, kind)
    return await with_retries(
        ctx,
        REMINDER_JOB,
        [booking_id, kind],
        lambda: service.send_reminder(rt.pool, rt.settings, uuid.UUID(booking_id), notice_kind),
    )


async def enqueue_reminders(ctx: dict[str, Any]) -> int:
    """Cron: a ``send_reminder`` job per due (booking, kind); the job id dedups re-runs."""
    rt = runtime(ctx)
    now = datetime.now(UTC)
    count = 0
    for kind in service.REMINDERS:
        for booking_id in await service.due_reminders(rt.pool, kind, now):
            await ctx["redis"].enqueue_job(
                REMINDER_JOB, str(booking_id), kind, _job_id=f"reminder:{booking_id}:{kind}"
            )
            count += 1
    return count


async def release_no_shows(ctx: dict[str, Any]) -> int:
    """Cron: unchecked bookings past their grace period become no_show (slot released)."""
    return len(await lifecycle.release_no_shows(runtime(ctx).pool, datetime.now(UTC)))


async def complete_bookings(ctx: dict[str, Any]) -> int:
    """Cron: bookings that ended become completed."""
    return len(await lifecycle.complete_ended_bookings(runtime(ctx).pool, datetime.now(UTC)))


async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """Cron: outbox rows claimed but never dispatched, or dispatched but never processed (the
    job was lost inside Redis), go back to the relay."""
    rt = runtime(ctx)
    return await sweep_stale_claims(rt.pool, redispatch_after=rt.redispatch_after_seconds)


async def clean_idempotency_keys(ctx: dict[str, Any]) -> int:
    """Cron: forget Idempotency-Keys older than the 24 hours they are honoured for."""
    return await forget_expired_idempotency_keys(runtime(ctx).pool)


async def compute_usage(ctx: dict[str, Any]) -> int:
    """Cron: the monthly use figures (open data and the managers' Use page) of the previous and
    the current month (so far), every room."""
    return await refresh_usage(runtime(ctx).pool, datetime.now(UTC))


async def import_open_data(ctx: dict[str, Any], import_id: str) -> bool | None:
    """One step of an uploaded open-data import: batches of rows for half the time budget, then
    the next step is enqueued (True when the import is finished). A failed try is noted on the
    import (its page shows it); after the last one the import is failed, and the failed-jobs page
    or the import's page can run it again from where it stopped."""
    rt = runtime(ctx)
    ident = uuid.UUID(import_id)
    plans: import_jobs.PlanCache = ctx.setdefault("import_plans", {})

    async def body() -> bool:
        position = await import_jobs.run_import_step(
            rt.pool, ident, plans, seconds=rt.budget_seconds / 2
        )
        if position is not None:
            await import_jobs.enqueue_step(ctx["redis"], ident, position)
        return position is None

    async def failed(error: str, final: bool) -> None:
        await import_jobs.record_error(rt.pool, ident, error, final=final)

    return await with_retries(ctx, import_jobs.IMPORT_JOB, [import_id], body, on_failure=failed)


async def resume_open_data_imports(ctx: dict[str, Any]) -> int:
    """Cron: imports queued or running whose job never reached Redis or was lost there."""
    return await import_jobs.resume_stalled(runtime(ctx).pool, ctx["redis"])
