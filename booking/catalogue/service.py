"""Catalogue rules: who may publish what, validation before any write, one transaction per change."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
import msgspec

from booking.accounts.auth import Principal
from booking.catalogue import queries
from booking.catalogue.queries import InstitutionValues, RoomSearch, RoomValues, RuleValues
from booking.db import Conn
from booking.errors import Forbidden, NotFound, Problem
from schemas.catalogue import (
    SEOUL_DISTRICTS,
    WEEKDAYS,
    Closure,
    ClosureCreate,
    Fee,
    Institution,
    InstitutionCreate,
    InstitutionPage,
    InstitutionPatch,
    Policy,
    Room,
    RoomCreate,
    RoomPage,
    RoomPatch,
    WeeklyWindow,
    WeeklyWindowIn,
)
from schemas.common import FieldError

__all__ = (
    "MAX_PAGE",
    "SEOUL",
    "create_closure",
    "create_institution",
    "create_room",
    "decode_cursor",
    "delete_closure",
    "encode_cursor",
    "get_institution",
    "get_room",
    "get_rules",
    "invalid",
    "list_closures",
    "list_institutions",
    "merge_windows",
    "parse_timezone",
    "patch_institution",
    "patch_room",
    "replace_rules",
    "room_from_record",
    "search_rooms",
    "validate_district",
)

SEOUL = "서울특별시"
MAX_PAGE = 100
_ADMIN_ONLY_INSTITUTION_FIELDS = ("kind", "region", "district", "timezone")


def invalid(field: str, message: str) -> Problem:
    """A 422 problem naming the offending field (the same shape as a body validation error)."""
    return Problem(
        f"{field}: {message}",
        status=422,
        code="validation-error",
        title="Invalid request",
        errors=[FieldError(field=field, message=message)],
    )


def parse_timezone(name: str, field: str = "timezone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise invalid(field, f"unknown IANA time zone {name!r}") from None


def validate_district(region: str, district: str) -> None:
    if region == SEOUL and district not in SEOUL_DISTRICTS:
        raise invalid(
            "district",
            f"{district!r} is not a district of {SEOUL}; valid: {', '.join(SEOUL_DISTRICTS)}",
        )


def _validate_coordinates(latitude: float | None, longitude: float | None) -> None:
    if (latitude is None) != (longitude is None):
        raise invalid(
            "latitude" if latitude is None else "longitude",
            "latitude and longitude go together: send both or neither",
        )


# --- cursors ------------------------------------------------------------------------------------


def encode_cursor(key: list[object]) -> str:
    raw = json.dumps(key, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str, arity: int) -> list[object]:
    """The sort key inside an opaque cursor; 422 naming ``cursor`` if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid("cursor", "not a cursor returned by this endpoint") from None
    if not isinstance(key, list) or len(key) != arity + 1 or key[0] != kind:
        raise invalid("cursor", "not a cursor returned by this endpoint (or for other filters)")
    return key[1:]


