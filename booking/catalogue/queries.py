"""SQL of the catalogue; every function takes the connection it runs on.

Search builds its WHERE clause from fixed fragments so each combination of filters gets its own
plan; values are always ``$n`` parameters, never formatted into the text.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import msgspec

from booking.db import Conn

__all__ = (
    "INSTITUTION_COLUMNS",
    "ROOM_COLUMNS",
    "BookableWindow",
    "ClosureHit",
    "ClosureRow",
    "ImportProgress",
    "ImportStart",
    "InstitutionRow",
    "InstitutionValues",
    "OpenDataImport",
    "RoomRow",
    "RoomSearch",
    "RoomValues",
    "RuleValues",
    "claim_stalled_imports",
    "delete_closure",
    "fetch_bookable_windows",
    "fetch_closures",
    "fetch_free_intervals",
    "fetch_import",
    "fetch_import_content",
    "fetch_import_report",
    "fetch_institution",
    "fetch_open_intervals",
    "fetch_room",
    "fetch_rules",
    "insert_closure",
    "insert_import",
    "insert_institution",
    "insert_room",
    "institution_params",
    "list_institutions",
    "lock_import_progress",
    "lock_institution",
    "lock_room",
    "lock_room_bookings",
    "public_closures",
    "recent_imports",
    "record_import_error",
    "replace_rules",
    "requeue_failed_import",
    "rooms_without_capacity",
    "save_import_progress",
    "search_rooms",
    "slot_holding_bookings_within",
    "start_import",
    "update_institution",
    "update_room",
)


@dataclass(slots=True)
class InstitutionValues:
    """Every writable column of ``institutions``."""

    name: str
    kind: str
    region: str
    district: str
    address: str | None
    latitude: float | None
    longitude: float | None
    phone: str | None
    homepage: str | None
    timezone: str
    closed_on_holidays: bool
    source_key: str | None = None


INSTITUTION_COLUMNS = (
    "name",
    "kind",
    "region",
    "district",
    "address",
    "latitude",
    "longitude",
    "phone",
    "homepage",
    "timezone",
    "closed_on_holidays",
)


@dataclass(slots=True)
class RoomValues:
    """Every writable column of ``rooms`` (fee columns in the open-data shape)."""

    name: str
    name_en: str | None
    kind: str
    capacity: int | None
    area_m2: Decimal | None
    floor: str | None
    amenities: list[str]
    accessibility: list[str]
    photos: list[str]
    fee_krw: int | None
    fee_base_hours: Decimal | None
    overtime_unit_hours: Decimal | None
    overtime_fee_krw: int | None
    slot_minutes: int
    min_minutes: int
    max_minutes: int
    lead_minutes: int
    horizon_days: int
    requires_approval: bool
    max_active_per_citizen: int
    closed_on_holidays: bool
    active: bool
    note: str | None
    source_key: str | None = None


ROOM_COLUMNS = (
    "name",
    "name_en",
    "kind",
    "capacity",
    "area_m2",
    "floor",
    "amenities",
    "accessibility",
    "photos",
    "fee_krw",
    "fee_base_hours",
    "overtime_unit_hours",
    "overtime_fee_krw",
    "slot_minutes",
    "min_minutes",
    "max_minutes",
    "lead_minutes",
    "horizon_days",
    "requires_approval",
    "max_active_per_citizen",
    "closed_on_holidays",
    "active",
    "note",
)


class RuleValues(msgspec.Struct, frozen=True):
    """One weekly window: ISO weekdays, "HH:MM" start and end (end may be "24:00")."""

    days: tuple[int, ...]
    start: str
    end: str
    valid_from: date | None = None
    valid_until: date | None = None


class InstitutionRow(msgspec.Struct, frozen=True):
    """An institution as stored (UTC stamps); built positionally from ``_INSTITUTION_ROW``."""

    id: uuid.UUID
    name: str
    kind: str
    region: str
    district: str
    address: str | None
    latitude: float | None
    longitude: float | None
    phone: str | None
    homepage: str | None
    timezone: str
    closed_on_holidays: bool
    created_at: datetime
    updated_at: datetime


_INSTITUTION_ROW = """
    id, name, kind, region, district, address, latitude, longitude, phone, homepage, timezone,
    closed_on_holidays, created_at, updated_at
