"""SQL of the manager pages' reads: one institution's rooms, bookings with the people who made
them, the week's open time, closures, and monthly use. Every function takes its connection."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

import msgspec

from booking.db import Conn

__all__ = (
    "DeskBooking",
    "InstitutionName",
    "RoomSummary",
    "RoomUse",
    "UserMatch",
    "WeekBooking",
    "WeekClosure",
    "active_room_zones",
    "desk_bookings",
    "find_users",
    "institution_managers",
    "institution_names",
    "institution_rooms",
    "open_time_of_rooms",
    "pending_requests",
    "refresh_room_use",
    "room_use",
    "stale_room_use",
    "week_bookings",
    "week_closures",
)


class InstitutionName(msgspec.Struct, frozen=True):
    id: uuid.UUID
    name: str
    district: str
    timezone: str


class RoomSummary(msgspec.Struct, frozen=True):
    id: uuid.UUID
    name: str
    name_en: str | None
    kind: str
    capacity: int
    active: bool
    requires_approval: bool
    closed_on_holidays: bool
    windows: int


class DeskBooking(msgspec.Struct, frozen=True):
    """A booking as the front desk sees it: with the person's name and contact."""

    id: uuid.UUID
    room_id: uuid.UUID
    room_name: str
    start: datetime
    end: datetime
    status: str
    purpose: str
    attendees: int
    person_name: str
    email: str | None
    phone: str | None
    walk_in: bool
    created_at: datetime


class WeekBooking(msgspec.Struct, frozen=True, gc=False):
    """A slot-holding booking as the week view shows it: its time, state and person. (Not
    tracked by the cycle collector, like the week's other pieces: a busy week makes thousands,
    and they hold no cycles.)"""

    id: uuid.UUID
    room_id: uuid.UUID
    start: datetime
    end: datetime
    status: str
    person_name: str


class WeekClosure(msgspec.Struct, frozen=True, gc=False):
    id: uuid.UUID
    room_id: uuid.UUID
    start: datetime
    end: datetime
    reason: str


class RoomUse(msgspec.Struct, frozen=True):
    room_id: uuid.UUID
    month: date
    open_hours: Decimal
    booked_hours: Decimal
    bookings: int
    cancellations: int
    no_shows: int
    by_weekday: list[int]
    by_hour: list[int]


class UserMatch(msgspec.Struct, frozen=True):
    id: uuid.UUID
    email: str
    name: str
    role: str


async def institution_names(conn: Conn, ids: list[uuid.UUID] | None) -> list[InstitutionName]:
    """The named institutions (all of them, up to 500, for ``None``), by name."""
    rows = await conn.fetch(
        """
        SELECT id, name, district, timezone FROM institutions
        WHERE $1::uuid[] IS NULL OR id = ANY ($1::uuid[])
        ORDER BY name, id LIMIT 500
        """,
        ids,
    )
    return [InstitutionName(*r) for r in rows]


async def institution_rooms(conn: Conn, institution_id: uuid.UUID) -> list[RoomSummary]:
    rows = await conn.fetch(
        """
        SELECT r.id, r.name, r.name_en, r.kind, r.capacity, r.active, r.requires_approval,
               r.closed_on_holidays,
               (SELECT count(*) FROM availability_rules a WHERE a.room_id = r.id)::int
        FROM rooms r WHERE r.institution_id = $1
        ORDER BY r.active DESC, r.name, r.id
        """,
        institution_id,
    )
    return [RoomSummary(*r) for r in rows]


_DESK = """
    SELECT b.id, b.room_id, r.name, lower(b.during), upper(b.during), b.status, b.purpose,
           b.attendees, coalesce(b.walk_in_name, u.name),
           CASE WHEN b.walk_in_name IS NULL THEN u.email ELSE b.walk_in_email END,
           CASE WHEN b.walk_in_name IS NULL THEN u.phone ELSE b.walk_in_phone END,
           b.walk_in_name IS NOT NULL, b.created_at
    FROM bookings b JOIN rooms r ON r.id = b.room_id JOIN users u ON u.id = b.citizen_id
"""


async def desk_bookings(
    conn: Conn,
    institution_id: uuid.UUID,
    start: datetime,
    end: datetime,
    *,
    slot_holding_only: bool = False,
) -> list[DeskBooking]:
    """The institution's bookings overlapping ``[start, end)`` (not cancelled or rejected,
    unless asked), by room and time."""
    rows = await conn.fetch(
        _DESK
        + """
        WHERE r.institution_id = $1 AND b.during && tstzrange($2, $3, '[)')
          AND b.status NOT IN ('cancelled', 'rejected') AND (NOT $4 OR b.holds_slot)
        ORDER BY lower(b.during), r.name, b.id
        """,
        institution_id,
        start,
        end,
        slot_holding_only,
    )
    return [DeskBooking(*r) for r in rows]


async def pending_requests(
    conn: Conn, institution_id: uuid.UUID, now: datetime
) -> list[DeskBooking]:
    """Requests waiting for a decision, oldest request first."""
    rows = await conn.fetch(
        _DESK
        + """
        WHERE r.institution_id = $1 AND b.status = 'pending' AND upper(b.during) > $2
        ORDER BY b.created_at, b.id
        LIMIT 500
        """,
        institution_id,
        now,
    )
    return [DeskBooking(*r) for r in rows]


