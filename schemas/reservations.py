"""Bodies of the booking endpoints (``/v1/bookings`` and the booking lists)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from schemas.common import MULTILINE, AwareDatetime, Page, Strict

__all__ = (
    "Alternative",
    "Booking",
    "BookingCancel",
    "BookingConflict",
    "BookingCreate",
    "BookingPage",
    "BookingReject",
    "BookingReschedule",
    "BookingStatus",
    "FeeItem",
    "Interval",
    "Quote",
)

BookingStatus = Literal[
    "pending", "confirmed", "rejected", "cancelled", "checked_in", "no_show", "completed", "offered"
]
Purpose = Annotated[
    str,
    msgspec.Meta(max_length=500, description="What the room is for (at most 500 characters)"),
    MULTILINE,
]
Reason = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=500, description="Why (at most 500 characters)"),
    MULTILINE,
]


class BookingCreate(Strict):
    """A request for ``[start, end)`` of one room."""

    room_id: uuid.UUID
    start: AwareDatetime
    end: AwareDatetime
    attendees: Annotated[int, msgspec.Meta(ge=1, le=100_000, description="People attending")]
    purpose: Purpose = ""
    purpose_public: bool = False
    """Whether the purpose may appear in the room's public calendar."""


class BookingReschedule(Strict):
    """The new ``[start, end)`` of a booking, in the same room."""

    start: AwareDatetime
    end: AwareDatetime


class BookingCancel(Strict):
    """Managers must give a reason; the owner may."""

    reason: Reason | None = None


class BookingReject(Strict):
    reason: Reason


class FeeItem(msgspec.Struct, kw_only=True):
    """One line of a quote: ``count`` blocks (``item: "block"``) or overtime units
    (``"overtime"``) of ``hours`` each at ``unit_krw``, ``krw`` in all."""

    item: Literal["block", "overtime"]
    count: int
    hours: float
    unit_krw: int
    krw: int


class Quote(msgspec.Struct, kw_only=True):
    """What the citizen will owe for the booking (no payment is taken yet), computed by
    ``sql/functions/booking_fee.sql`` from the room's fee: free rooms quote 0; ``amount`` is null
    when the room's fee is not published."""

    amount: int | None
    currency: Literal["KRW"] = "KRW"
    breakdown: list[FeeItem] = msgspec.field(default_factory=list)


class Booking(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A booking as its owner or the room's managers see it. Times are RFC 3339 in the
    institution's local offset."""

    id: uuid.UUID
    status: BookingStatus
    room_id: uuid.UUID
    start: datetime
    end: datetime
    purpose: str
    purpose_public: bool
    attendees: int
    sequence: int
    """iCalendar SEQUENCE: grows on every change of time or status."""
    created_at: datetime
    updated_at: datetime
    fee: Quote | None = None
    """The price quote at the room's current fee (absent only in answers stored before quotes
    existed and replayed for their Idempotency-Key)."""
    citizen_name: str | None = None
    """Only for the room's managers (and admins)."""


class BookingPage(Page):
    items: list[Booking]


class Interval(msgspec.Struct, kw_only=True):
    start: datetime
    end: datetime


class Alternative(Interval, kw_only=True):
    """A free range of the same length in the same room, with its price quote."""

    fee: Quote


class BookingConflict(msgspec.Struct, kw_only=True):
    """A 409 problem+json of a booking operation (documentation shape): a taken slot carries
    ``conflicts`` and ``alternatives``; an illegal transition ``current_status``."""

    type: str
    title: str
    status: int
    detail: str
    conflicts: list[Interval] = []
    """The slot-holding ranges that overlap the request (never who holds them), on slot-taken."""
    alternatives: list[Alternative] = []
    """Up to three nearest free ranges of the same length in the same room, each with its quote,
    on slot-taken."""
    fee: Quote | None = None
    """The quote of the requested range, on slot-taken."""
    current_status: str | None = None
    """The booking's status, on illegal-transition."""
    instance: str | None = None