"""
"""The columns of :class:`InstitutionRow`, in its field order."""


class RoomRow(msgspec.Struct, frozen=True):
    """A room with its institution's place and timezone (UTC stamps); built positionally from
    ``_ROOM_SELECT``. ``distance_km`` is only selected by a search near a point."""

    id: uuid.UUID
    institution_id: uuid.UUID
    name: str
    name_en: str | None
    kind: str
    capacity: int | None
    area_m2: Decimal | None
    floor: str | None
    amenities: list[str]
    accessibility: list[str]
    photos: list[str]
    fee_krw: int | None
    fee_base_hours: Decimal | None
    overtime_unit_hours: Decimal | None
    overtime_fee_krw: int | None
    slot_minutes: int
    min_minutes: int
    max_minutes: int
    lead_minutes: int
    horizon_days: int
    requires_approval: bool
    max_active_per_citizen: int
    closed_on_holidays: bool
    active: bool
    note: str | None
    created_at: datetime
    updated_at: datetime
    institution_name: str
    region: str
    district: str
    address: str | None
    latitude: float | None
    longitude: float | None
    timezone: str
    distance_km: float | None = None


class ClosureRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    room_id: uuid.UUID
    start: datetime
    end: datetime
    reason: str
    reason_public: bool


class BookableWindow(msgspec.Struct, frozen=True):
    """A room's visibility facts and a window clipped to ``[now + lead, now + horizon)``."""

    id: uuid.UUID
    institution_id: uuid.UUID
    active: bool
    timezone: str
    lo: datetime
    hi: datetime


# --- institutions -----------------------------------------------------------------------------


def institution_params(values: InstitutionValues) -> tuple[object, ...]:
    """``values`` in the order of :data:`INSTITUTION_COLUMNS`."""
    return tuple(getattr(values, name) for name in INSTITUTION_COLUMNS)


async def insert_institution(conn: Conn, values: InstitutionValues) -> InstitutionRow:
    row = await conn.fetchrow(
        f"""
        INSERT INTO institutions (name, kind, region, district, address, latitude, longitude,
                                  phone, homepage, timezone, closed_on_holidays, source_key)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        RETURNING {_INSTITUTION_ROW}
        """,  # noqa: S608 - only constant SQL fragments are interpolated
        *institution_params(values),
        values.source_key,
    )
    assert row is not None
    return InstitutionRow(*row)


async def fetch_institution(conn: Conn, institution_id: uuid.UUID) -> InstitutionRow | None:
    row = await conn.fetchrow(
        f"SELECT {_INSTITUTION_ROW} FROM institutions WHERE id = $1",  # noqa: S608 - constant
        institution_id,
    )
    return None if row is None else InstitutionRow(*row)


async def lock_institution(conn: Conn, institution_id: uuid.UUID) -> InstitutionRow | None:
    row = await conn.fetchrow(
        f"SELECT {_INSTITUTION_ROW} FROM institutions WHERE id = $1 FOR UPDATE",  # noqa: S608 - constant
        institution_id,
    )
    return None if row is None else InstitutionRow(*row)


async def update_institution(
    conn: Conn, institution_id: uuid.UUID, values: InstitutionValues
) -> InstitutionRow:
    row = await conn.fetchrow(
        f"""
        UPDATE institutions
        SET name = $2, kind = $3, region = $4, district = $5, address = $6, latitude = $7,
            longitude = $8, phone = $9, homepage = $10, timezone = $11,
            closed_on_holidays = $12, updated_at = now()
        WHERE id = $1
        RETURNING {_INSTITUTION_ROW}
        """,  # noqa: S608 - only constant SQL fragments are interpolated
        institution_id,
        *institution_params(values),
    )
    assert row is not None
    return InstitutionRow(*row)


