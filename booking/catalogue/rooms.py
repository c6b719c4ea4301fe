"""Rooms: publishing and editing them, and who may see or manage one."""

from __future__ import annotations

import uuid
from decimal import Decimal

import asyncpg
import msgspec

from booking.accounts.auth import Principal
from booking.catalogue import queries
from booking.catalogue.queries import RoomRow, RoomValues
from booking.db import Conn
from booking.errors import Forbidden, NotFound, invalid
from booking.localtime import to_local
from booking.romanize import english_name
from schemas.catalogue import Fee, Policy, Room, RoomCreate, RoomPatch

__all__ = (
    "create_room",
    "get_room",
    "managed_room",
    "patch_room",
    "room_answer",
    "rooms_to_complete",
    "visible_room",
)


def _float(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def _decimal(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _fee(row: RoomRow) -> Fee | None:
    krw = row.fee_krw
    base = row.fee_base_hours
    unit = row.overtime_unit_hours
    overtime = row.overtime_fee_krw
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


def room_answer(row: RoomRow) -> Room:
    """The answer: stamps in the institution's own offset."""
    distance = row.distance_km
    name_en, name_en_source = english_name(row.name_en, row.name)
    return Room(
        id=row.id,
        institution_id=row.institution_id,
        institution_name=row.institution_name,
        region=row.region,
        district=row.district,
        address=row.address,
        latitude=row.latitude,
        longitude=row.longitude,
        timezone=row.timezone,
        name=row.name,
        name_en=name_en,
        name_en_source=name_en_source,
        kind=row.kind,
        capacity=row.capacity,
        area_m2=_float(row.area_m2),
        floor=row.floor,
        amenities=list(row.amenities),
        accessibility=list(row.accessibility),
        fee=_fee(row),
        photos=list(row.photos),
        policy=Policy(
            slot_minutes=row.slot_minutes,
            min_minutes=row.min_minutes,
            max_minutes=row.max_minutes,
            lead_minutes=row.lead_minutes,
            horizon_days=row.horizon_days,
            requires_approval=row.requires_approval,
            max_active_per_citizen=row.max_active_per_citizen,
        ),
        closed_on_holidays=row.closed_on_holidays,
        active=row.active,
        note=row.note,
        created_at=to_local(row.created_at, row.timezone),
        updated_at=to_local(row.updated_at, row.timezone),
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


async def visible_room(conn: Conn, principal: Principal | None, room_id: uuid.UUID) -> RoomRow:
    """The room, if the caller may see it: everyone sees active rooms, managers their own."""
    row = await queries.fetch_room(conn, room_id)
    if row is None or not (row.active or (principal and principal.manages(row.institution_id))):
        raise NotFound("No such room.")
    return row


async def managed_room(
    conn: Conn, principal: Principal, room_id: uuid.UUID, *, lock: bool = False
) -> RoomRow:
    """The room, if the caller manages it: 404 if they may not see it, 403 if only see it."""
    row = await (queries.lock_room if lock else queries.fetch_room)(conn, room_id)
    if row is None:
        raise NotFound("No such room.")
    if not principal.manages(row.institution_id):
        if not row.active:
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
    return room_answer(row)


async def rooms_to_complete(
    pool: asyncpg.Pool, principal: Principal, institution_id: uuid.UUID
) -> list[Room]:
    """The institution's rooms without a published capacity, for its managers to complete."""
    async with pool.acquire() as conn:
        if await queries.fetch_institution(conn, institution_id) is None:
            raise NotFound("No such institution.")
        if not principal.manages(institution_id):
            raise Forbidden("Only this institution's managers or an administrator may see this.")
        rows = await queries.rooms_without_capacity(conn, institution_id)
    return [room_answer(r) for r in rows]


async def get_room(pool: asyncpg.Pool, principal: Principal | None, room_id: uuid.UUID) -> Room:
    async with pool.acquire() as conn:
        return room_answer(await visible_room(conn, principal, room_id))


async def patch_room(
    pool: asyncpg.Pool, principal: Principal, room_id: uuid.UUID, body: RoomPatch
) -> Room:
    async with pool.acquire() as conn, conn.transaction():
        row = await managed_room(conn, principal, room_id, lock=True)
        if not isinstance(body.fee, msgspec.UnsetType) and not principal.is_admin:
            raise invalid("fee", "only an administrator may change a room's fee")
        values = RoomValues(**{name: getattr(row, name) for name in queries.ROOM_COLUMNS})
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
    return room_answer(updated)
