"""The one conversion from an absolute time to an institution's local wall clock.

Answers give every instant in the institution's offset (RFC 3339); requests may use any offset;
the database stores and computes in UTC (``timestamptz``, sessions ``SET TIME ZONE 'UTC'``).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

__all__ = ("SUPPORTED_ZONES", "to_local", "zone")

# Names that are not one IANA zone read the same way everywhere: `posix/*` and `right/*` are
# copies (`right/*` counts leap seconds, which Postgres does not), `localtime` is whatever the
# host is set to, `posixrules` and `Factory` are tzcode internals.
_HOST_SPECIFIC = ("posix/", "right/")
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})

SUPPORTED_ZONES: frozenset[str] = frozenset(
    name
    for name in available_timezones()
    if not name.startswith(_HOST_SPECIFIC) and name not in _NOT_ZONES
)
"""The IANA zones an institution may use: those Python and Postgres interpret identically."""


@lru_cache(maxsize=256)
def zone(timezone: str) -> ZoneInfo:
    """The ZoneInfo of an IANA name (validated when the institution was saved)."""
    return ZoneInfo(timezone)


def to_local(moment: datetime, timezone: str) -> datetime:
    """``moment`` in the institution's local offset (the same instant)."""
    return moment.astimezone(zone(timezone))