async def list_institutions(
    conn: Conn,
    *,
    region: str | None,
    district: str | None,
    kind: str | None,
    after: tuple[str, uuid.UUID] | None,
    limit: int,
) -> list[InstitutionRow]:
    """One page ordered by (name, id), starting after the keyset ``after``."""
    rows = await conn.fetch(
        f"""
        SELECT {_INSTITUTION_ROW} FROM institutions
        WHERE ($1::text IS NULL OR region = $1)
          AND ($2::text IS NULL OR district = $2)
          AND ($3::text IS NULL OR kind = $3)
          AND ($4::text IS NULL OR (name, id) > ($4, $5::uuid))
        ORDER BY name, id
        LIMIT $6
        """,  # noqa: S608 - only constant SQL fragments are interpolated
        region,
        district,
        kind,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [InstitutionRow(*r) for r in rows]


# --- rooms --------------------------------------------------------------------------------------

_ROOM_COLUMNS = """
    r.id, r.institution_id, r.name, r.name_en, r.kind, r.capacity, r.area_m2, r.floor,
    r.amenities, r.accessibility, r.photos, r.fee_krw, r.fee_base_hours, r.overtime_unit_hours,
    r.overtime_fee_krw, r.slot_minutes, r.min_minutes, r.max_minutes, r.lead_minutes,
    r.horizon_days, r.requires_approval, r.max_active_per_citizen, r.closed_on_holidays,
    r.active, r.note, r.created_at, r.updated_at, i.name AS institution_name, i.region,
    i.district, i.address, i.latitude, i.longitude, i.timezone
"""
"""The columns of :class:`RoomRow`, in its field order (search adds ``distance_km``)."""
_ROOM_FROM = " FROM rooms r JOIN institutions i ON i.id = r.institution_id"
_ROOM_SELECT = "SELECT " + _ROOM_COLUMNS + _ROOM_FROM


async def insert_room(conn: Conn, institution_id: uuid.UUID, values: RoomValues) -> uuid.UUID:
    room_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO rooms (institution_id, name, name_en, kind, capacity, area_m2, floor,
                           amenities, accessibility, photos, fee_krw, fee_base_hours,
                           overtime_unit_hours, overtime_fee_krw, slot_minutes, min_minutes,
                           max_minutes, lead_minutes, horizon_days, requires_approval,
                           max_active_per_citizen, closed_on_holidays, active, note, source_key)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                $18, $19, $20, $21, $22, $23, $24, $25)
        RETURNING id
        """,
        institution_id,
        *_room_params(values),
        values.source_key,
    )
    return room_id


def _room_params(values: RoomValues) -> tuple[object, ...]:
    return tuple(getattr(values, name) for name in ROOM_COLUMNS)


async def fetch_room(conn: Conn, room_id: uuid.UUID) -> RoomRow | None:
    row = await conn.fetchrow(_ROOM_SELECT + " WHERE r.id = $1", room_id)
    return None if row is None else RoomRow(*row)


async def lock_room(conn: Conn, room_id: uuid.UUID) -> RoomRow | None:
    row = await conn.fetchrow(_ROOM_SELECT + " WHERE r.id = $1 FOR UPDATE OF r", room_id)
    return None if row is None else RoomRow(*row)


async def rooms_without_capacity(conn: Conn, institution_id: uuid.UUID) -> list[RoomRow]:
    rows = await conn.fetch(
        _ROOM_SELECT + " WHERE r.institution_id = $1 AND r.capacity IS NULL ORDER BY r.name, r.id",
        institution_id,
    )
    return [RoomRow(*r) for r in rows]


async def update_room(conn: Conn, room_id: uuid.UUID, values: RoomValues) -> None:
    assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(ROOM_COLUMNS, start=2))
    await conn.execute(
        f"UPDATE rooms SET {assignments}, updated_at = now() WHERE id = $1",  # noqa: S608 - fixed column names
        room_id,
        *_room_params(values),
    )


# --- weekly windows -----------------------------------------------------------------------------


async def replace_rules(conn: Conn, room_id: uuid.UUID, rules: list[RuleValues]) -> None:
    await conn.execute("DELETE FROM availability_rules WHERE room_id = $1", room_id)
    await conn.executemany(
        """
        INSERT INTO availability_rules (room_id, days, start_time, end_time, valid_from, valid_until)
        VALUES ($1, $2, $3::text::time, $4::text::time, $5, $6)
        """,
        [(room_id, list(r.days), r.start, r.end, r.valid_from, r.valid_until) for r in rules],
    )


async def fetch_rules(conn: Conn, room_id: uuid.UUID) -> list[RuleValues]:
    rows = await conn.fetch(
        """
        SELECT days, to_char(start_time, 'HH24:MI') AS start, to_char(end_time, 'HH24:MI') AS end,
               valid_from, valid_until
        FROM availability_rules WHERE room_id = $1
        ORDER BY start_time, end_time, days, valid_from NULLS FIRST, valid_until NULLS FIRST
        """,
        room_id,
    )
    return [
        RuleValues(tuple(sorted(days)), start, end, valid_from, valid_until)
        for days, start, end, valid_from, valid_until in rows
    ]


# --- closures -----------------------------------------------------------------------------------


class ClosureHit(msgspec.Struct, frozen=True):
    """A slot-holding booking a new closure would cover: what its managers may see of it."""

    id: uuid.UUID
    status: str
    start: datetime
    end: datetime


async def lock_room_bookings(conn: Conn, room_id: uuid.UUID) -> None:
    """Take turns with every booking write of the room until the transaction ends: the lock
    book() takes before its insert, and trigger ``booking_outside_closures`` before any
    slot-holding write (sql/functions/booking_outside_closures.sql)."""
    await conn.execute("SELECT pg_advisory_xact_lock(31, hashtext($1::uuid::text))", room_id)


async def slot_holding_bookings_within(
    conn: Conn, room_id: uuid.UUID, start: datetime, end: datetime
) -> list[ClosureHit]:
    """The room's slot-holding bookings overlapping ``[start, end)``, locked, by start."""
    rows = await conn.fetch(
        """
        SELECT id, status, lower(during) AS start, upper(during) AS "end" FROM bookings
        WHERE room_id = $1 AND holds_slot AND during && tstzrange($2, $3, '[)')
        ORDER BY lower(during), id
        FOR UPDATE
        """,
        room_id,
        start,
        end,
    )
    return [ClosureHit(*r) for r in rows]


