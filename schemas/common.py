"""Shapes shared by every feature: problem details, pagination, health."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec

__all__ = (
    "INSTANT_MAX",
    "INSTANT_MIN",
    "MULTILINE",
    "AwareDatetime",
    "FieldError",
    "Health",
    "LocalDatetime",
    "Page",
    "ProblemDetails",
    "Readiness",
    "Strict",
    "UtcDatetime",
)


class Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of every request body: unknown fields are refused (mass assignment, OWASP API3)."""


INSTANT_MIN = datetime(1970, 1, 1, tzinfo=UTC)
"""The earliest instant the API accepts anywhere (bodies, query strings, cursors)."""
INSTANT_MAX = datetime(2200, 1, 1, tzinfo=UTC)
"""The first instant the API refuses: every accepted instant lies in [INSTANT_MIN, INSTANT_MAX).

Why this range: it holds every booking's history and every horizon (at most two years ahead)
with a wide margin, the tz database (which Python and Postgres share) is only exact from 1970
on, and arithmetic near it (offsets up to ±14 h, spans of years, local-time conversion) stays
far from Python's year 1 and 9999, where it overflows. msgspec ``Meta`` cannot bound a
datetime, so the check is ``booking.http.check_instant``, applied to every decoded body and
query-string time."""

AwareDatetime = Annotated[
    datetime,
    msgspec.Meta(
        tz=True,
        description=(
            "RFC 3339 date-time with an explicit offset (naive times are refused), from "
            "1970-01-01T00:00:00Z up to (not including) 2200-01-01T00:00:00Z"
        ),
        examples=["2026-12-05T19:00:00+09:00"],
    ),
]

LocalDatetime = Annotated[
    datetime,
    msgspec.Meta(
        description="RFC 3339 date-time in the institution's local offset",
        examples=["2026-12-01T09:30:00+09:00"],
    ),
]
"""An instant in an answer, in the offset of the institution it belongs to."""

UtcDatetime = Annotated[
    datetime,
    msgspec.Meta(
        description="RFC 3339 date-time in UTC (an account belongs to no institution)",
        examples=["2026-12-01T00:30:00Z"],
    ),
]
"""An account's record stamp: accounts have no institution, so no local offset."""

MULTILINE = msgspec.Meta(extra={"multiline": True})
"""Marks a text field in which line breaks (and tabs) are allowed: ``Annotated[str, ..., MULTILINE]``.
Every other string of a request body refuses control characters (``booking.http``)."""


class FieldError(msgspec.Struct, kw_only=True):
    field: str
    message: str


class ProblemDetails(msgspec.Struct, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details. Extra members may follow (e.g. ``conflict``, ``alternatives``)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


class Health(msgspec.Struct, kw_only=True):
    status: str


class Readiness(msgspec.Struct, kw_only=True):
    status: str
    checks: dict[str, str]


class Page(msgspec.Struct, kw_only=True):
    """Keyset pagination: pass ``next_cursor`` back as ``cursor`` for the next page."""

    next_cursor: str | None = None
