"""HTTP shapes of the catalogue: institutions, rooms, weekly windows and closures."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from schemas.common import MULTILINE, AwareDatetime, LocalDatetime, Page, Strict

__all__ = (
    "ACCESSIBILITY",
    "AMENITIES",
    "INSTITUTION_KINDS",
    "MAX_CAPACITY",
    "ROOM_KINDS",
    "SEOUL_DISTRICTS",
    "WEEKDAYS",
    "Accessibility",
    "Amenity",
    "Closure",
    "ClosureCreate",
    "ClosureHit",
    "Fee",
    "Institution",
    "InstitutionCreate",
    "InstitutionKind",
    "InstitutionPage",
    "InstitutionPatch",
    "NameSource",
    "Policy",
    "PolicyPatch",
    "Room",
    "RoomCreate",
    "RoomKind",
    "RoomPage",
    "RoomPatch",
    "Weekday",
    "WeeklyWindow",
    "WeeklyWindowIn",
)

InstitutionKind = Literal["city_hall", "gu_office", "community_center", "library", "other"]
RoomKind = Literal[
    "meeting_room",
    "lecture_room",
    "multipurpose_room",
    "hall",
    "gym",
    "sports_field",
    "court",
    "other",
]
Amenity = Literal[
    "projector",
    "screen",
    "microphone",
    "sound_system",
    "whiteboard",
    "desks",
    "chairs",
    "wifi",
    "air_conditioning",
    "piano",
    "kitchen",
    "mirror",
    "parking",
]
Accessibility = Literal[
    "step_free", "lift", "accessible_toilet", "accessible_parking", "hearing_loop", "braille"
]
NameSource = Literal["given", "romanized"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

INSTITUTION_KINDS: tuple[str, ...] = InstitutionKind.__args__  # type: ignore[attr-defined]
ROOM_KINDS: tuple[str, ...] = RoomKind.__args__  # type: ignore[attr-defined]
AMENITIES: tuple[str, ...] = Amenity.__args__  # type: ignore[attr-defined]
ACCESSIBILITY: tuple[str, ...] = Accessibility.__args__  # type: ignore[attr-defined]
WEEKDAYS: tuple[str, ...] = Weekday.__args__  # type: ignore[attr-defined]

SEOUL_DISTRICTS: tuple[str, ...] = (
    "종로구", "중구", "용산구", "성동구", "광진구", "동대문구", "중랑구", "성북구", "강북구",
    "도봉구", "노원구", "은평구", "서대문구", "마포구", "양천구", "강서구", "구로구", "금천구",
    "영등포구", "동작구", "관악구", "서초구", "강남구", "송파구", "강동구",
)  # fmt: skip
"""The 25 autonomous districts (자치구) of 서울특별시."""

Name = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"\S")]
ShortText = Annotated[str, Meta(max_length=500)]
Notes = Annotated[str, Meta(max_length=500), MULTILINE]
"""Free text of several lines (a room's note, a closure's reason)."""
Latitude = Annotated[float, Meta(ge=-90, le=90)]
Longitude = Annotated[float, Meta(ge=-180, le=180)]
Url = Annotated[str, Meta(max_length=2000, pattern=r"^https?://\S+$")]
TimeZoneName = Annotated[
    str, Meta(min_length=1, max_length=64, description="IANA time zone", examples=["Asia/Seoul"])
]
Krw = Annotated[int, Meta(ge=0, le=100_000_000)]
Hours = Annotated[float, Meta(gt=0, le=24)]


# --- institutions -----------------------------------------------------------------------------


class InstitutionCreate(Strict):
    name: Name
    kind: InstitutionKind
    region: Name
    district: Name
    address: ShortText | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    phone: Annotated[str, Meta(max_length=50)] | None = None
    homepage: Url | None = None
    timezone: TimeZoneName = "Asia/Seoul"
    closed_on_holidays: bool = False


class InstitutionPatch(Strict):
    """Only the fields sent change. ``kind``, ``region``, ``district`` and ``timezone`` are
    admin-only (they place the institution in the public catalogue and fix how its local
    windows map to absolute time); a manager sending them gets 422."""

    name: Name | UnsetType = UNSET
    kind: InstitutionKind | UnsetType = UNSET
    region: Name | UnsetType = UNSET
    district: Name | UnsetType = UNSET
    address: ShortText | UnsetType | None = UNSET
    latitude: Latitude | UnsetType | None = UNSET
    longitude: Longitude | UnsetType | None = UNSET
    phone: Annotated[str, Meta(max_length=50)] | UnsetType | None = UNSET
    homepage: Url | UnsetType | None = UNSET
    timezone: TimeZoneName | UnsetType = UNSET
    closed_on_holidays: bool | UnsetType = UNSET


class Institution(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    name_en: str
    name_en_source: NameSource
    """Institutions have no English name of their own yet: always ``romanized``."""
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
    created_at: LocalDatetime
    updated_at: LocalDatetime


class InstitutionPage(Page):
    items: list[Institution]


# --- rooms --------------------------------------------------------------------------------------


class Fee(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The fee in the shape of the national open-data standard: free, or ``krw`` per block of
    ``base_hours`` with ``overtime_krw`` per further ``overtime_unit_hours``. ``krw`` may be
    null on a paid room whose amount is not published."""

    free: bool
    krw: Krw | None = None
    base_hours: Hours | None = None
    overtime_unit_hours: Hours | None = None
    overtime_krw: Krw | None = None


