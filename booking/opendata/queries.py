"""SQL of the open data; every function takes the connection it runs on. Nothing here reads a
citizen's name, e-mail or purpose: only rooms, institutions and counts of bookings."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import asyncpg
import msgspec

from booking.db import Conn

__all__ = (
    "DayRoom",
    "ExportRoom",
    "UsageRow",
    "district_free_slots",
    "export_rooms",
    "refresh_usage",
    "usage_of_month",
)


class ExportRoom(msgspec.Struct, frozen=True):
    """A room with what the national standard's columns need; built from ``_EXPORT``."""

    id: uuid.UUID
    name: str
    kind: str
    capacity: int | None
    area_m2: Decimal | None
    amenities: list[str]
    accessibility: list[str]
    photos: list[str]
    fee_krw: int | None
    fee_base_hours: Decimal | None
    overtime_unit_hours: Decimal | None
    overtime_fee_krw: int | None
    closed_on_holidays: bool
    updated_at: datetime
    institution_name: str
    region: str
    district: str
    address: str | None
    latitude: float | None
    longitude: float | None
    phone: str | None
    homepage: str | None
    timezone: str
    open_days: list[int]
    """ISO weekdays with a weekly window."""
    weekday_hours: tuple[str, str] | None
    """(earliest start, latest end) of the windows on Mon–Fri, "HH:MM"."""
    weekend_hours: tuple[str, str] | None


_EXPORT = """
    SELECT r.id, r.name, r.kind, r.capacity, r.area_m2, r.amenities, r.accessibility, r.photos,
           r.fee_krw, r.fee_base_hours, r.overtime_unit_hours, r.overtime_fee_krw,
           (r.closed_on_holidays OR i.closed_on_holidays), greatest(r.updated_at, i.updated_at),
           i.name, i.region, i.district, i.address, i.latitude, i.longitude, i.phone,
           i.homepage, i.timezone,
           coalesce((SELECT array_agg(DISTINCT d ORDER BY d) FROM availability_rules a,
                            unnest(a.days) d WHERE a.room_id = r.id), '{}'),
           (SELECT ARRAY[to_char(min(a.start_time), 'HH24:MI'),
                         CASE WHEN bool_or(a.end_time = '00:00') THEN '24:00'
                              ELSE to_char(max(a.end_time), 'HH24:MI') END]
            FROM availability_rules a WHERE a.room_id = r.id AND a.days && '{1,2,3,4,5}'),
           (SELECT ARRAY[to_char(min(a.start_time), 'HH24:MI'),
                         CASE WHEN bool_or(a.end_time = '00:00') THEN '24:00'
                              ELSE to_char(max(a.end_time), 'HH24:MI') END]
            FROM availability_rules a WHERE a.room_id = r.id AND a.days && '{6,7}')
    FROM rooms r JOIN institutions i ON i.id = r.institution_id
    WHERE r.active
      AND ($1::text IS NULL OR i.region = $1) AND ($2::text IS NULL OR i.district = $2)
    ORDER BY i.region <> '서울특별시', i.region, i.district, i.name, r.name, r.id
"""


def _pair(value: list[str | None] | None) -> tuple[str, str] | None:
    if value is None or value[0] is None or value[1] is None:
        return None
    return value[0], value[1]


async def export_rooms(conn: Conn, region: str | None, district: str | None) -> list[ExportRoom]:
    """Every active room (of the region and district, when given), Seoul's first."""
    rows = await conn.fetch(_EXPORT, region, district)
    return [ExportRoom(*r[:23], list(r[23]), _pair(r[24]), _pair(r[25])) for r in rows]  # type: ignore[call-arg]


# The month of each room in its institution's local time: [first day 00:00, next first 00:00).
# booked: bookings not cancelled or rejected, clipped to the month (max_minutes is at most a
# week, so a booking that reaches into the month starts at most 7 days before it).
async def refresh_usage(conn: Conn, month: date, now: datetime) -> int:
    """Compute every room's figures of ``month`` (its first day) as of ``now``; rows written.
    The figures are defined once, in ``sql/functions/refresh_room_usage.sql``."""
    written: int = await conn.fetchval(
        "SELECT refresh_room_usage(array_agg(id), array_fill($1::date, ARRAY[count(*)::int]), $2)"
        " FROM rooms",
        month,
        now,
    )
    return written or 0


class UsageRow(msgspec.Struct, frozen=True):
    room_id: uuid.UUID
    room_name: str
    institution_name: str
    region: str
    district: str
    open_hours: Decimal
    booked_hours: Decimal
    bookings: int
    cancellations: int
    no_shows: int
    lottery_slots: int
    lottery_applications: int
    complete: bool
    computed_at: datetime


async def usage_of_month(conn: Conn, month: date) -> list[UsageRow]:
    """The stored figures of ``month``, Seoul's rooms first."""
    rows = await conn.fetch(
        """
        SELECT u.room_id, r.name, i.name, i.region, i.district, u.open_hours, u.booked_hours,
               u.bookings, u.cancellations, u.no_shows, u.lottery_slots,
               u.lottery_applications, u.complete, u.computed_at
        FROM room_usage_monthly u
        JOIN rooms r ON r.id = u.room_id JOIN institutions i ON i.id = r.institution_id
        WHERE u.month = $1
        ORDER BY i.region <> '서울특별시', i.region, i.district, i.name, r.name, r.id
        """,
        month,
    )
    return [UsageRow(*r) for r in rows]


class DayRoom(msgspec.Struct, frozen=True):
    room_id: uuid.UUID
    room_name: str
    institution_name: str
    kind: str
    capacity: int | None
    timezone: str
    free: list[asyncpg.Range[datetime]]


async def district_free_slots(conn: Conn, region: str, district: str, day: date) -> list[DayRoom]:
    """Every active room of the district with its free, bookable time on ``day`` (the
    institution's local day)."""
    rows = await conn.fetch(
        """
        SELECT r.id, r.name, i.name, r.kind, r.capacity, i.timezone,
               coalesce((SELECT array_agg(f ORDER BY lower(f)) FROM unnest(room_free_time(r.id,
                   tstzrange($3::date::timestamp AT TIME ZONE i.timezone,
                             ($3::date + 1)::timestamp AT TIME ZONE i.timezone, '[)'))) f),
                        '{}')
        FROM rooms r JOIN institutions i ON i.id = r.institution_id
        WHERE r.active AND i.region = $1 AND i.district = $2
        ORDER BY i.name, r.name, r.id
        """,
        region,
        district,
        day,
    )
    return [DayRoom(*r) for r in rows]
