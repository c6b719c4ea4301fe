"""``/healthz`` (the process answers), ``/readyz`` (Postgres and Redis answer)."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

import asyncpg
from litestar import Controller, Request, Response, get
from litestar.types import ControllerRouterHandler
from redis.asyncio import Redis

from booking.accounts.security import bearer_token
from booking.errors import NotFound, Unauthorized, problem_spec
from booking.http import SECURITY, pool_of, redis_of, settings_of
from booking.observability import metrics_payload
from schemas.common import Health, Readiness

__all__ = ("ROUTES", "HealthController", "MetricsController")

_CHECK_TIMEOUT = 1.5  # seconds per dependency; both run at once, so /readyz answers within 2 s


async def _check_postgres(pool: asyncpg.Pool) -> str:
    async def probe() -> None:
        async with pool.acquire(timeout=_CHECK_TIMEOUT) as conn:
            await conn.fetchval("SELECT 1", timeout=_CHECK_TIMEOUT)

    try:
        await asyncio.wait_for(probe(), _CHECK_TIMEOUT)
    except Exception:  # noqa: BLE001 - any failure (refused, timed out, broken) means "down"
        return "down"
    return "ok"


async def _check_redis(redis: Redis) -> str:
    try:
        await asyncio.wait_for(redis.ping(), _CHECK_TIMEOUT)
    except Exception:  # noqa: BLE001 - any client error means "not ready", never a 500
        return "down"
    return "ok"


class HealthController(Controller):
    """Operator endpoints; not versioned, never authenticated."""

    tags = ["operations"]
    include_in_schema = True

    @get("/healthz", operation_id="healthz", summary="Liveness: the process answers")
    async def healthz(self) -> Health:
        return Health(status="ok")

    @get(
        "/readyz",
        operation_id="readyz",
        summary="Readiness: 200 only when Postgres and Redis both answer, else 503 naming which",
    )
    async def readyz(self, request: Request[Any, Any, Any]) -> Response[Readiness]:
        pg, rd = await asyncio.gather(
            _check_postgres(pool_of(request)), _check_redis(redis_of(request))
        )
        checks = {"postgres": pg, "redis": rd}
        ready = all(v == "ok" for v in checks.values())
        return Response(
            Readiness(status="ok" if ready else "unavailable", checks=checks),
            status_code=200 if ready else 503,
        )


class MetricsController(Controller):
    tags = ["operations"]

    @get(
        "/metrics",
        operation_id="metrics",
        summary="Prometheus metrics of this process (requests by route and status, latency)",
        description=(
            "Not public: send `Authorization: Bearer <BOOKING_METRICS_TOKEN>`. Without that "
            "setting the endpoint answers 404 to everyone."
        ),
        media_type="text/plain",
        security=SECURITY,
        responses={
            401: problem_spec("Missing or wrong metrics token"),
            404: problem_spec("Metrics are not enabled (no BOOKING_METRICS_TOKEN)"),
        },
    )
    async def metrics(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        expected = settings_of(request).metrics_token
        if not expected:
            raise NotFound("Not found.")
        given = bearer_token(request.headers.get("authorization", "")) or ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Unauthorized(
                "Send the metrics token as `Authorization: Bearer <token>`.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        body, content_type = metrics_payload()
        return Response(body, media_type=content_type)


ROUTES: list[ControllerRouterHandler] = [HealthController, MetricsController]