async def insert_closure(
    conn: Conn,
    room_id: uuid.UUID,
    start: datetime,
    end: datetime,
    reason: str,
    reason_public: bool,
    created_by: uuid.UUID | None,
) -> ClosureRow:
    row = await conn.fetchrow(
        """
        INSERT INTO closures (room_id, during, reason, reason_public, created_by)
        VALUES ($1, tstzrange($2, $3, '[)'), $4, $5, $6)
        RETURNING id, room_id, lower(during) AS start, upper(during) AS "end", reason,
                  reason_public
        """,
        room_id,
        start,
        end,
        reason,
        reason_public,
        created_by,
    )
    assert row is not None
    return ClosureRow(*row)


async def fetch_closures(conn: Conn, room_id: uuid.UUID) -> list[ClosureRow]:
    rows = await conn.fetch(
        """
        SELECT id, room_id, lower(during) AS start, upper(during) AS "end", reason,
               reason_public
        FROM closures WHERE room_id = $1 ORDER BY lower(during), id
        """,
        room_id,
    )
    return [ClosureRow(*r) for r in rows]


async def public_closures(
    conn: Conn, room_id: uuid.UUID, start: datetime, end: datetime
) -> list[ClosureRow]:
    """The room's closures shown to citizens (``reason_public``) overlapping ``[start, end)``,
    by start. Internal closures never leave this module for a public answer."""
    rows = await conn.fetch(
        """
        SELECT id, room_id, lower(during) AS start, upper(during) AS "end", reason,
               reason_public
        FROM closures
        WHERE room_id = $1 AND reason_public AND during && tstzrange($2, $3, '[)')
        ORDER BY lower(during), id
        """,
        room_id,
        start,
        end,
    )
    return [ClosureRow(*r) for r in rows]


