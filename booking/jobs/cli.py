"""``python -m booking jobs failed|retry|status``."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import default_queue_name

from booking.db import connect
from booking.db import create_pool as create_db_pool
from booking.jobs import queries, service
from booking.settings import Settings
from schemas.jobs import JobsStatus

__all__ = ("collect_status", "jobs_failed", "jobs_retry", "jobs_status", "register")


async def _arq(settings: Settings) -> ArqRedis:
    redis_settings = RedisSettings.from_dsn(settings.redis_url)
    redis_settings.conn_retries = 0
    return await create_pool(redis_settings)


async def jobs_failed(settings: Settings, args: argparse.Namespace) -> int:
    conn = await connect(settings.database_url)
    try:
        rows = await queries.list_failed_jobs(conn, include_retried=args.all)
    finally:
        await conn.close()
    for r in rows:
        retried = f" retried={r.retried_at.isoformat()}" if r.retried_at else ""
        print(
            f"{r.id}\t{r.failed_at.isoformat()}\t{r.job_name}{r.args}"
            f"\ttries={r.attempts}{retried}\t{r.error}"
        )
    print(f"{len(rows)} failed job(s)")
    return 0


async def jobs_retry(settings: Settings, args: argparse.Namespace) -> int:
    pool = await create_db_pool(settings)
    try:
        redis = await _arq(settings)
        try:
            job_id = await service.retry_failed_job(pool, redis, args.id)
        finally:
            await redis.aclose()
    finally:
        await pool.close()
    if job_id is None:
        print(f"error: no failed job {args.id}")
        return 1
    print(f"failed job {args.id} enqueued again as {job_id}")
    return 0


async def collect_status(settings: Settings) -> JobsStatus:
    conn = await connect(settings.database_url)
    try:
        backlog = await queries.outbox_backlog(conn)
        open_failed = len(await queries.list_failed_jobs(conn, include_retried=False))
    finally:
        await conn.close()
    depth: int | None
    try:
        redis = await _arq(settings)
        try:
            depth = int(await redis.zcard(default_queue_name))
        finally:
            await redis.aclose()
    except (OSError, ConnectionError):
        depth = None
    oldest = backlog.oldest_created_at
    return JobsStatus(
        queue_depth=depth,
        outbox_undispatched=backlog.undispatched,
        outbox_claimed=backlog.claimed,
        oldest_undispatched_id=backlog.oldest_id,
        oldest_undispatched_age_seconds=(
            round((datetime.now(UTC) - oldest).total_seconds(), 3) if oldest else None
        ),
        failed_jobs_open=open_failed,
    )


async def jobs_status(settings: Settings, args: argparse.Namespace) -> int:
    status = await collect_status(settings)
    print(
        f"queue depth: {'redis unreachable' if status.queue_depth is None else status.queue_depth}"
    )
    print(
        f"outbox backlog: {status.outbox_undispatched} undispatched "
        f"({status.outbox_claimed} claimed)"
    )
    if status.oldest_undispatched_id is None:
        print("oldest undispatched: none")
    else:
        print(
            f"oldest undispatched: id {status.oldest_undispatched_id}, "
            f"{status.oldest_undispatched_age_seconds} s old"
        )
    print(f"failed jobs (not retried): {status.failed_jobs_open}")
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    jobs = sub.add_parser("jobs", help="background jobs: failed, retry ID, status")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    failed = jobs_sub.add_parser("failed", help="list jobs that failed on their last try")
    failed.add_argument("--all", action="store_true", help="include jobs already retried")
    failed.set_defaults(handler=jobs_failed)
    retry = jobs_sub.add_parser("retry", help="enqueue a failed job again")
    retry.add_argument("id", type=int, help="id from `jobs failed`")
    retry.set_defaults(handler=jobs_retry)
    status = jobs_sub.add_parser("status", help="queue depth, outbox backlog, oldest row")
    status.set_defaults(handler=jobs_status)
