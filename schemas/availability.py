"""HTTP shapes of free time."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

__all__ = ("FreeInterval", "RoomAvailability")


class FreeInterval(msgspec.Struct, kw_only=True):
    start: datetime
    end: datetime


class RoomAvailability(msgspec.Struct, kw_only=True, rename={"from_": "from"}):
    """Free intervals of a room in ``[from, to)``, clipped to its booking horizon and lead
    time; every time carries the institution's local offset."""

    room_id: uuid.UUID
    from_: datetime
    to: datetime
    timezone: str
    free: list[FreeInterval]
