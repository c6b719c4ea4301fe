"""Open data out: the rooms in the national standard's columns, monthly usage from the table the
usage job fills, and a district's free slots of a day. Answers are public and cacheable; they
never carry a citizen's name, e-mail, purpose or booking id."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from booking.catalogue.regions import districts_of, official_region, region_names
from booking.errors import NotFound, invalid
from booking.localtime import to_local
from booking.opendata import queries
from booking.opendata.queries import ExportRoom
from booking.spreadsheet import utf8_with_bom
from schemas.opendata import (
    STANDARD_COLUMNS,
    DistrictAvailability,
    FreeSlot,
    OpenRoom,
    RoomAvailabilityDay,
    RoomUsage,
    UsageMonth,
)

__all__ = (
    "LICENSE_URL",
    "CachedAnswer",
    "district_availability",
    "open_rooms",
    "parse_month",
    "refresh_usage",
    "rooms_csv",
    "usage_month",
)

LICENSE_URL = "https://www.kogl.or.kr/info/licenseType1.do"
"""공공누리 제1유형 (Korea Open Government License, type 1: attribution)."""
_SEOUL = ZoneInfo("Asia/Seoul")
_KIND_NAMES = {
    "meeting_room": "회의실",
    "lecture_room": "강의실",
    "multipurpose_room": "다목적실",
    "hall": "강당",
    "gym": "체육관",
    "sports_field": "운동장",
    "court": "코트",
    "other": "기타",
}
_AMENITY_NAMES = {
    "projector": "빔프로젝터",
    "screen": "스크린",
    "microphone": "마이크",
    "sound_system": "음향시설",
    "whiteboard": "화이트보드",
    "desks": "책상",
    "chairs": "의자",
    "wifi": "와이파이",
    "air_conditioning": "냉난방기",
    "piano": "피아노",
    "kitchen": "주방",
    "mirror": "거울",
    "parking": "주차장",
}
# Each is read back by the importer as the same feature (booking/catalogue/importer.py).
_ACCESSIBILITY_NAMES = {
    "step_free": "무장애출입구",
    "lift": "엘리베이터",
    "accessible_toilet": "장애인화장실",
    "accessible_parking": "장애인전용주차",
    "hearing_loop": "히어링루프",
    "braille": "점자안내",
}
_WEEKDAY_NAMES = {1: "월", 2: "화", 3: "수", 4: "목", 5: "금", 6: "토", 7: "일"}
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A public answer: its bytes, media type and strong ETag."""

    body: bytes
    media_type: str

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'


