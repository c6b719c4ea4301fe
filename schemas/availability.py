"""HTTP shapes of free time."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

__all__ = ("FreeInterval", "PublicClosure", "RoomAvailability")


class FreeInterval(msgspec.Struct, kw_only=True):
    start: datetime
    end: datetime


class PublicClosure(msgspec.Struct, kw_only=True):
    """A closure its managers chose to show to citizens, with its reason."""

    start: datetime
    end: datetime
    reason: str


class RoomAvailability(msgspec.Struct, kw_only=True, rename={"from_": "from"}):
    """Free intervals of a room in ``[from, to)``, clipped to its booking horizon and lead
    time; every time carries the institution's local offset."""

    room_id: uuid.UUID
    from_: datetime
    to: datetime
    timezone: str
    free: list[FreeInterval]
    closures: list[PublicClosure] = msgspec.field(default_factory=list)
    """Closures shown to citizens overlapping ``[from, to)``, with their reasons (not clipped
    to the horizon). Internal closures are not listed: their time is only missing from
    ``free``."""