async def delete_closure(conn: Conn, room_id: uuid.UUID, closure_id: uuid.UUID) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM closures WHERE id = $1 AND room_id = $2 RETURNING id", closure_id, room_id
    )
    return deleted is not None


# --- search -------------------------------------------------------------------------------------


@dataclass(slots=True)
class RoomSearch:
    """Filters of GET /v1/rooms, already validated."""

    region: str | None = None
    district: str | None = None
    kind: str | None = None
    min_capacity: int | None = None
    amenities: list[str] = field(default_factory=list)
    accessibility: list[str] = field(default_factory=list)
    free_from: datetime | None = None
    free_to: datetime | None = None
    near: tuple[float, float] | None = None
    radius_km: float | None = None
    q: str | None = None
    after_name: tuple[str, str, uuid.UUID] | None = None
    after_distance: tuple[float, uuid.UUID] | None = None
    limit: int = 20


_KM_PER_DEGREE_LAT = 111.2


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_sql(search: RoomSearch) -> tuple[str, list[object]]:
    """The search statement and its parameters (also used by the benchmark for EXPLAIN)."""
    params: list[object] = []

    def param(value: object) -> str:
        params.append(value)
        return f"${len(params)}"

    where = ["r.active"]
    distance = "NULL::double precision"
    if search.region is not None:
        where.append(f"i.region = {param(search.region)}")
    if search.district is not None:
        where.append(f"i.district = {param(search.district)}")
    if search.kind is not None:
        where.append(f"r.kind = {param(search.kind)}")
    if search.min_capacity is not None:
        where.append(f"r.capacity >= {param(search.min_capacity)}")
    if search.amenities:
        where.append(f"r.amenities @> {param(search.amenities)}::text[]")
    if search.accessibility:
        where.append(f"r.accessibility @> {param(search.accessibility)}::text[]")
    if search.q is not None:
        pattern = param(_like_pattern(search.q))
        where.append(f"(r.name ILIKE {pattern} OR i.name ILIKE {pattern})")
    if search.near is not None:
        lat, lon = search.near
        radius = search.radius_km if search.radius_km is not None else 5.0
        p_lat, p_lon, p_radius = param(lat), param(lon), param(radius)
        # Bounding box first (index on institutions (latitude, longitude)), then haversine.
        dlat = radius / _KM_PER_DEGREE_LAT
        p_dlat = param(dlat)
        p_dlon = param(dlat / max(0.01, _cos_deg(lat)))
        where.append(
            f"i.latitude BETWEEN {p_lat}::float8 - {p_dlat}::float8 AND {p_lat}::float8 + {p_dlat}::float8"
        )
        where.append(
            f"i.longitude BETWEEN {p_lon}::float8 - {p_dlon}::float8 AND {p_lon}::float8 + {p_dlon}::float8"
        )
        distance = f"haversine_km({p_lat}::float8, {p_lon}::float8, i.latitude, i.longitude)"
        where.append(f"{distance} <= {p_radius}::float8")
    if search.free_from is not None and search.free_to is not None:
        p_from, p_to = param(search.free_from), param(search.free_to)
        where += _entirely_free(f"{p_from}::timestamptz", f"{p_to}::timestamptz")
    if search.near is not None:
        if search.after_distance is not None:
            d, rid = search.after_distance
            where.append(f"({distance}, r.id) > ({param(d)}::float8, {param(rid)}::uuid)")
        order = "distance_km, id"
    else:
        if search.after_name is not None:
            iname, rname, rid = search.after_name
            where.append(
                f"(i.name, r.name, r.id) > ({param(iname)}::text, {param(rname)}::text, {param(rid)}::uuid)"
            )
        order = "institution_name, name, id"
    select = f"SELECT {_ROOM_COLUMNS}, {distance} AS distance_km {_ROOM_FROM}"
    conditions = " AND ".join(where)
    limit = param(search.limit + 1)
    sql = f"SELECT * FROM ({select} WHERE {conditions}) AS found ORDER BY {order} LIMIT {limit}"  # noqa: S608 - fixed fragments; values are $n parameters
    return sql, params