class Policy(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Booking policy; every field has the default shown."""

    slot_minutes: Annotated[int, Meta(ge=5, le=1440, description="must divide 1440")] = 30
    min_minutes: Annotated[int, Meta(ge=1, le=10080)] = 60
    max_minutes: Annotated[int, Meta(ge=1, le=10080)] = 240
    lead_minutes: Annotated[int, Meta(ge=0, le=525600)] = 60
    horizon_days: Annotated[int, Meta(ge=1, le=730)] = 60
    requires_approval: bool = False
    max_active_per_citizen: Annotated[int, Meta(ge=1, le=100)] = 4


class PolicyPatch(Strict):
    slot_minutes: Annotated[int, Meta(ge=5, le=1440)] | UnsetType = UNSET
    min_minutes: Annotated[int, Meta(ge=1, le=10080)] | UnsetType = UNSET
    max_minutes: Annotated[int, Meta(ge=1, le=10080)] | UnsetType = UNSET
    lead_minutes: Annotated[int, Meta(ge=0, le=525600)] | UnsetType = UNSET
    horizon_days: Annotated[int, Meta(ge=1, le=730)] | UnsetType = UNSET
    requires_approval: bool | UnsetType = UNSET
    max_active_per_citizen: Annotated[int, Meta(ge=1, le=100)] | UnsetType = UNSET


MAX_CAPACITY = 100_000
Capacity = Annotated[int, Meta(ge=1, le=MAX_CAPACITY)]
Area = Annotated[float, Meta(gt=0, le=1_000_000)]


class RoomCreate(Strict):
    """A new room. ``fee`` may only be set by an administrator."""

    name: Name
    capacity: Capacity
    name_en: Annotated[str, Meta(max_length=200)] | None = None
    kind: RoomKind = "meeting_room"
    area_m2: Area | None = None
    floor: Annotated[str, Meta(max_length=20)] | None = None
    amenities: list[Amenity] = msgspec.field(default_factory=list)
    accessibility: list[Accessibility] = msgspec.field(default_factory=list)
    fee: Fee | None = None
    photos: Annotated[list[Url], Meta(max_length=20)] = msgspec.field(default_factory=list)
    policy: Policy = msgspec.field(default_factory=Policy)
    closed_on_holidays: bool = False
    note: Notes | None = None


class RoomPatch(Strict):
    """Only the fields sent change; ``active: false`` deactivates the room. ``fee`` is
    admin-only."""

    name: Name | UnsetType = UNSET
    name_en: Annotated[str, Meta(max_length=200)] | UnsetType | None = UNSET
    kind: RoomKind | UnsetType = UNSET
    capacity: Capacity | UnsetType = UNSET
    area_m2: Area | UnsetType | None = UNSET
    floor: Annotated[str, Meta(max_length=20)] | UnsetType | None = UNSET
    amenities: list[Amenity] | UnsetType = UNSET
    accessibility: list[Accessibility] | UnsetType = UNSET
    fee: Fee | UnsetType = UNSET
    photos: Annotated[list[Url], Meta(max_length=20)] | UnsetType = UNSET
    policy: PolicyPatch | UnsetType = UNSET
    closed_on_holidays: bool | UnsetType = UNSET
    active: bool | UnsetType = UNSET
    note: Notes | UnsetType | None = UNSET


class Room(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    institution_id: uuid.UUID
    institution_name: str
    region: str
    district: str
    address: str | None
    latitude: float | None
    longitude: float | None
    timezone: str
    name: str
    name_en: str
    name_en_source: NameSource
    """``given`` by the institution, or ``romanized`` from the Korean name (Revised
    Romanization) because none was given."""
    kind: str
    capacity: int | None
    """Null when the capacity is not published (imported without one; its managers complete it)."""
    area_m2: float | None
    floor: str | None
    amenities: list[str]
    accessibility: list[str]
    fee: Fee | None
    photos: list[str]
    policy: Policy
    closed_on_holidays: bool
    active: bool
    note: str | None
    created_at: LocalDatetime
    updated_at: LocalDatetime
    distance_km: float | None = None


class RoomPage(Page):
    items: list[Room]


# --- weekly windows and closures ---------------------------------------------------------------


class WeeklyWindowIn(Strict):
    """A weekly window in the institution's local time."""

    days: Annotated[
        list[str],
        Meta(
            description="one or more weekdays: mon, tue, wed, thu, fri, sat, sun",
            examples=[["mon", "wed", "fri"]],
        ),
    ]
    start: Annotated[str, Meta(description="HH:MM local time", examples=["19:00"])]
    end: Annotated[
        str,
        Meta(
            description="HH:MM local time; 24:00 is the end of the day; an end before the start crosses midnight",
            examples=["22:00"],
        ),
    ]
    valid_from: date | None = None
    valid_until: date | None = None


class WeeklyWindow(msgspec.Struct, kw_only=True):
    days: list[str]
    start: str
    end: str
    valid_from: date | None = None
    valid_until: date | None = None


class ClosureCreate(Strict):
    """A closure over slot-holding bookings is refused (409 listing them) unless
    ``cancel_bookings`` is true; then they are cancelled with ``cancellation_reason`` in the
    same transaction, and each citizen is told."""

    start: AwareDatetime
    end: AwareDatetime
    reason: Notes = ""
    reason_public: Annotated[
        bool,
        Meta(
            description="Shown to citizens: the room page and the availability answer give "
            "the reason. False (internal, the default): citizens see only that the time is "
            "not available.",
            examples=[True],
        ),
    ] = False
    cancel_bookings: bool = False
    cancellation_reason: Notes = ""


class ClosureHit(msgspec.Struct, kw_only=True):
    """A booking a closure would cover (in a 409, or cancelled by the closure)."""

    id: uuid.UUID
    status: str
    start: datetime
    end: datetime


class Closure(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    room_id: uuid.UUID
    start: datetime
    end: datetime
    reason: str
    reason_public: bool
    """True: shown to citizens with its reason; false: internal (only "not available")."""
    cancelled_bookings: list[ClosureHit] = msgspec.field(default_factory=list)
    """The bookings this closure cancelled as it was made (``cancel_bookings``); empty in
    listings."""
