"""One-off closures of a room (its managers and admins), answered in the institution's offset.

A closure never covers a slot-holding booking. One over bookings is refused (409 listing them)
unless the request says to cancel them, with a reason: then they are cancelled in the
closure's transaction (history, ``booking.cancelled`` outbox row: each citizen gets a
cancellation with a CANCEL invite). The transaction takes the per-room lock every booking write
takes (book(), trigger ``booking_outside_closures``), so a booking racing a closure either is
found here or finds the closure; none is ever left inside one. The API and the manager pages
both call :func:`create_closure`.
"""

from __future__ import annotations

import uuid

import asyncpg

from booking.accounts.auth import Principal
from booking.catalogue import queries
from booking.catalogue.queries import ClosureHit as HitRow
from booking.catalogue.queries import ClosureRow
from booking.catalogue.rooms import managed_room
from booking.errors import Conflict, NotFound, invalid
from booking.localtime import to_local
from booking.reservations.service import transition
from schemas.catalogue import Closure, ClosureCreate, ClosureHit

_DEADLOCK = "40P01"
_ATTEMPTS = 3
"""A closure meeting a reschedule of a booking it covers can deadlock (the reschedule holds the
booking and waits for the room's turn); Postgres ends one of the two, and we try again."""

__all__ = ("create_closure", "delete_closure", "list_closures")


def _hit(row: HitRow, tz: str) -> ClosureHit:
    return ClosureHit(
        id=row.id, status=row.status, start=to_local(row.start, tz), end=to_local(row.end, tz)
    )


def _closure(row: ClosureRow, tz: str, cancelled: list[HitRow] | None = None) -> Closure:
    return Closure(
        id=row.id,
        room_id=row.room_id,
        start=to_local(row.start, tz),
        end=to_local(row.end, tz),
        reason=row.reason,
        reason_public=row.reason_public,
        cancelled_bookings=[_hit(h, tz) for h in cancelled or []],
    )


async def create_closure(
    pool: asyncpg.Pool, principal: Principal, room_id: uuid.UUID, body: ClosureCreate
) -> Closure:
    if body.end <= body.start:
        raise invalid("end", "must be after start")
    reason = body.cancellation_reason.strip()
    if body.cancel_bookings and not reason:
        raise invalid(
            "cancellation_reason",
            "required to cancel bookings",
            detail="Say why the bookings are cancelled: every citizen is told.",
        )
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return await _create_closure(pool, principal, room_id, body, reason)
        except asyncpg.PostgresError as exc:
            if exc.sqlstate != _DEADLOCK or attempt == _ATTEMPTS:
                raise
    raise AssertionError("unreachable")


async def _create_closure(
    pool: asyncpg.Pool,
    principal: Principal,
    room_id: uuid.UUID,
    body: ClosureCreate,
    cancellation_reason: str,
) -> Closure:
    async with pool.acquire() as conn, conn.transaction():
        room = await managed_room(conn, principal, room_id)
        await queries.lock_room_bookings(conn, room_id)
        hits = await queries.slot_holding_bookings_within(conn, room_id, body.start, body.end)
        if hits and not body.cancel_bookings:
            raise Conflict(
                f"{len(hits)} booking(s) hold a slot in this range. Cancel them with the "
                "closure (cancel_bookings: true and a cancellation_reason), or close another "
                "range.",
                code="closure-over-bookings",
                title="Bookings in the way",
                extra={"bookings": [_hit(h, room.timezone) for h in hits]},
            )
        for hit in hits:
            await transition(
                conn,
                hit.id,
                "cancelled",
                from_statuses=("pending", "confirmed", "checked_in"),
                actor_id=principal.id,
                reason=cancellation_reason,
                topic="booking.cancelled",
            )
        row = await queries.insert_closure(
            conn, room_id, body.start, body.end, body.reason, body.reason_public, principal.id
        )
    return _closure(row, room.timezone, hits)


async def list_closures(
    pool: asyncpg.Pool, principal: Principal, room_id: uuid.UUID
) -> list[Closure]:
    async with pool.acquire() as conn:
        room = await managed_room(conn, principal, room_id)
        rows = await queries.fetch_closures(conn, room_id)
    return [_closure(r, room.timezone) for r in rows]


async def delete_closure(
    pool: asyncpg.Pool, principal: Principal, room_id: uuid.UUID, closure_id: uuid.UUID
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await managed_room(conn, principal, room_id)
        if not await queries.delete_closure(conn, room_id, closure_id):
            raise NotFound("No such closure on this room.")
