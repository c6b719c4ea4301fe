"""Room search: filters and keyset pages over the SQL built in ``queries.search_rooms``."""

from __future__ import annotations

import asyncpg

from booking.catalogue import queries
from booking.catalogue.queries import RoomSearch
from booking.catalogue.rooms import room_answer
from booking.errors import invalid
from booking.http import cursor_uuid, decode_cursor, encode_cursor
from schemas.catalogue import RoomPage

__all__ = ("search_rooms",)


async def search_rooms(pool: asyncpg.Pool, search: RoomSearch, cursor: str | None) -> RoomPage:
    if cursor:
        if search.near is not None:
            distance, ident = decode_cursor(cursor, "d", 2)
            if not isinstance(distance, (int, float)):
                raise invalid("cursor", "not a cursor returned by this endpoint")
            search.after_distance = (float(distance), cursor_uuid(ident))
        else:
            iname, rname, ident = decode_cursor(cursor, "n", 3)
            search.after_name = (str(iname), str(rname), cursor_uuid(ident))
    async with pool.acquire() as conn:
        rows = await queries.search_rooms(conn, search)
    page = rows[: search.limit]
    next_cursor = None
    if len(rows) > search.limit:
        last = page[-1]
        next_cursor = encode_cursor(
            ["d", last.distance_km, str(last.id)]
            if search.near is not None
            else ["n", last.institution_name, last.name, str(last.id)]
        )
    return RoomPage(items=[room_answer(r) for r in page], next_cursor=next_cursor)
