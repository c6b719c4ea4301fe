"""What the manager pages show about one institution, for its managers (and admins) only.

Authorization: :func:`institution_for` answers 404 for an institution the caller does not
manage, so a manager of another institution cannot tell whether it exists. Every rule about
bookings, rooms, windows and closures stays in its own service (reservations, catalogue); this
module only reads, and computes the monthly use figures (stored in ``room_usage_monthly``, computed by ``refresh_room_usage()``).
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from booking.accounts.auth import Principal
from booking.catalogue import queries as catalogue_queries
from booking.errors import NotFound
from booking.manage import queries
from booking.manage.queries import (
    DeskBooking,
    InstitutionName,
    RoomSummary,
    RoomUse,
    WeekBooking,
    WeekClosure,
)

__all__ = (
    "DayPlan",
    "WeekCell",
    "WeekPlan",
    "WeekSegment",
    "institution_for",
    "managed_institutions",
    "month_starts",
    "refresh_use",
    "rooms_of",
    "today_plan",
    "use_figures",
    "week_plan",
)

USE_MAX_AGE_SECONDS = 3600.0
"""A month not over is computed again on a visit when its figures are older than this."""


async def managed_institutions(pool: asyncpg.Pool, principal: Principal) -> list[InstitutionName]:
    async with pool.acquire() as conn:
        ids = None if principal.is_admin else sorted(principal.institutions)
        if ids == []:
            return []
        return await queries.institution_names(conn, ids)


async def institution_for(
    pool: asyncpg.Pool, principal: Principal, institution_id: uuid.UUID
) -> InstitutionName:
    """The institution if the caller manages it; otherwise it does not exist (404)."""
    if not principal.manages(institution_id):
        raise NotFound("No such institution.")
    async with pool.acquire() as conn:
        found = await queries.institution_names(conn, [institution_id])
    if not found:
        raise NotFound("No such institution.")
    return found[0]


async def rooms_of(pool: asyncpg.Pool, institution: InstitutionName) -> list[RoomSummary]:
    async with pool.acquire() as conn:
        return await queries.institution_rooms(conn, institution.id)


async def room_of(
    pool: asyncpg.Pool, institution: InstitutionName, room_id: uuid.UUID
) -> RoomSummary:
    """One of the institution's rooms; a room of another institution is 404 here."""
    async with pool.acquire() as conn:
        row = await catalogue_queries.fetch_room(conn, room_id)
        if row is None or row.institution_id != institution.id:
            raise NotFound("No such room.")
        rooms = await queries.institution_rooms(conn, institution.id)
    return next(r for r in rooms if r.id == room_id)


def _day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return (
        datetime.combine(day, time(0), tzinfo=tz),
        datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz),
    )


@dataclass(frozen=True, slots=True)
class DayPlan:
    day: date
    rooms: list[RoomSummary]
    bookings: list[DeskBooking]
    """Bookings of ``day`` and the next day, by time."""
    pending: list[DeskBooking]
    """Requests waiting for a decision, oldest first."""


async def today_plan(
    pool: asyncpg.Pool, institution: InstitutionName, day: date, now: datetime
) -> DayPlan:
    tz = ZoneInfo(institution.timezone)
    start, _ = _day_bounds(day, tz)
    _, end = _day_bounds(day + timedelta(days=1), tz)
    async with pool.acquire() as conn:
        rooms = await queries.institution_rooms(conn, institution.id)
        bookings = await queries.desk_bookings(conn, institution.id, start, end)
        pending = await queries.pending_requests(conn, institution.id, now)
    return DayPlan(day, rooms, bookings, pending)


async def day_bookings(
    pool: asyncpg.Pool, institution: InstitutionName, day: date
) -> list[DeskBooking]:
    start, end = _day_bounds(day, ZoneInfo(institution.timezone))
    async with pool.acquire() as conn:
        return await queries.desk_bookings(conn, institution.id, start, end)