def _uuid(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise invalid("cursor", "not a cursor returned by this endpoint") from None


# --- institutions -----------------------------------------------------------------------------


def _institution(record: asyncpg.Record) -> Institution:
    return Institution(
        id=record["id"],
        name=record["name"],
        kind=record["kind"],
        region=record["region"],
        district=record["district"],
        address=record["address"],
        latitude=record["latitude"],
        longitude=record["longitude"],
        phone=record["phone"],
        homepage=record["homepage"],
        timezone=record["timezone"],
        closed_on_holidays=record["closed_on_holidays"],
        created_at=record["created_at"],
        updated_at=record["updated_at"],
    )


def _validate_institution(values: InstitutionValues) -> None:
    parse_timezone(values.timezone)
    validate_district(values.region, values.district)
    _validate_coordinates(values.latitude, values.longitude)


async def create_institution(pool: asyncpg.Pool, body: InstitutionCreate) -> Institution:
    values = InstitutionValues(
        name=body.name.strip(),
        kind=body.kind,
        region=body.region.strip(),
        district=body.district.strip(),
        address=body.address,
        latitude=body.latitude,
        longitude=body.longitude,
        phone=body.phone,
        homepage=body.homepage,
        timezone=body.timezone,
        closed_on_holidays=body.closed_on_holidays,
    )
    _validate_institution(values)
    async with pool.acquire() as conn:
        return _institution(await queries.insert_institution(conn, values))


async def list_institutions(
    pool: asyncpg.Pool,
    *,
    region: str | None,
    district: str | None,
    kind: str | None,
    cursor: str | None,
    limit: int,
) -> InstitutionPage:
    after: tuple[str, uuid.UUID] | None = None
    if cursor:
        name, ident = decode_cursor(cursor, "i", 2)
        after = (str(name), _uuid(ident))
    async with pool.acquire() as conn:
        rows = await queries.list_institutions(
            conn, region=region, district=district, kind=kind, after=after, limit=limit + 1
        )
    items = [_institution(r) for r in rows[:limit]]
    next_cursor = (
        encode_cursor(["i", items[-1].name, str(items[-1].id)]) if len(rows) > limit else None
    )
    return InstitutionPage(items=items, next_cursor=next_cursor)


async def get_institution(pool: asyncpg.Pool, institution_id: uuid.UUID) -> Institution:
    async with pool.acquire() as conn:
        row = await queries.fetch_institution(conn, institution_id)
    if row is None:
        raise NotFound("No such institution.")
    return _institution(row)


async def patch_institution(
    pool: asyncpg.Pool, principal: Principal, institution_id: uuid.UUID, body: InstitutionPatch
) -> Institution:
    sent = {
        f.name: getattr(body, f.name)
        for f in msgspec.structs.fields(body)
        if getattr(body, f.name) is not msgspec.UNSET
    }
    async with pool.acquire() as conn, conn.transaction():
        row = await queries.lock_institution(conn, institution_id)
        if row is None:
            raise NotFound("No such institution.")
        if not principal.manages(institution_id):
            raise Forbidden("Only this institution's managers or an administrator may edit it.")
        if not principal.is_admin:
            for name in _ADMIN_ONLY_INSTITUTION_FIELDS:
                if name in sent:
                    raise invalid(name, "only an administrator may change this field")
        current = {name: row[name] for name in queries.INSTITUTION_COLUMNS}
        current.update(sent)
        values = InstitutionValues(**current)
        _validate_institution(values)
        return _institution(await queries.update_institution(conn, institution_id, values))


# --- rooms --------------------------------------------------------------------------------------


def _float(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def _decimal(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _fee(record: asyncpg.Record) -> Fee | None:
    krw = record["fee_krw"]
    base = record["fee_base_hours"]
    unit = record["overtime_unit_hours"]
    overtime = record["overtime_fee_krw"]
    if krw is None and base is None and unit is None and overtime is None:
        return None
    if krw == 0:
        return Fee(free=True)
    return Fee(
        free=False,
        krw=krw,
        base_hours=_float(base),
        overtime_unit_hours=_float(unit),
        overtime_krw=overtime,
    )


def room_from_record(record: asyncpg.Record) -> Room:
    keys = record.keys()
    distance = record["distance_km"] if "distance_km" in keys else None
    return Room(
        id=record["id"],
        institution_id=record["institution_id"],
        institution_name=record["institution_name"],
        region=record["region"],
        district=record["district"],
        address=record["address"],
        latitude=record["latitude"],
        longitude=record["longitude"],
        timezone=record["timezone"],
        name=record["name"],
        name_en=record["name_en"],
        kind=record["kind"],
        capacity=record["capacity"],
        area_m2=_float(record["area_m2"]),
        floor=record["floor"],
        amenities=list(record["amenities"]),
        accessibility=list(record["accessibility"]),
        fee=_fee(record),
        photos=list(record["photos"]),
        policy=Policy(
            slot_minutes=record["slot_minutes"],
            min_minutes=record["min_minutes"],
            max_minutes=record["max_minutes"],
            lead_minutes=record["lead_minutes"],
            horizon_days=record["horizon_days"],
            requires_approval=record["requires_approval"],
            max_active_per_citizen=record["max_active_per_citizen"],
        ),
        closed_on_holidays=record["closed_on_holidays"],
        active=record["active"],
        note=record["note"],
        created_at=record["created_at"],
        updated_at=record["updated_at"],
        distance_km=None if distance is None else round(float(distance), 3),
    )


def _validate_policy(policy: Policy, prefix: str = "policy") -> None:
    if 1440 % policy.slot_minutes != 0:
        raise invalid(f"{prefix}.slot_minutes", "must divide a day (1440 minutes) evenly")
    if policy.max_minutes < policy.min_minutes:
        raise invalid(f"{prefix}.max_minutes", "must be at least min_minutes")


def _fee_columns(fee: Fee | None) -> tuple[int | None, Decimal | None, Decimal | None, int | None]:
    if fee is None:
        return None, None, None, None
    if fee.free:
        if fee.krw:
            raise invalid("fee.krw", "a free room has no fee; send free: false with krw")
        return 0, None, None, None
    if fee.krw is None or fee.krw <= 0:
        raise invalid("fee.krw", "a paid room needs a positive fee in KRW")
    if (fee.overtime_krw is None) != (fee.overtime_unit_hours is None):
        raise invalid("fee.overtime_krw", "overtime_krw and overtime_unit_hours go together")
    return (
        fee.krw,
        _decimal(fee.base_hours if fee.base_hours is not None else 1.0),
        _decimal(fee.overtime_unit_hours),
        fee.overtime_krw,
    )


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


async def _visible_room(
    conn: Conn, principal: Principal | None, room_id: uuid.UUID
) -> asyncpg.Record:
    """The room, if the caller may see it: everyone sees active rooms, managers their own."""
    row = await queries.fetch_room(conn, room_id)
    if row is None or not (
        row["active"] or (principal and principal.manages(row["institution_id"]))
    ):
        raise NotFound("No such room.")
    return row


async def _managed_room(
    conn: Conn, principal: Principal, room_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record:
    """The room, if the caller manages it: 404 if they may not see it, 403 if only see it."""
    row = await (queries.lock_room if lock else queries.fetch_room)(conn, room_id)
    if row is None:
        raise NotFound("No such room.")
    if not principal.manages(row["institution_id"]):
        if not row["active"]:
            raise NotFound("No such room.")
        raise Forbidden("Only this room's managers or an administrator may do this.")
    return row


async def create_room(
    pool: asyncpg.Pool, principal: Principal, institution_id: uuid.UUID, body: RoomCreate
) -> Room:
    if body.fee is not None and not principal.is_admin:
        raise invalid("fee", "only an administrator may set a room's fee")
    _validate_policy(body.policy)
    fee_krw, base, unit, overtime = _fee_columns(body.fee)
    values = RoomValues(
        name=body.name.strip(),
        name_en=body.name_en,
        kind=body.kind,
        capacity=body.capacity,
        area_m2=_decimal(body.area_m2),
        floor=body.floor,
        amenities=_unique(list(body.amenities)),
        accessibility=_unique(list(body.accessibility)),
        photos=list(body.photos),
        fee_krw=fee_krw,
        fee_base_hours=base,
        overtime_unit_hours=unit,
        overtime_fee_krw=overtime,
        slot_minutes=body.policy.slot_minutes,
        min_minutes=body.policy.min_minutes,
        max_minutes=body.policy.max_minutes,
        lead_minutes=body.policy.lead_minutes,
        horizon_days=body.policy.horizon_days,
        requires_approval=body.policy.requires_approval,
        max_active_per_citizen=body.policy.max_active_per_citizen,
        closed_on_holidays=body.closed_on_holidays,
        active=True,
        note=body.note,
    )
    async with pool.acquire() as conn, conn.transaction():
        if await queries.fetch_institution(conn, institution_id) is None:
            raise NotFound("No such institution.")
        if not principal.manages(institution_id):
            raise Forbidden("Only this institution's managers or an administrator may add rooms.")
        room_id = await queries.insert_room(conn, institution_id, values)
        row = await queries.fetch_room(conn, room_id)
    assert row is not None
    return room_from_record(row)


async def get_room(pool: asyncpg.Pool, principal: Principal | None, room_id: uuid.UUID) -> Room:
    async with pool.acquire() as conn:
        return room_from_record(await _visible_room(conn, principal, room_id))


async def patch_room(
    pool: asyncpg.Pool, principal: Principal, room_id: uuid.UUID, body: RoomPatch
) -> Room:
    async with pool.acquire() as conn, conn.transaction():
        row = await _managed_room(conn, principal, room_id, lock=True)
        if not isinstance(body.fee, msgspec.UnsetType) and not principal.is_admin:
            raise invalid("fee", "only an administrator may change a room's fee")
        values = RoomValues(**{name: row[name] for name in queries.ROOM_COLUMNS})
        values.amenities = list(values.amenities)
        values.accessibility = list(values.accessibility)
        values.photos = list(values.photos)
        for f in msgspec.structs.fields(body):
            value = getattr(body, f.name)
            if value is msgspec.UNSET or f.name in ("policy", "fee"):
                continue
            if f.name == "area_m2":
                value = _decimal(value)
            elif f.name in ("amenities", "accessibility"):
                value = _unique(list(value))
            elif f.name == "name":
                value = value.strip()
            setattr(values, f.name, value)
        if not isinstance(body.fee, msgspec.UnsetType):
            (
                values.fee_krw,
                values.fee_base_hours,
                values.overtime_unit_hours,
                values.overtime_fee_krw,
            ) = _fee_columns(body.fee)
        if not isinstance(body.policy, msgspec.UnsetType):
            for f in msgspec.structs.fields(body.policy):
                value = getattr(body.policy, f.name)
                if value is not msgspec.UNSET:
                    setattr(values, f.name, value)
        _validate_policy(
            Policy(
                slot_minutes=values.slot_minutes,
                min_minutes=values.min_minutes,
                max_minutes=values.max_minutes,
            )
        )
        await queries.update_room(conn, room_id, values)
        updated = await queries.fetch_room(conn, room_id)
    assert updated is not None
    return room_from_record(updated)


# --- weekly windows -----------------------------------------------------------------------------

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_DAY_NUMBER = {name: n for n, name in enumerate(WEEKDAYS, start=1)}


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def merge_windows(rules: list[RuleValues]) -> list[RuleValues]:
    """Merge windows that overlap or touch on the same day (and validity), then group days
    with identical hours back into one rule. A merge that would exceed a day is not made."""
    spans: dict[tuple[int, date | None, date | None], list[tuple[int, int]]] = {}
    for rule in rules:
        start = _minutes(rule.start)
        end = _minutes(rule.end)
        if end <= start:
            end += 1440
        for day in rule.days:
            spans.setdefault((day, rule.valid_from, rule.valid_until), []).append((start, end))
    grouped: dict[tuple[int, int, date | None, date | None], set[int]] = {}
    for (day, valid_from, valid_until), intervals in spans.items():
        merged: list[tuple[int, int]] = []
        for start, end in sorted(intervals):
            if (
                merged
                and start <= merged[-1][1]
                and max(end, merged[-1][1]) - merged[-1][0] <= 1440
            ):
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        for start, end in merged:
            grouped.setdefault((start, end, valid_from, valid_until), set()).add(day)
    out = [
        RuleValues(
            days=tuple(sorted(days)),
            start=_clock(start),
            end="24:00" if end == 1440 else _clock(end % 1440),
            valid_from=valid_from,
            valid_until=valid_until,
        )
        for (start, end, valid_from, valid_until), days in grouped.items()
    ]
    return sorted(
        out, key=lambda r: (r.start, r.end, r.days, str(r.valid_from), str(r.valid_until))
    )


def _window(rule: RuleValues) -> WeeklyWindow:
    return WeeklyWindow(
        days=[WEEKDAYS[d - 1] for d in rule.days],
        start=rule.start,
        end=rule.end,
        valid_from=rule.valid_from,
        valid_until=rule.valid_until,
    )


def _validate_windows(windows: list[WeeklyWindowIn]) -> list[RuleValues]:
    rules: list[RuleValues] = []
    for n, window in enumerate(windows):
        if not window.days:
            raise invalid(f"[{n}].days", "name at least one day")
        unknown = [d for d in window.days if d not in _DAY_NUMBER]
        if unknown:
            raise invalid(
                f"[{n}].days", f"unknown day {unknown[0]!r}; one of: {', '.join(WEEKDAYS)}"
            )
        if not _CLOCK.match(window.start):
            raise invalid(f"[{n}].start", "expected HH:MM between 00:00 and 23:59")
        if not (_CLOCK.match(window.end) or window.end == "24:00"):
            raise invalid(f"[{n}].end", "expected HH:MM between 00:00 and 24:00")
        if window.start == window.end:
            raise invalid(f"[{n}].end", "a window cannot end when it starts")
        if (
            window.valid_from is not None
            and window.valid_until is not None
            and window.valid_until < window.valid_from
        ):
            raise invalid(f"[{n}].valid_until", "must not be before valid_from")
        rules.append(
            RuleValues(
                days=tuple(sorted({_DAY_NUMBER[d] for d in window.days})),
                start=window.start,
                end=window.end,
                valid_from=window.valid_from,
                valid_until=window.valid_until,
            )
        )
    return merge_windows(rules)


async def replace_rules(
    pool: asyncpg.Pool, principal: Principal, room_id: uuid.UUID, windows: list[WeeklyWindowIn]
) -> list[WeeklyWindow]:
    rules = _validate_windows(windows)
    async with pool.acquire() as conn, conn.transaction():
        await _managed_room(conn, principal, room_id, lock=True)
        await queries.replace_rules(conn, room_id, rules)
        stored = await queries.fetch_rules(conn, room_id)
    return [_window(r) for r in stored]


async def get_rules(
    pool: asyncpg.Pool, principal: Principal | None, room_id: uuid.UUID
) -> list[WeeklyWindow]:
    async with pool.acquire() as conn:
        await _visible_room(conn, principal, room_id)
        return [_window(r) for r in await queries.fetch_rules(conn, room_id)]


# --- closures -----------------------------------------------------------------------------------


def _closure(record: asyncpg.Record, tz: ZoneInfo) -> Closure:
    start: datetime = record["start"]
    end: datetime = record["end"]
    return Closure(
        id=record["id"],
        room_id=record["room_id"],
        start=start.astimezone(tz),
        end=end.astimezone(tz),
        reason=record["reason"],
    )


async def create_closure(
    pool: asyncpg.Pool, principal: Principal, room_id: uuid.UUID, body: ClosureCreate
) -> Closure:
    if body.end <= body.start:
        raise invalid("end", "must be after start")
    async with pool.acquire() as conn, conn.transaction():
        room = await _managed_room(conn, principal, room_id)
        row = await queries.insert_closure(
            conn, room_id, body.start, body.end, body.reason, principal.id
        )
    return _closure(row, ZoneInfo(room["timezone"]))


async def list_closures(
    pool: asyncpg.Pool, principal: Principal, room_id: uuid.UUID
) -> list[Closure]:
    async with pool.acquire() as conn:
        room = await _managed_room(conn, principal, room_id)
        rows = await queries.fetch_closures(conn, room_id)
    tz = ZoneInfo(room["timezone"])
    return [_closure(r, tz) for r in rows]


async def delete_closure(
    pool: asyncpg.Pool, principal: Principal, room_id: uuid.UUID, closure_id: uuid.UUID
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await _managed_room(conn, principal, room_id)
        if not await queries.delete_closure(conn, room_id, closure_id):
            raise NotFound("No such closure on this room.")


# --- search -------------------------------------------------------------------------------------


async def search_rooms(pool: asyncpg.Pool, search: RoomSearch, cursor: str | None) -> RoomPage:
    if cursor:
        if search.near is not None:
            distance, ident = decode_cursor(cursor, "d", 2)
            if not isinstance(distance, (int, float)):
                raise invalid("cursor", "not a cursor returned by this endpoint")
            search.after_distance = (float(distance), _uuid(ident))
        else:
            iname, rname, ident = decode_cursor(cursor, "n", 3)
            search.after_name = (str(iname), str(rname), _uuid(ident))
    async with pool.acquire() as conn:
        rows = await queries.search_rooms(conn, search)
    page = rows[: search.limit]
    next_cursor = None
    if len(rows) > search.limit:
        last = page[-1]
        next_cursor = encode_cursor(
            ["d", last["distance_km"], str(last["id"])]
            if search.near is not None
            else ["n", last["institution_name"], last["name"], str(last["id"])]
        )
    return RoomPage(items=[room_from_record(r) for r in page], next_cursor=next_cursor)
