"""Shapes of the calendar feed endpoints."""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = ("CalendarUrls",)


class CalendarUrls(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The caller's private feed. Paste either URL into a calendar app; keep it secret."""

    https_url: Annotated[
        str,
        msgspec.Meta(
            description="Feed URL over HTTPS (Google Calendar: 'From URL')",
            examples=[
                "https://nanum.example/v1/calendars/q3J9lX0n4mF0lS2y7eHk9c1mR5tB8vW2zA6pD4uE1oI.ics"
            ],
        ),
    ]
    webcal_url: Annotated[
        str,
        msgspec.Meta(
            description="The same feed as webcal:// (opens Apple Calendar or Outlook directly)",
            examples=[
                "webcal://nanum.example/v1/calendars/q3J9lX0n4mF0lS2y7eHk9c1mR5tB8vW2zA6pD4uE1oI.ics"
            ],
        ),
    ]
