"""The arq worker that rides out a Redis or Postgres restart: ``python -m workers``.

arq's own ``Worker`` ends its poll loop (and the process) on the first Redis error. Here a
connection error in a poll iteration (picking jobs, the heartbeat, the cron enqueues, a
finished job's bookkeeping) is logged once per outage and waited out with a growing pause
(0.5 s doubling to 10 s); the loop then goes on where it was: jobs already running finish, the
queue is still in Redis (or, if Redis lost it, the outbox sweep dispatches the rows again).
Starting while Redis is down waits for it the same way. Postgres is the jobs' business: a job
that meets it down is retried (``workers/jobs.py``), the relay pauses, and asyncpg's pool
replaces broken connections by itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

from arq.connections import create_pool
from arq.worker import Worker, get_kwargs
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ("REDIS_DOWN", "ResilientWorker", "main")

log = logging.getLogger("workers.worker")

REDIS_DOWN: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    OSError,
    TimeoutError,
)
"""What Redis going away looks like to redis-py and arq."""
FIRST_PAUSE_SECONDS = 0.5
MAX_PAUSE_SECONDS = 10.0


class ResilientWorker(Worker):
    """arq's Worker whose poll loop and start survive Redis outages (see the module)."""

    _outage_started: float | None = None
    _pause = FIRST_PAUSE_SECONDS

    async def main(self) -> None:
        while self._pool is None:
            try:
                self._pool = await create_pool(
                    self.redis_settings,
                    job_deserializer=self.job_deserializer,
                    job_serializer=self.job_serializer,
                    default_queue_name=self.queue_name,
                    expires_extra_ms=self.expires_extra_ms,
                    retry=0,
                )
            except REDIS_DOWN as exc:
                await self._wait_out(exc)
        self._recovered()
        await super().main()

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except REDIS_DOWN as exc:
            await self._wait_out(exc)
        else:
            self._recovered()

    async def _wait_out(self, exc: BaseException) -> None:
        if self._outage_started is None:
            self._outage_started = time.monotonic()
            log.warning("redis unreachable, waiting for it: %s: %s", type(exc).__name__, exc)
        await asyncio.sleep(self._pause)
        self._pause = min(self._pause * 2, MAX_PAUSE_SECONDS)

    def _recovered(self) -> None:
        if self._outage_started is not None:
            log.warning(
                "redis reachable again after %.1f s; polling resumes",
                time.monotonic() - self._outage_started,
            )
            self._outage_started = None
        self._pause = FIRST_PAUSE_SECONDS


def create_resilient_worker(settings_cls: Any, **kwargs: Any) -> ResilientWorker:
    """Like arq's ``create_worker``, with :class:`ResilientWorker`."""
    return ResilientWorker(**{**get_kwargs(settings_cls), **kwargs})


def main() -> None:
    from workers.settings import WorkerSettings

    create_resilient_worker(cast(Any, WorkerSettings)).run()