def _text(value: Decimal | float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def _open_room(room: ExportRoom) -> OpenRoom:
    closed = [_WEEKDAY_NAMES[d] for d in range(1, 8) if d not in room.open_days]
    if room.closed_on_holidays:
        closed.append("공휴일")
    weekday = room.weekday_hours or ("00:00", "00:00")
    weekend = room.weekend_hours or ("00:00", "00:00")
    paid = "" if room.fee_krw is None else ("N" if room.fee_krw == 0 else "Y")
    equipment = [_AMENITY_NAMES[a] for a in room.amenities if a in _AMENITY_NAMES] + [
        _ACCESSIBILITY_NAMES[a] for a in room.accessibility if a in _ACCESSIBILITY_NAMES
    ]
    return OpenRoom(
        room_name=room.name,
        place=room.institution_name,
        kind=_KIND_NAMES.get(room.kind, "기타"),
        closed_days="+".join(closed),
        weekday_open=weekday[0],
        weekday_close=weekday[1],
        weekend_open=weekend[0],
        weekend_close=weekend[1],
        paid=paid,
        base_hours=_text(room.fee_base_hours) if paid == "Y" else "",
        fee=_text(room.fee_krw),
        overtime_unit_hours=_text(room.overtime_unit_hours) if paid == "Y" else "",
        overtime_fee=_text(room.overtime_fee_krw) if paid == "Y" else "",
        capacity=_text(room.capacity),
        area=_text(room.area_m2),
        equipment="+".join(equipment),
        how_to_apply="인터넷",
        photo=room.photos[0] if room.photos else "",
        road_address=room.address or "",
        lot_address="",
        manager=room.institution_name,
        department="",
        phone=room.phone or "",
        homepage=room.homepage or "",
        latitude=_text(room.latitude),
        longitude=_text(room.longitude),
        as_of=to_local(room.updated_at, room.timezone).date().isoformat(),
        provider_code="",
        provider=f"{room.region} {room.district}",
    )


def _place(region: str | None, district: str | None) -> tuple[str | None, str | None]:
    if region is not None:
        official = official_region(region)
        if official is None:
            raise invalid("region", f"not a region of Korea; valid: {', '.join(region_names())}")
        region = official
    if district is not None:
        if region is None:
            raise invalid("region", "needed with district (중구, 서구… exist in several regions)")
        known = districts_of(region) or ()
        if district not in known:
            raise invalid("district", f"not a district of {region}; valid: {', '.join(known)}")
    return region, district


async def open_rooms(
    pool: asyncpg.Pool, region: str | None, district: str | None
) -> list[OpenRoom]:
    region, district = _place(region, district)
    async with pool.acquire() as conn:
        rows = await queries.export_rooms(conn, region, district)
    return [_open_room(r) for r in rows]


def rooms_csv(rooms: list[OpenRoom]) -> bytes:
    """The rooms as CSV in UTF-8 (with a BOM, so spreadsheet programs read the Korean)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(STANDARD_COLUMNS)
    for room in rooms:
        writer.writerow(msgspec.structs.astuple(room))
    return utf8_with_bom(out.getvalue())


def parse_month(text: str | None, now: datetime) -> date:
    """The first day of ``YYYY-MM``; 422 if malformed or not begun yet (in Korea)."""
    match = _MONTH.match(text or "")
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise invalid("month", "expected YYYY-MM, e.g. 2026-10")
    month = date(int(match.group(1)), int(match.group(2)), 1)
    if month > now.astimezone(_SEOUL).date().replace(day=1):
        raise invalid("month", "this month has not begun")
    return month


def _hours(value: Decimal) -> float:
    return float(round(value, 2))


async def usage_month(pool: asyncpg.Pool, month: date) -> UsageMonth:
    async with pool.acquire() as conn:
        rows = await queries.usage_of_month(conn, month)
    if not rows:
        raise NotFound(
            "No figures for this month yet: the usage job computes the current and the "
            "previous month every hour."
        )
    return UsageMonth(
        month=f"{month:%Y-%m}",
        complete=all(r.complete for r in rows),
        as_of=to_local(min(r.computed_at for r in rows), "Asia/Seoul"),
        rooms=[
            RoomUsage(
                room_id=r.room_id,
                room_name=r.room_name,
                institution_name=r.institution_name,
                region=r.region,
                district=r.district,
                open_hours=_hours(r.open_hours),
                booked_hours=_hours(r.booked_hours),
                utilisation=(
                    round(float(r.booked_hours / r.open_hours), 4) if r.open_hours > 0 else None
                ),
                bookings=r.bookings,
                cancellations=r.cancellations,
                no_shows=r.no_shows,
                applications_per_slot=(
                    round(r.lottery_applications / r.lottery_slots, 2) if r.lottery_slots else None
                ),
            )
            for r in rows
        ],
    )


def _months_to_refresh(now: datetime) -> list[date]:
    """The previous and the current month (in Korea; a month late elsewhere is still done)."""
    this_month = now.astimezone(_SEOUL).date().replace(day=1)
    previous = (this_month - timedelta(days=1)).replace(day=1)
    return [previous, this_month]


async def refresh_usage(
    pool: asyncpg.Pool, now: datetime | None = None, months: list[date] | None = None
) -> int:
    """Compute the usage table for ``months`` (default: previous and current); rows written."""
    now = now or datetime.now(UTC)
    written = 0
    async with pool.acquire() as conn:
        for month in months or _months_to_refresh(now):
            async with conn.transaction():
                written += await queries.refresh_usage(conn, month, now)
    return written


async def district_availability(
    pool: asyncpg.Pool, day: date, region: str | None, district: str
) -> DistrictAvailability:
    official, _ = _place(region or "서울특별시", district)
    assert official is not None
    async with pool.acquire() as conn:
        rows = await queries.district_free_slots(conn, official, district, day)
    return DistrictAvailability(
        date=day,
        region=official,
        district=district,
        rooms=[
            RoomAvailabilityDay(
                room_id=r.room_id,
                room_name=r.room_name,
                institution_name=r.institution_name,
                kind=r.kind,
                capacity=r.capacity,
                free=[
                    FreeSlot(start=to_local(f.lower, r.timezone), end=to_local(f.upper, r.timezone))
                    for f in r.free
                    if f.lower is not None and f.upper is not None
                ],
            )
            for r in rows
        ],
    )