class WeekSegment(msgspec.Struct, frozen=True, gc=False):
    """One piece of a room's day in the week view (a Struct, untracked by the cycle collector:
    a busy week makes ≈ 1,700, and they hold no cycles)."""

    start: datetime
    end: datetime
    state: str
    """``free``, ``taken``, ``pending`` or ``closed``."""
    clock: str
    """``09:00–11:00`` in the institution's zone; a piece to the day's end reads ``24:00``."""
    booking: WeekBooking | None = None
    closure: WeekClosure | None = None


@dataclass(frozen=True, slots=True)
class WeekCell:
    room: RoomSummary
    day: date
    segments: list[WeekSegment]


@dataclass(frozen=True, slots=True)
class WeekPlan:
    all_rooms: list[RoomSummary]
    """The institution's active rooms (for the room switcher)."""
    rooms: list[RoomSummary]
    """The rooms shown: all active ones, or the one asked for."""
    columns: list[list[WeekCell]]
    """Per shown room, its seven days."""


class _Clock:
    """``HH:MM`` of instants in one zone, each instant formatted once per page (a week of 30
    rooms repeats the same few hundred times a thousand times)."""

    __slots__ = ("_seen", "_tz")

    def __init__(self, tz: ZoneInfo) -> None:
        self._tz = tz
        self._seen: dict[datetime, str] = {}

    def __call__(self, moment: datetime) -> str:
        text = self._seen.get(moment)
        if text is None:
            local = moment.astimezone(self._tz)
            text = self._seen[moment] = f"{local.hour:02d}:{local.minute:02d}"
        return text


def _cell(
    day_start: datetime,
    day_end: datetime,
    open_pieces: list[tuple[datetime, datetime]],
    bookings: list[WeekBooking],
    closures: list[WeekClosure],
    clock: _Clock,
) -> list[WeekSegment]:
    """The day of one room: bookings and closures as they are, and the open time between the
    bookings as free pieces, in time order. ``bookings`` and ``closures`` are the room's ones
    that overlap the day."""
    segments: list[WeekSegment] = []
    busy: list[tuple[datetime, datetime]] = []
    for b in bookings:
        lo, hi = max(b.start, day_start), min(b.end, day_end)
        busy.append((lo, hi))
        state = "pending" if b.status == "pending" else "taken"
        shown = f"{clock(lo)}–{'24:00' if hi == day_end else clock(hi)}"
        segments.append(WeekSegment(lo, hi, state, shown, b))
    for c in closures:
        lo, hi = max(c.start, day_start), min(c.end, day_end)
        shown = f"{clock(lo)}–{'24:00' if hi == day_end else clock(hi)}"
        segments.append(WeekSegment(lo, hi, "closed", shown, closure=c))
    busy.sort()
    for lo, hi in open_pieces:
        lo, hi = max(lo, day_start), min(hi, day_end)
        if lo >= hi:
            continue
        cursor = lo
        for b_lo, b_hi in busy:
            if b_hi <= cursor or b_lo >= hi:
                continue
            if b_lo > cursor:
                shown = f"{clock(cursor)}–{clock(b_lo)}"
                segments.append(WeekSegment(cursor, b_lo, "free", shown))
            cursor = max(cursor, b_hi)
        if cursor < hi:
            shown = f"{clock(cursor)}–{'24:00' if hi == day_end else clock(hi)}"
            segments.append(WeekSegment(cursor, hi, "free", shown))
    segments.sort(key=_segment_order)
    return segments


def _segment_order(segment: WeekSegment) -> tuple[datetime, datetime]:
    return segment.start, segment.end


_Item = TypeVar("_Item", WeekBooking, WeekClosure)


