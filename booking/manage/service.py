"""What the manager pages show about one institution, for its managers (and admins) only.

Authorization: :func:`institution_for` answers 404 for an institution the caller does not
manage, so a manager of another institution cannot tell whether it exists. Every rule about
bookings, rooms, windows and closures stays in its own service (reservations, catalogue); this
module only reads, and computes the monthly use figures (stored in ``room_usage_monthly``, computed by ``refresh_room_usage()``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from booking.accounts.auth import Principal
from booking.catalogue import queries as catalogue_queries
from booking.errors import NotFound
from booking.manage import queries
from booking.manage.queries import DeskBooking, InstitutionName, RoomSummary, RoomUse, WeekClosure

__all__ = (
    "DayPlan",
    "WeekCell",
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


@dataclass(frozen=True, slots=True)
class WeekSegment:
    start: datetime
    end: datetime
    state: str
    """``free``, ``taken``, ``pending`` or ``closed``."""
    booking: DeskBooking | None = None
    closure: WeekClosure | None = None


@dataclass(frozen=True, slots=True)
class WeekCell:
    room: RoomSummary
    day: date
    segments: list[WeekSegment]


def _cell(
    day_start: datetime,
    day_end: datetime,
    open_pieces: list[tuple[datetime, datetime]],
    bookings: list[DeskBooking],
    closures: list[WeekClosure],
) -> list[WeekSegment]:
    """The day of one room: bookings and closures as they are, and the open time between the
    bookings as free pieces, in time order."""
    segments: list[WeekSegment] = []
    for b in bookings:
        if b.end > day_start and b.start < day_end:
            state = "pending" if b.status == "pending" else "taken"
            segments.append(WeekSegment(max(b.start, day_start), min(b.end, day_end), state, b))
    for c in closures:
        if c.end > day_start and c.start < day_end:
            segments.append(
                WeekSegment(max(c.start, day_start), min(c.end, day_end), "closed", closure=c)
            )
    busy = sorted((s.start, s.end) for s in segments if s.state != "closed")
    for lo, hi in open_pieces:
        lo, hi = max(lo, day_start), min(hi, day_end)
        cursor = lo
        for b_lo, b_hi in busy:
            if b_hi <= cursor or b_lo >= hi:
                continue
            if b_lo > cursor:
                segments.append(WeekSegment(cursor, b_lo, "free"))
            cursor = max(cursor, b_hi)
        if cursor < hi:
            segments.append(WeekSegment(cursor, hi, "free"))
    return sorted(segments, key=lambda s: (s.start, s.end))


async def week_plan(
    pool: asyncpg.Pool, institution: InstitutionName, monday: date, room_id: uuid.UUID | None
) -> tuple[list[RoomSummary], list[list[WeekCell]]]:
    """Active rooms (or the one asked for) and, per room, its seven days."""
    tz = ZoneInfo(institution.timezone)
    start = datetime.combine(monday, time(0), tzinfo=tz)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz)
    async with pool.acquire() as conn:
        rooms = [r for r in await queries.institution_rooms(conn, institution.id) if r.active]
        if room_id is not None:
            rooms = [r for r in rooms if r.id == room_id]
        ids = [r.id for r in rooms]
        opened = await queries.open_time_of_rooms(conn, ids, start, end)
        bookings = await queries.desk_bookings(
            conn, institution.id, start, end, slot_holding_only=True
        )
        closures = await queries.week_closures(conn, institution.id, start, end)
    columns: list[list[WeekCell]] = []
    for room in rooms:
        own = [b for b in bookings if b.room_id == room.id]
        shut = [c for c in closures if c.room_id == room.id]
        cells = []
        for n in range(7):
            day = monday + timedelta(days=n)
            lo, hi = _day_bounds(day, tz)
            cells.append(WeekCell(room, day, _cell(lo, hi, opened[room.id], own, shut)))
        columns.append(cells)
    return rooms, columns


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