# "Room r (of institution i) can be booked for all of [__FROM__, __TO__)": room_free_time(r.id,
# window) @> window plus lead time and horizon, written as correlated conditions over the same
# parts as room_open_time and room_is_open (room_windows, holiday_ranges, closures, holds_slot),
# which Postgres inlines, so the planner evaluates them per candidate row. Calling
# room_free_time once per room costs about a millisecond of executor set-up each, which a
# district search cannot afford; tests/reservations/test_open_check.py holds all three to the
# same answers. __FROM__ and __TO__ become parameter numbers.
_ENTIRELY_FREE = (
    "__FROM__ >= now() + r.lead_minutes * interval '1 minute'",
    "__TO__ <= now() + r.horizon_days * interval '1 day'",
    """NOT EXISTS (SELECT 1 FROM bookings b
                   WHERE b.room_id = r.id AND b.during && tstzrange(__FROM__, __TO__, '[)')
                     AND b.holds_slot)""",
    """NOT EXISTS (SELECT 1 FROM closures c
                   WHERE c.room_id = r.id AND c.during && tstzrange(__FROM__, __TO__, '[)'))""",
    """NOT ((r.closed_on_holidays OR i.closed_on_holidays) AND EXISTS (
           SELECT 1 FROM holiday_ranges(i.timezone, (__FROM__ AT TIME ZONE i.timezone)::date - 1,
                                        (__TO__ AT TIME ZONE i.timezone)::date) AS h
           WHERE h.during && tstzrange(__FROM__, __TO__, '[)')))""",
    """(SELECT range_agg(tstzrange(w.lo, w.hi, '[)'))
        FROM room_windows(r.id, i.timezone, (__FROM__ AT TIME ZONE i.timezone)::date - 1,
                          (__TO__ AT TIME ZONE i.timezone)::date) AS w
        WHERE w.lo < w.hi) @> tstzrange(__FROM__, __TO__, '[)')""",
)


def _entirely_free(start: str, end: str) -> list[str]:
    return [c.replace("__FROM__", start).replace("__TO__", end) for c in _ENTIRELY_FREE]


def _cos_deg(degrees: float) -> float:
    return math.cos(math.radians(degrees))


async def search_rooms(conn: Conn, search: RoomSearch) -> list[RoomRow]:
    """Up to ``limit + 1`` matching rooms (the extra one tells the caller there is a next page)."""
    sql, params = search_sql(search)
    return [RoomRow(*r) for r in await conn.fetch(sql, *params)]


# --- free time: the multirange arithmetic lives in Postgres (room_free_time) ------------------


async def fetch_bookable_windows(
    conn: Conn, room_ids: list[uuid.UUID], start: datetime, end: datetime
) -> list[BookableWindow]:
    """Each known room's visibility facts and ``[start, end)`` clipped to ``[now + lead,
    now + horizon)`` (``lo``/``hi``; ``lo >= hi`` means nothing is bookable in the window)."""
    rows = await conn.fetch(
        """
        SELECT r.id, r.institution_id, r.active, i.timezone,
               greatest($2::timestamptz, now() + r.lead_minutes * interval '1 minute') AS lo,
               least($3::timestamptz, now() + r.horizon_days * interval '1 day') AS hi
        FROM rooms r JOIN institutions i ON i.id = r.institution_id
        WHERE r.id = ANY ($1::uuid[])
        """,
        room_ids,
        start,
        end,
    )
    return [BookableWindow(*row) for row in rows]


