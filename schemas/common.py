"""Shapes shared by every feature: problem details, pagination, health."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

__all__ = (
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


AwareDatetime = Annotated[
    datetime,
    msgspec.Meta(
        tz=True,
        description="RFC 3339 date-time with an explicit offset (naive times are refused)",
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