async def open_time_of_rooms(
    conn: Conn, room_ids: list[uuid.UUID], start: datetime, end: datetime
) -> dict[uuid.UUID, list[tuple[datetime, datetime]]]:
    """Each room's open time in ``[start, end)`` (weekly windows minus closures and holidays)."""
    rows = await conn.fetch(
        """
        SELECT r.id, lower(o), upper(o)
        FROM unnest($1::uuid[]) AS r(id),
             LATERAL unnest(room_open_time(r.id, tstzrange($2, $3, '[)'))) AS o
        ORDER BY r.id, lower(o)
        """,
        room_ids,
        start,
        end,
    )
    out: dict[uuid.UUID, list[tuple[datetime, datetime]]] = {r: [] for r in room_ids}
    for room_id, lo, hi in rows:
        out[room_id].append((lo, hi))
    return out


async def week_bookings(
    conn: Conn, institution_id: uuid.UUID, start: datetime, end: datetime
) -> list[WeekBooking]:
    """The institution's slot-holding bookings overlapping ``[start, end)``, by start: only the
    columns the week view shows (a thousand rows and more in a busy week). ``upper(during) >
    start`` lets index ``bookings_room_holding_end`` (sql/0111) skip each room's past."""
    rows = await conn.fetch(
        """
        SELECT b.id, b.room_id, lower(b.during), upper(b.during), b.status,
               coalesce(b.walk_in_name, u.name)
        FROM bookings b JOIN rooms r ON r.id = b.room_id JOIN users u ON u.id = b.citizen_id
        WHERE r.institution_id = $1 AND b.holds_slot AND upper(b.during) > $2
          AND b.during && tstzrange($2, $3, '[)')
        ORDER BY lower(b.during), b.id
        """,
        institution_id,
        start,
        end,
    )
    return [WeekBooking(*r) for r in rows]


async def week_closures(
    conn: Conn, institution_id: uuid.UUID, start: datetime, end: datetime
) -> list[WeekClosure]:
    rows = await conn.fetch(
        """
        SELECT c.id, c.room_id, lower(c.during), upper(c.during), c.reason
        FROM closures c JOIN rooms r ON r.id = c.room_id
        WHERE r.institution_id = $1 AND c.during && tstzrange($2, $3, '[)')
        ORDER BY lower(c.during), c.id
        """,
        institution_id,
        start,
        end,
    )
    return [WeekClosure(*r) for r in rows]


async def refresh_room_use(conn: Conn, pairs: list[tuple[uuid.UUID, date]], now: datetime) -> None:
    """Compute and store the figures of each (room, first day of a local month) as of ``now``."""
    if pairs:
        # The figures are defined once, in sql/functions/refresh_room_usage.sql.
        await conn.execute(
            "SELECT refresh_room_usage($1::uuid[], $2::date[], $3)",
            [p[0] for p in pairs],
            [p[1] for p in pairs],
            now,
        )


async def stale_room_use(
    conn: Conn, room_ids: list[uuid.UUID], months: list[date], now: datetime, max_age_s: float
) -> list[tuple[uuid.UUID, date]]:
    """(room, month) pairs with no stored figures, or figures of a month not over when computed
    and older than ``max_age_s``."""
    rows = await conn.fetch(
        """
        SELECT r.id, mo.month
        FROM unnest($1::uuid[]) AS r(id) CROSS JOIN unnest($2::date[]) AS mo(month)
        LEFT JOIN room_usage_monthly u ON u.room_id = r.id AND u.month = mo.month
        WHERE u.room_id IS NULL
           OR (NOT u.complete AND u.computed_at < $3::timestamptz - make_interval(secs => $4))
        """,
        room_ids,
        months,
        now,
        max_age_s,
    )
    return [(r[0], r[1]) for r in rows]


async def room_use(conn: Conn, room_ids: list[uuid.UUID], months: list[date]) -> list[RoomUse]:
    rows = await conn.fetch(
        """
        SELECT room_id, month, open_hours, booked_hours, bookings, cancellations, no_shows,
               by_weekday, by_hour
        FROM room_usage_monthly WHERE room_id = ANY ($1::uuid[]) AND month = ANY ($2::date[])
        ORDER BY room_id, month
        """,
        room_ids,
        months,
    )
    return [RoomUse(r[0], r[1], r[2], r[3], r[4], r[5], r[6], list(r[7]), list(r[8])) for r in rows]


async def find_users(conn: Conn, email_part: str, limit: int = 20) -> list[UserMatch]:
    """Active accounts whose e-mail contains ``email_part`` (admins appointing managers)."""
    rows = await conn.fetch(
        """
        SELECT id, email, name, role FROM users
        WHERE deleted_at IS NULL AND disabled_at IS NULL
          AND strpos(email, lower($1)) > 0
        ORDER BY email LIMIT $2
        """,
        email_part,
        limit,
    )
    return [UserMatch(*r) for r in rows]


async def active_room_zones(conn: Conn) -> list[tuple[uuid.UUID, str]]:
    """Every active room with its institution's time zone."""
    rows = await conn.fetch(
        "SELECT r.id, i.timezone FROM rooms r JOIN institutions i ON i.id = r.institution_id"
        " WHERE r.active ORDER BY r.id"
    )
    return [(r[0], r[1]) for r in rows]


async def institution_managers(conn: Conn, institution_id: uuid.UUID) -> list[UserMatch]:
    rows = await conn.fetch(
        """
        SELECT u.id, u.email, u.name, u.role FROM institution_managers m
        JOIN users u ON u.id = m.user_id
        WHERE m.institution_id = $1 ORDER BY u.email
        """,
        institution_id,
    )
    return [UserMatch(*r) for r in rows]
