"""Weekly opening windows of a room, in the institution's local time: validated, merged and
replaced as a whole."""

from __future__ import annotations

import re
import uuid
from datetime import date

import asyncpg

from booking.accounts.auth import Principal
from booking.catalogue import queries
from booking.catalogue.queries import RuleValues
from booking.catalogue.rooms import managed_room, visible_room
from booking.errors import invalid
from schemas.catalogue import WEEKDAYS, WeeklyWindow, WeeklyWindowIn

__all__ = ("get_rules", "merge_windows", "preview_rules", "replace_rules")

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_DAY_NUMBER = {name: n for n, name in enumerate(WEEKDAYS, start=1)}


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def merge_windows(rules: list[RuleValues]) -> list[RuleValues]:
    """Merge windows that overlap or touch on the same day (and validity), then group days
    with identical hours back into one rule. A merge that would exceed a day is not made."""
    spans: dict[tuple[int, date | None, date | None], list[tuple[int, int]]] = {}
    for rule in rules:
        start = _minutes(rule.start)
        end = _minutes(rule.end)
        if end <= start:
            end += 1440
        for day in rule.days:
            spans.setdefault((day, rule.valid_from, rule.valid_until), []).append((start, end))
    grouped: dict[tuple[int, int, date | None, date | None], set[int]] = {}
    for (day, valid_from, valid_until), intervals in spans.items():
        merged: list[tuple[int, int]] = []
        for start, end in sorted(intervals):
            if (
                merged
                and start <= merged[-1][1]
                and max(end, merged[-1][1]) - merged[-1][0] <= 1440
            ):
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        for start, end in merged:
            grouped.setdefault((start, end, valid_from, valid_until), set()).add(day)
    out = [
        RuleValues(
            days=tuple(sorted(days)),
            start=_clock(start),
            end="24:00" if end == 1440 else _clock(end % 1440),
            valid_from=valid_from,
            valid_until=valid_until,
        )
        for (start, end, valid_from, valid_until), days in grouped.items()
    ]
    return sorted(
        out, key=lambda r: (r.start, r.end, r.days, str(r.valid_from), str(r.valid_until))
    )


def _window(rule: RuleValues) -> WeeklyWindow:
    return WeeklyWindow(
        days=[WEEKDAYS[d - 1] for d in rule.days],
        start=rule.start,
        end=rule.end,
        valid_from=rule.valid_from,
        valid_until=rule.valid_until,
    )


def _validate_windows(windows: list[WeeklyWindowIn]) -> list[RuleValues]:
    rules: list[RuleValues] = []
    for n, window in enumerate(windows):
        if not window.days:
            raise invalid(f"[{n}].days", "name at least one day")
        unknown = [d for d in window.days if d not in _DAY_NUMBER]
        if unknown:
            raise invalid(
                f"[{n}].days", f"unknown day {unknown[0]!r}; one of: {', '.join(WEEKDAYS)}"
            )
        if not _CLOCK.match(window.start):
            raise invalid(f"[{n}].start", "expected HH:MM between 00:00 and 23:59")
        if not (_CLOCK.match(window.end) or window.end == "24:00"):
            raise invalid(f"[{n}].end", "expected HH:MM between 00:00 and 24:00")
        if window.start == window.end:
            raise invalid(f"[{n}].end", "a window cannot end when it starts")
        if (
            window.valid_from is not None
            and window.valid_until is not None
            and window.valid_until < window.valid_from
        ):
            raise invalid(f"[{n}].valid_until", "must not be before valid_from")
        rules.append(
            RuleValues(
                days=tuple(sorted({_DAY_NUMBER[d] for d in window.days})),
                start=window.start,
                end=window.end,
                valid_from=window.valid_from,
                valid_until=window.valid_until,
            )
        )
    return merge_windows(rules)


def preview_rules(windows: list[WeeklyWindowIn]) -> list[WeeklyWindow]:
    """The rules :func:`replace_rules` would store (validated and merged), without storing."""
    return [_window(r) for r in _validate_windows(windows)]


async def replace_rules(
    pool: asyncpg.Pool, principal: Principal, room_id: uuid.UUID, windows: list[WeeklyWindowIn]
) -> list[WeeklyWindow]:
    rules = _validate_windows(windows)
    async with pool.acquire() as conn, conn.transaction():
        await managed_room(conn, principal, room_id, lock=True)
        await queries.replace_rules(conn, room_id, rules)
        stored = await queries.fetch_rules(conn, room_id)
    return [_window(r) for r in stored]


async def get_rules(
    pool: asyncpg.Pool, principal: Principal | None, room_id: uuid.UUID
) -> list[WeeklyWindow]:
    async with pool.acquire() as conn:
        await visible_room(conn, principal, room_id)
        return [_window(r) for r in await queries.fetch_rules(conn, room_id)]
