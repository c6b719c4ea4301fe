"""Bodies of fair allocation (issue 13): lottery rounds and their public results, waitlists and
offers, allocation policy, strikes and suspension."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from schemas.common import AwareDatetime, Strict

__all__ = (
    "AllocationMode",
    "AllocationPolicy",
    "Application",
    "ApplicationCreate",
    "ForgiveStrike",
    "InstitutionAllocationPolicy",
    "MyStrikes",
    "Offer",
    "PublicValue",
    "Round",
    "RoundCreate",
    "RoundPhase",
    "RoundResult",
    "RoundSlot",
    "RoundUpdate",
    "SlotRange",
    "SlotResult",
    "Strike",
    "WaitlistEntry",
    "WaitlistJoin",
)

AllocationMode = Literal["first_come", "lottery"]
RoundPhase = Literal["draft", "scheduled", "open", "closed", "drawn"]
Cap = Annotated[int, msgspec.Meta(ge=1, le=1000)]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class SlotRange(Strict):
    start: AwareDatetime
    end: AwareDatetime


class RoundCreate(Strict):
    """A draft round of a lottery room: its slots, application period and draw time."""

    title: Title
    opens_at: AwareDatetime
    closes_at: AwareDatetime
    draw_at: AwareDatetime
    slots: Annotated[list[SlotRange], msgspec.Meta(min_length=1, max_length=2000)]
    max_applications_per_citizen: Annotated[int, msgspec.Meta(ge=1, le=100)] = 3
    institution_monthly_win_cap: Cap | None = None
    """At most this many bookings per citizen per month across the institution to win."""
    public_value_required: bool = False
    """The draw waits for a public value (e.g. lottery numbers) entered after the close."""


class RoundUpdate(Strict):
    """Changes to a draft round (a published one is immutable); only fields sent change."""

    title: Title | None = None
    opens_at: AwareDatetime | None = None
    closes_at: AwareDatetime | None = None
    draw_at: AwareDatetime | None = None
    slots: Annotated[list[SlotRange], msgspec.Meta(min_length=1, max_length=2000)] | None = None
    max_applications_per_citizen: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None
    institution_monthly_win_cap: Cap | None = None
    public_value_required: bool | None = None


class PublicValue(Strict):
    value: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class RoundSlot(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    position: int
    start: datetime
    end: datetime
    applications: int


class Round(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A round as anyone sees it; the seed is only shown after the draw (in the result)."""

    id: uuid.UUID
    room_id: uuid.UUID
    title: str
    phase: RoundPhase
    opens_at: datetime
    closes_at: datetime
    draw_at: datetime
    max_applications_per_citizen: int
    institution_monthly_win_cap: int | None = None
    public_value_required: bool
    algorithm: str
    seed_commitment: str | None = None
    """SHA-256 of the seed, hex; public from publication."""
    list_hash: str | None = None
    """SHA-256 of the frozen application list, hex; public from the close."""
    public_value: str | None = None
    published_at: datetime | None = None
    drawn_at: datetime | None = None
    slots: list[RoundSlot]


class ApplicationCreate(Strict):
    slot_id: uuid.UUID


class Application(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: uuid.UUID
    round_id: uuid.UUID
    slot_id: uuid.UUID
    start: datetime
    end: datetime
    pseudonym: str
    """How this application appears in the published list and result."""
    created_at: datetime
    outcome: str | None = None


class SlotResult(msgspec.Struct, kw_only=True):
    position: int
    start: datetime
    end: datetime
    applications: list[str]
    """Pseudonyms of the frozen list for this slot, sorted."""
    ineligible: list[str]
    """Applicants not eligible at the draw (monthly cap reached, suspended)."""
    order: list[str]
    """The draw order."""
    winner: str | None
    waitlist: list[str]
    booked: bool
    """Whether the winner's booking was made (False: the slot was held by someone else)."""


class RoundResult(msgspec.Struct, kw_only=True):
    """Everything needed to recompute the draw (scripts/verify_draw.py); no personal data."""

    round_id: uuid.UUID
    room_id: uuid.UUID
    algorithm: str
    seed_commitment: str
    seed: str | None
    list_hash: str | None
    public_value: str | None
    frozen_at: datetime | None
    drawn_at: datetime | None
    slots: list[SlotResult]


class AllocationPolicy(Strict):
    """A room's allocation mode, monthly cap and late-cancellation window."""

    mode: AllocationMode = "first_come"
    monthly_cap_per_citizen: Cap | None = None
    late_cancel_hours: Annotated[int, msgspec.Meta(ge=0, le=720)] | None = 24
    """Cancelling fewer hours than this before the start counts half a strike (null: never)."""


class InstitutionAllocationPolicy(Strict):
    monthly_cap_per_citizen: Cap | None = None


class WaitlistJoin(Strict):
    room_id: uuid.UUID
    start: AwareDatetime
    end: AwareDatetime


class WaitlistEntry(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: int
    room_id: uuid.UUID
    start: datetime
    end: datetime
    status: str
    position: int | None = None
    """1 = next in line (waiting entries only)."""
    offer_booking_id: uuid.UUID | None = None
    offer_expires_at: datetime | None = None
    round_id: uuid.UUID | None = None


class Offer(msgspec.Struct, kw_only=True):
    booking_id: uuid.UUID
    status: str
    """The booking's status after the answer: confirmed, pending (approval rooms) or cancelled."""


class Strike(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: uuid.UUID
    kind: str
    weight: float
    at: datetime
    expires_at: datetime
    institution_id: uuid.UUID
    booking_id: uuid.UUID | None = None
    forgiven_at: datetime | None = None
    forgiven_reason: str | None = None


class MyStrikes(msgspec.Struct, kw_only=True, omit_defaults=True):
    active_weight: float
    """Unforgiven strikes of the last 90 days; 3 suspend booking for 30 days."""
    suspended_until: datetime | None = None
    strikes: list[Strike]


class ForgiveStrike(Strict):
    reason: Reason