async def fetch_open_intervals(
    conn: Conn, room_id: uuid.UUID, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Open ``[start, end)`` pieces of the room (``room_open_time``: windows minus closures and
    holidays, bookings not subtracted), in time order."""
    rows = await conn.fetch(
        """
        SELECT lower(o), upper(o)
        FROM unnest(room_open_time($1, tstzrange($2, $3, '[)'))) AS o ORDER BY 1
        """,
        room_id,
        start,
        end,
    )
    return [(lo, hi) for lo, hi in rows]


async def fetch_free_intervals(
    conn: Conn, windows: list[tuple[uuid.UUID, datetime, datetime]]
) -> dict[uuid.UUID, list[tuple[datetime, datetime]]]:
    """Free ``[start, end)`` pieces of each ``(room, start, end)`` in one statement (the plan of
    ``room_free_time`` is made once for all of them), in time order; every room is a key."""
    rows = await conn.fetch(
        """
        SELECT w.id, lower(f) AS start, upper(f) AS "end"
        FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS w(id, lo, hi),
             LATERAL unnest(room_free_time(w.id, tstzrange(w.lo, w.hi, '[)'))) AS f
        ORDER BY w.id, lower(f)
        """,
        [w[0] for w in windows],
        [w[1] for w in windows],
        [w[2] for w in windows],
    )
    pieces: dict[uuid.UUID, list[tuple[datetime, datetime]]] = {w[0]: [] for w in windows}
    for room_id, piece_start, piece_end in rows:
        pieces[room_id].append((piece_start, piece_end))
    return pieces


# --- open-data imports (uploads on the admin page, imported by a job) -------------------------


class OpenDataImport(msgspec.Struct, frozen=True):
    """An uploaded file and its import's state (no content, no report); built positionally from
    ``_IMPORT_ROW``."""

    id: uuid.UUID
    filename: str
    region: str | None
    size_bytes: int
    status: str
    rows_total: int
    rows_done: int
    error: str | None
    uploaded_by: str | None
    """The uploader's e-mail address (None once the account is gone)."""
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


_IMPORT_ROW = """
    i.id, i.filename, i.region, i.size_bytes, i.status, i.rows_total, i.rows_done, i.error,
    u.email, i.created_at, i.started_at, i.finished_at
"""
"""The columns of :class:`OpenDataImport`, in its field order (``i`` joined to users ``u``)."""


class ImportProgress(msgspec.Struct, frozen=True):
    """What a batch of the import job reads under the row's lock."""

    status: str
    rows_total: int
    rows_written: int
    report: str | None
    """The importer's report so far (JSON text); None before the first batch."""


class ImportStart(msgspec.Struct, frozen=True):
    region: str | None
    rows_total: int


async def insert_import(
    conn: Conn,
    uploaded_by: uuid.UUID,
    filename: str,
    region: str | None,
    content: bytes,
    rows_total: int,
) -> uuid.UUID:
    ident: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO open_data_imports (uploaded_by, filename, region, content, size_bytes,
                                       rows_total)
        VALUES ($1, $2, $3, $4, octet_length($4::bytea), $5) RETURNING id
        """,
        uploaded_by,
        filename,
        region,
        content,
        rows_total,
    )
    return ident


async def fetch_import(conn: Conn, import_id: uuid.UUID) -> OpenDataImport | None:
    row = await conn.fetchrow(
        f"""
        SELECT {_IMPORT_ROW}
        FROM open_data_imports i LEFT JOIN users u ON u.id = i.uploaded_by
        WHERE i.id = $1
        """,  # noqa: S608 - only constant SQL fragments are interpolated
        import_id,
    )
    return None if row is None else OpenDataImport(*row)


async def recent_imports(conn: Conn, limit: int) -> list[OpenDataImport]:
    rows = await conn.fetch(
        f"""
        SELECT {_IMPORT_ROW}
        FROM open_data_imports i LEFT JOIN users u ON u.id = i.uploaded_by
        ORDER BY i.created_at DESC, i.id LIMIT $1
        """,  # noqa: S608 - only constant SQL fragments are interpolated
        limit,
    )
    return [OpenDataImport(*row) for row in rows]


async def fetch_import_report(conn: Conn, import_id: uuid.UUID) -> str | None:
    """The importer's report (JSON text) as far as the import got."""
    report: str | None = await conn.fetchval(
        "SELECT report::text FROM open_data_imports WHERE id = $1", import_id
    )
    return report


async def fetch_import_content(conn: Conn, import_id: uuid.UUID) -> bytes:
    content: bytes = await conn.fetchval(
        "SELECT content FROM open_data_imports WHERE id = $1", import_id
    )
    return content


async def start_import(conn: Conn, import_id: uuid.UUID) -> ImportStart | None:
    """Mark an unfinished import running (a failed one too: a retry runs it again); None when
    it is done or does not exist."""
    row = await conn.fetchrow(
        """
        UPDATE open_data_imports
        SET status = 'running', started_at = coalesce(started_at, now()), updated_at = now()
        WHERE id = $1 AND status <> 'done'
        RETURNING region, rows_total
        """,
        import_id,
    )
    return None if row is None else ImportStart(*row)


async def lock_import_progress(conn: Conn, import_id: uuid.UUID) -> ImportProgress | None:
    row = await conn.fetchrow(
        """
        SELECT status, rows_total, rows_written, report::text
        FROM open_data_imports WHERE id = $1 FOR UPDATE
        """,
        import_id,
    )
    return None if row is None else ImportProgress(*row)


async def save_import_progress(
    conn: Conn,
    import_id: uuid.UUID,
    *,
    rows_written: int,
    rows_done: int,
    report: bytes,
    finished: bool,
) -> None:
    await conn.execute(
        """
        UPDATE open_data_imports
        SET rows_written = $2, rows_done = $3, report = $4::text::jsonb, error = NULL,
            status = CASE WHEN $5 THEN 'done' ELSE status END,
            finished_at = CASE WHEN $5 THEN now() END,
            updated_at = now()
        WHERE id = $1
        """,
        import_id,
        rows_written,
        rows_done,
        report.decode(),
        finished,
    )


async def record_import_error(
    conn: Conn, import_id: uuid.UUID, error: str, *, failed: bool
) -> None:
    """Note the error of a try (``failed``: the last one; the import is failed)."""
    await conn.execute(
        """
        UPDATE open_data_imports
        SET error = $2, updated_at = now(),
            status = CASE WHEN $3 THEN 'failed' ELSE status END
        WHERE id = $1 AND status <> 'done'
        """,
        import_id,
        error,
        failed,
    )


async def requeue_failed_import(conn: Conn, import_id: uuid.UUID) -> int | None:
    """A failed import queued again (error cleared); its position, or None if not failed."""
    position: int | None = await conn.fetchval(
        """
        UPDATE open_data_imports SET status = 'queued', error = NULL, updated_at = now()
        WHERE id = $1 AND status = 'failed'
        RETURNING rows_written
        """,
        import_id,
    )
    return position


async def claim_stalled_imports(
    conn: Conn, older_than_seconds: float
) -> list[tuple[uuid.UUID, int]]:
    """(id, position) of queued or running imports untouched for ``older_than_seconds`` (their
    job never reached Redis or was lost there), touched so the next sweep waits again."""
    rows = await conn.fetch(
        """
        UPDATE open_data_imports SET updated_at = now()
        WHERE status IN ('queued', 'running')
          AND updated_at < now() - make_interval(secs => $1)
        RETURNING id, rows_written
        """,
        older_than_seconds,
    )
    return [(ident, position) for ident, position in rows]
