"""Slots shown on the pages, cut from what the availability service says.

The open time of a room comes from the database function ``room_open_time`` (the same one the
booking transaction checks); the free time from :func:`booking.catalogue.availability.free_time`.
A slot is one step of the room's shortest booking on its slot grid; it is free when it lies
inside a free interval, taken when it is open but not free. Nothing here decides whether a
booking is allowed: ``book()`` does, and its refusals are shown as they come.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from booking.catalogue.availability import free_pieces_of_rooms, free_time, open_pieces_of_room
from schemas.catalogue import Room

__all__ = ("DayClosure", "DaySlots", "Slot", "end_choices", "free_starts_of", "week_slots")


@dataclass(frozen=True, slots=True)
class Slot:
    start: datetime
    end: datetime
    free: bool


@dataclass(frozen=True, slots=True)
class DayClosure:
    """A closure shown to citizens, clipped to one local day."""

    start: datetime
    end: datetime
    reason: str

    @property
    def clock(self) -> str:
        """``09:00–18:00`` in the day's zone; a closure to the day's end reads ``24:00``."""
        end = "24:00" if self.end.date() > self.start.date() else f"{self.end:%H:%M}"
        return f"{self.start:%H:%M}–{end}"


@dataclass(frozen=True, slots=True)
class DaySlots:
    day: date
    slots: list[Slot]
    closures: list[DayClosure] = field(default_factory=list)
    """Closures shown to citizens on this day (internal ones are only missing slots)."""

    @property
    def free_count(self) -> int:
        return sum(1 for s in self.slots if s.free)


def _step(room: Room) -> timedelta:
    minutes = max(room.policy.min_minutes, room.policy.slot_minutes)
    # Round up to the slot grid so every slot start is aligned.
    grid = room.policy.slot_minutes
    return timedelta(minutes=-(-minutes // grid) * grid)


def _inside(start: datetime, end: datetime, intervals: list[tuple[datetime, datetime]]) -> bool:
    return any(lo <= start and end <= hi for lo, hi in intervals)


def _cut(
    room: Room,
    day_start: datetime,
    day_end: datetime,
    open_pieces: list[tuple[datetime, datetime]],
    free_pieces: list[tuple[datetime, datetime]],
    now: datetime,
) -> list[Slot]:
    """Slots of one local day: every grid step inside open time, from the day's start."""
    step = _step(room)
    grid = timedelta(minutes=room.policy.slot_minutes)
    slots: list[Slot] = []
    for lo, hi in open_pieces:
        lo = max(lo, day_start)
        hi = min(hi, day_end)
        # Align the first start to the grid counted from local midnight.
        offset = (lo - day_start) % grid
        cursor = lo if not offset else lo + (grid - offset)
        while cursor + step <= hi:
            end = cursor + step
            if end > now:
                tz = day_start.tzinfo
                slots.append(
                    Slot(
                        cursor.astimezone(tz), end.astimezone(tz), _inside(cursor, end, free_pieces)
                    )
                )
            cursor = end
    return slots


async def week_slots(
    pool: asyncpg.Pool, room: Room, first_day: date, days: int = 7
) -> list[DaySlots]:
    tz = ZoneInfo(room.timezone)
    start = datetime.combine(first_day, time(0), tzinfo=tz)
    end = datetime.combine(first_day + timedelta(days=days), time(0), tzinfo=tz)
    availability = await free_time(pool, None, room.id, start, end)
    free_pieces = [(f.start, f.end) for f in availability.free]
    open_pieces = await open_pieces_of_room(pool, room.id, start, end)
    now = datetime.now(tz)
    out: list[DaySlots] = []
    for n in range(days):
        day = first_day + timedelta(days=n)
        day_start = datetime.combine(day, time(0), tzinfo=tz)
        day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        shut = [
            DayClosure(
                max(c.start, day_start).astimezone(tz), min(c.end, day_end).astimezone(tz), c.reason
            )
            for c in availability.closures
            if c.start < day_end and c.end > day_start
        ]
        out.append(
            DaySlots(day, _cut(room, day_start, day_end, open_pieces, free_pieces, now), shut)
        )
    return out


async def free_starts_of(
    pool: asyncpg.Pool, rooms: list[Room], day: date, limit: int = 4
) -> list[list[Slot]]:
    """The first free slots of each room on one local day (for search results), cut from the
    free intervals alone (no open-time query), all rooms' free time asked in one go."""
    if not rooms:
        return []
    starts = {r.id: datetime.combine(day, time(0), tzinfo=ZoneInfo(r.timezone)) for r in rooms}
    window_start = min(starts.values())
    window_end = max(s + timedelta(days=1) for s in starts.values())
    pieces = await free_pieces_of_rooms(pool, [r.id for r in rooms], window_start, window_end)
    out: list[list[Slot]] = []
    for room in rooms:
        tz = ZoneInfo(room.timezone)
        day_start = starts[room.id]
        day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        free = [(s.astimezone(tz), e.astimezone(tz)) for s, e in pieces[room.id]]
        out.append(_cut(room, day_start, day_end, free, free, datetime.now(tz))[:limit])
    return out


async def end_choices(pool: asyncpg.Pool, room: Room, start: datetime) -> list[datetime]:
    """Ends the booking form offers from ``start``: multiples of the slot size between the
    room's minimum and maximum length that stay inside the free interval holding ``start``."""
    tz = ZoneInfo(room.timezone)
    horizon = start + timedelta(minutes=room.policy.max_minutes)
    availability = await free_time(pool, None, room.id, start, horizon)
    free_end = next((f.end for f in availability.free if f.start <= start < f.end), None)
    if free_end is None:
        return []
    grid = timedelta(minutes=room.policy.slot_minutes)
    ends: list[datetime] = []
    end = start + timedelta(minutes=room.policy.min_minutes)
    offset = (end - start) % grid
    if offset:
        end += grid - offset
    while end <= min(horizon, free_end):
        ends.append(end.astimezone(tz))
        end += grid
    return ends