def _by_day(items: list[_Item], bounds: list[datetime]) -> dict[uuid.UUID, list[list[_Item]]]:
    """Per room, per day of the week (``bounds``: the eight local midnights), the items that
    overlap the day, in one pass over the items."""
    days = len(bounds) - 1
    out: dict[uuid.UUID, list[list[_Item]]] = {}
    for item in items:
        per_day = out.get(item.room_id)
        if per_day is None:
            per_day = out[item.room_id] = [[] for _ in range(days)]
        n = max(bisect_right(bounds, item.start) - 1, 0)
        while n < days and bounds[n] < item.end:
            per_day[n].append(item)
            n += 1
    return out


async def week_plan(
    pool: asyncpg.Pool, institution: InstitutionName, monday: date, room_id: uuid.UUID | None
) -> WeekPlan:
    """Active rooms (or the one asked for) and, per room, its seven days: four statements for
    the whole week, and one pass over its bookings and closures."""
    tz = ZoneInfo(institution.timezone)
    # Local midnights as UTC instants: asyncpg answers in UTC, so comparisons stay cheap.
    bounds = [
        datetime.combine(monday + timedelta(days=n), time(0), tzinfo=tz).astimezone(UTC)
        for n in range(8)
    ]
    async with pool.acquire() as conn:
        all_rooms = [r for r in await queries.institution_rooms(conn, institution.id) if r.active]
        rooms = [r for r in all_rooms if room_id is None or r.id == room_id]
        opened = await queries.open_time_of_rooms(conn, [r.id for r in rooms], bounds[0], bounds[7])
        bookings = await queries.week_bookings(conn, institution.id, bounds[0], bounds[7])
        closures = await queries.week_closures(conn, institution.id, bounds[0], bounds[7])
    booked = _by_day(bookings, bounds)
    shut = _by_day(closures, bounds)
    clock = _Clock(tz)
    nothing: list[list[Any]] = [[] for _ in range(7)]
    columns: list[list[WeekCell]] = []
    for room in rooms:
        own, closed, pieces = (
            booked.get(room.id, nothing),
            shut.get(room.id, nothing),
            opened[room.id],
        )
        columns.append(
            [
                WeekCell(
                    room,
                    monday + timedelta(days=n),
                    _cell(bounds[n], bounds[n + 1], pieces, own[n], closed[n], clock),
                )
                for n in range(7)
            ]
        )
    return WeekPlan(all_rooms, rooms, columns)


def month_starts(today: date, count: int = 12) -> list[date]:
    """The first days of the last ``count`` months, this one last."""
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


async def refresh_use(
    pool: asyncpg.Pool, pairs: list[tuple[uuid.UUID, date]], now: datetime
) -> None:
    async with pool.acquire() as conn:
        await queries.refresh_room_use(conn, pairs, now)


async def use_figures(
    pool: asyncpg.Pool, institution: InstitutionName, room_ids: list[uuid.UUID], now: datetime
) -> tuple[list[date], list[RoomUse]]:
    """The last 12 local months of each room: stored figures, computed first where missing or
    (for a month not over) older than an hour."""
    today = now.astimezone(ZoneInfo(institution.timezone)).date()
    months = month_starts(today)
    async with pool.acquire() as conn:
        stale = await queries.stale_room_use(conn, room_ids, months, now, USE_MAX_AGE_SECONDS)
        if stale:
            await queries.refresh_room_use(conn, stale, now)
        return months, await queries.room_use(conn, room_ids, months)


async def refresh_recent_use(pool: asyncpg.Pool, now: datetime) -> int:
    """The worker's job: this and last month of every active room, computed afresh."""
    async with pool.acquire() as conn:
        rows = await queries.active_room_zones(conn)
        pairs: list[tuple[uuid.UUID, date]] = []
        for room_id, tz in rows:
            months = month_starts(now.astimezone(ZoneInfo(tz)).date(), 2)
            pairs.extend((room_id, m) for m in months)
        for n in range(0, len(pairs), 100):
            await queries.refresh_room_use(conn, pairs[n : n + 100], now)
    return len(pairs)
