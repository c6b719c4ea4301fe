"""The one conversion from an absolute time to an institution's local wall clock.

Answers give every instant in the institution's offset (RFC 3339); requests may use any offset;
the database stores and computes in UTC (``timestamptz``, sessions ``SET TIME ZONE 'UTC'``).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = ("to_local", "zone")


@lru_cache(maxsize=256)
def zone(timezone: str) -> ZoneInfo:
    """The ZoneInfo of an IANA name (validated when the institution was saved)."""
    return ZoneInfo(timezone)


def to_local(moment: datetime, timezone: str) -> datetime:
    """``moment`` in the institution's local offset (the same instant)."""
    return moment.astimezone(zone(timezone))
