"""The baseline of the booking benchmark: the least a booking endpoint can do.

A minimal Litestar + asyncpg app with one endpoint doing one INSERT into a table with the same
exclusion constraint as ``bookings``. Served by uvicorn exactly like the real app; the
database URL comes from ``BENCH_BASELINE_DSN``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg
import msgspec
from litestar import Litestar, Request, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.params import JSONBody

__all__ = ("SCHEMA", "app")

SCHEMA = """
CREATE TABLE IF NOT EXISTS bench_bookings (
    id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    room_id   uuid NOT NULL,
    during    tstzrange NOT NULL,
    status    text NOT NULL DEFAULT 'confirmed',
    CONSTRAINT bench_booking_no_overlap EXCLUDE USING gist (room_id WITH =, during WITH &&)
        WHERE (status IN ('pending', 'confirmed', 'checked_in'))
)
"""


class Attempt(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    room_id: uuid.UUID
    start: datetime
    end: datetime
    attendees: int
    purpose: str = ""


class Created(msgspec.Struct, kw_only=True):
    id: uuid.UUID


@asynccontextmanager
async def _lifespan(app: Litestar) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(os.environ["BENCH_BASELINE_DSN"], min_size=2, max_size=20)
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


@post("/book", status_code=201)
async def book(request: Request[None, None, State], data: JSONBody[Attempt]) -> Created:
    pool: asyncpg.Pool = request.app.state.pool
    try:
        booking_id: uuid.UUID = await pool.fetchval(
            "INSERT INTO bench_bookings (room_id, during) VALUES ($1, tstzrange($2, $3, '[)')) "
            "RETURNING id",
            data.room_id,
            data.start,
            data.end,
        )
    except asyncpg.ExclusionViolationError:
        raise HTTPException(status_code=409, detail="taken") from None
    return Created(id=booking_id)


# No logging configuration, like the full app (which logs through its own JSON handler and has
# its access log switched off in the benchmark); Litestar's default would also reconfigure the
# root logger of whatever process imports this module.
app = Litestar([book], lifespan=[_lifespan], openapi_config=None, logging_config=None, debug=False)
