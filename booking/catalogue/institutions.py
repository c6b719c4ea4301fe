"""Institutions: who may create and edit them, validated before any write."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
import msgspec

from booking.accounts.auth import Principal
from booking.catalogue import queries
from booking.catalogue.queries import InstitutionRow, InstitutionValues
from booking.catalogue.regions import KOREA_TIMEZONE, districts_of, validate_place
from booking.errors import Forbidden, NotFound, invalid
from booking.http import cursor_uuid, decode_cursor, encode_cursor
from booking.localtime import SUPPORTED_ZONES, to_local
from booking.romanize import english_name
from schemas.catalogue import (
    Institution,
    InstitutionCreate,
    InstitutionPage,
    InstitutionPatch,
)

__all__ = (
    "SEOUL",
    "create_institution",
    "get_institution",
    "list_institutions",
    "parse_timezone",
    "patch_institution",
    "validate_district",
)

SEOUL = "서울특별시"
_ADMIN_ONLY_INSTITUTION_FIELDS = ("kind", "region", "district", "timezone")


def parse_timezone(name: str, field: str = "timezone") -> ZoneInfo:
    if name not in SUPPORTED_ZONES:
        raise invalid(field, f"unknown IANA time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise invalid(field, f"unknown IANA time zone {name!r}") from None


def validate_district(region: str, district: str, timezone: str = KOREA_TIMEZONE) -> None:
    """The region must be one of Korea's 17 and the district one of its own (data/regions/);
    an institution outside Korea (another timezone) names its own region and district."""
    problem = validate_place(region, district, timezone)
    if problem is not None:
        raise invalid("district" if districts_of(region) is not None else "region", problem)


def _validate_coordinates(latitude: float | None, longitude: float | None) -> None:
    if (latitude is None) != (longitude is None):
        raise invalid(
            "latitude" if latitude is None else "longitude",
            "latitude and longitude go together: send both or neither",
        )


def _institution(row: InstitutionRow) -> Institution:
    """The answer: stamps in the institution's own offset."""
    name_en, name_en_source = english_name(None, row.name)
    return Institution(
        id=row.id,
        name=row.name,
        name_en=name_en,
        name_en_source=name_en_source,
        kind=row.kind,
        region=row.region,
        district=row.district,
        address=row.address,
        latitude=row.latitude,
        longitude=row.longitude,
        phone=row.phone,
        homepage=row.homepage,
        timezone=row.timezone,
        closed_on_holidays=row.closed_on_holidays,
        created_at=to_local(row.created_at, row.timezone),
        updated_at=to_local(row.updated_at, row.timezone),
    )


def _validate_institution(values: InstitutionValues) -> None:
    parse_timezone(values.timezone)
    validate_district(values.region, values.district, values.timezone)
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
        after = (str(name), cursor_uuid(ident))
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
        current = {name: getattr(row, name) for name in queries.INSTITUTION_COLUMNS}
        current.update(sent)
        values = InstitutionValues(**current)
        _validate_institution(values)
        return _institution(await queries.update_institution(conn, institution_id, values))
