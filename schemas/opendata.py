"""Open data out (``/open/v1/…``): public, without personal data, in documented columns."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import msgspec

__all__ = (
    "STANDARD_COLUMNS",
    "DistrictAvailability",
    "FreeSlot",
    "OpenRoom",
    "RoomAvailabilityDay",
    "RoomUsage",
    "UsageMonth",
)


class OpenRoom(msgspec.Struct, kw_only=True, rename={
    "room_name": "개방시설명",
    "place": "개방장소명",
    "kind": "개방시설유형구분",
    "closed_days": "휴관일",
    "weekday_open": "평일운영시작시각",
    "weekday_close": "평일운영종료시각",
    "weekend_open": "주말운영시작시각",
    "weekend_close": "주말운영종료시각",
    "paid": "유료사용여부",
    "base_hours": "사용기준시간",
    "fee": "사용료",
    "overtime_unit_hours": "초과사용단위시간",
    "overtime_fee": "초과사용료",
    "capacity": "수용가능인원수",
    "area": "면적",
    "equipment": "부대시설정보",
    "how_to_apply": "신청방법구분",
    "photo": "시설사진정보",
    "road_address": "소재지도로명주소",
    "lot_address": "소재지지번주소",
    "manager": "관리기관명",
    "department": "담당부서명",
    "phone": "사용안내전화번호",
    "homepage": "홈페이지주소",
    "latitude": "위도",
    "longitude": "경도",
    "as_of": "데이터기준일자",
    "provider_code": "제공기관코드",
    "provider": "제공기관명",
}):  # fmt: skip
    """One room in the columns of the national standard dataset (전국공공시설개방정보표준데이터),
    in its column order, so a publisher can import its own rows back. Every value is text, as in
    the standard's CSV; an unknown value is empty."""

    room_name: str
    """개방시설명: the room's name."""
    place: str
    """개방장소명: the building (Nanum's institution)."""
    kind: str
    """개방시설유형구분: 회의실, 강의실, 다목적실, 강당, 체육관, 운동장, 코트, 기타."""
    closed_days: str
    """휴관일: weekdays without opening hours joined with +, and 공휴일."""
    weekday_open: str
    """평일운영시작시각: HH:MM (00:00–00:00 = closed)."""
    weekday_close: str
    weekend_open: str
    weekend_close: str
    paid: str
    """유료사용여부: Y or N (empty: not published)."""
    base_hours: str
    fee: str
    """사용료: KRW per base block."""
    overtime_unit_hours: str
    overtime_fee: str
    capacity: str
    """수용가능인원수: empty when not published."""
    area: str
    """면적: m²."""
    equipment: str
    """부대시설정보: amenities and accessibility features in Korean, joined with +."""
    how_to_apply: str
    """신청방법구분: 인터넷 (Nanum)."""
    photo: str
    road_address: str
    lot_address: str
    manager: str
    """관리기관명: the institution."""
    department: str
    phone: str
    """사용안내전화번호: the institution's public number (never a person's)."""
    homepage: str
    latitude: str
    longitude: str
    as_of: str
    """데이터기준일자: YYYY-MM-DD of the room's last change."""
    provider_code: str
    provider: str
    """제공기관명: 시도 and 시군구 of the institution."""


STANDARD_COLUMNS: tuple[str, ...] = tuple(f.encode_name for f in msgspec.structs.fields(OpenRoom))
"""The standard's column names, in order (the CSV header)."""


class RoomUsage(msgspec.Struct, kw_only=True):
    """One room's use in one month (times in the institution's local month)."""

    room_id: uuid.UUID
    room_name: str
    institution_name: str
    region: str
    district: str
    open_hours: float
    """Hours the room was open (weekly windows minus closures and holidays)."""
    booked_hours: float
    """Hours inside the month held by bookings that were not cancelled or rejected (no-shows
    included: the slot was taken)."""
    utilisation: float | None
    """booked_hours / open_hours; null when the room was not open."""
    bookings: int
    """Bookings starting in the month, not cancelled or rejected."""
    cancellations: int
    no_shows: int
    applications_per_slot: float | None = None
    """Lottery demand: applications (withdrawn ones apart) per lottery slot of the room starting
    in the month; null when the room had no lottery slot that month."""


class UsageMonth(msgspec.Struct, kw_only=True):
    month: str
    """YYYY-MM."""
    complete: bool
    """False while the month is not over: the figures are "so far", as of ``as_of``."""
    as_of: datetime
    """When the figures were computed."""
    rooms: list[RoomUsage]


class FreeSlot(msgspec.Struct, kw_only=True):
    start: datetime
    end: datetime


class RoomAvailabilityDay(msgspec.Struct, kw_only=True):
    room_id: uuid.UUID
    room_name: str
    institution_name: str
    kind: str
    capacity: int | None
    free: list[FreeSlot]
    """Free, bookable ranges of the day in the institution's offset."""


class DistrictAvailability(msgspec.Struct, kw_only=True):
    date: date
    region: str
    district: str
    rooms: list[RoomAvailabilityDay]
