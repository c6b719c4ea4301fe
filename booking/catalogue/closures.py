"""One-off closures of a room (its managers and admins), answered in the institution's offset."""

from __future__ import annotations

import uuid

import asyncpg

from booking.accounts.auth import Principal
from booking.catalogue import queries
from booking.catalogue.queries import ClosureRow
from booking.catalogue.rooms import managed_room
from booking.errors import NotFound, invalid
from booking.localtime import to_local
from schemas.catalogue import Closure, ClosureCreate

__all__ = ("create_closure", "delete_closure", "list_closures")


def _closure(row: ClosureRow, tz: str) -> Closure:
    return Closure(
        id=row.id,
        room_id=row.room_id,
        start=to_local(row.start, tz),
        end=to_local(row.end, tz),
        reason=row.reason,
    )


async def create_closure(
    pool: asyncpg.Pool, principal: Principal, room_id: uuid.UUID, body: ClosureCreate
) -> Closure:
    if body.end <= body.start:
        raise invalid("end", "must be after start")
    async with pool.acquire() as conn, conn.transaction():
        room = await managed_room(conn, principal, room_id)
        row = await queries.insert_closure(
            conn, room_id, body.start, body.end, body.reason, principal.id
        )
    return _closure(row, room.timezone)


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
