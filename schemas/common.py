"""Shapes shared by every feature: problem details, pagination, health."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

__all__ = (
    "AwareDatetime",
    "FieldError",
    "Health",
    "Page",
    "ProblemDetails",
    "Readiness",
    "Strict",
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
