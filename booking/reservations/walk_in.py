"""Walk-in bookings: the front desk books a free slot for a person without an account or
internet. Who may: the room's managers (and admins). What is checked: the room's policy but the
lead time, in ``book_walk_in()`` (sql/functions/book_walk_in.sql); the exclusion constraint
decides conflicts as for every booking."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import asyncpg

from booking.accounts.auth import Principal
from booking.catalogue.rooms import managed_room
from booking.errors import invalid, refusal_problem
from booking.reservations import queries
from booking.reservations.service import _SLOT_TAKEN, _slot_taken

__all__ = ("WalkIn", "book_walk_in")

_PHONE = re.compile(r"^[0-9+()\- ]{6,30}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")


class WalkIn:
    """What the front desk writes down for a walk-in booking."""

    __slots__ = ("attendees", "email", "end", "name", "phone", "purpose", "room_id", "start")

    def __init__(
        self,
        *,
        room_id: uuid.UUID,
        start: datetime,
        end: datetime,
        attendees: int,
        purpose: str,
        name: str,
        phone: str,
        email: str | None,
    ) -> None:
        self.room_id = room_id
        self.start = start
        self.end = end
        self.attendees = attendees
        self.purpose = purpose
        self.name = name
        self.phone = phone
        self.email = email


def _validate(body: WalkIn) -> None:
    if not body.name.strip() or len(body.name) > 100:
        raise invalid("name", "enter the person's name (at most 100 characters)")
    if not _PHONE.match(body.phone.strip()):
        raise invalid("phone", "enter a phone number like 010-1234-5678")
    if body.email and not _EMAIL.match(body.email.strip()):
        raise invalid("email", "enter an e-mail address like name@example.com, or leave it empty")
    if body.end <= body.start:
        raise invalid("end", "must be after start")
    if body.attendees < 1:
        raise invalid("attendees", "at least 1")
    if len(body.purpose) > 500:
        raise invalid("purpose", "at most 500 characters")


async def book_walk_in(pool: asyncpg.Pool, principal: Principal, body: WalkIn) -> uuid.UUID:
    """Book for a walk-in person; 404 for a room the caller does not manage, 409 ``slot-taken``
    with alternatives when the constraint refuses, 422 for a broken rule."""
    _validate(body)
    async with pool.acquire() as conn:
        await managed_room(conn, principal, body.room_id)
        try:
            return await queries.book_walk_in(
                conn,
                desk_id=principal.id,
                room_id=body.room_id,
                start=body.start,
                end=body.end,
                attendees=body.attendees,
                purpose=body.purpose,
                name=body.name.strip(),
                phone=body.phone.strip(),
                email=(body.email or "").strip().lower() or None,
            )
        except asyncpg.PostgresError as exc:
            if exc.sqlstate in _SLOT_TAKEN:
                raise await _slot_taken(conn, body.room_id, body.start, body.end) from None
            problem = refusal_problem(exc)
            if problem is None:
                raise
            raise problem from None
