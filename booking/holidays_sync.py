"""Korean public holidays, copied from the maintained ``holidays`` package into Postgres.

The availability SQL needs them as rows; the package stays the single source of truth.
"""

from __future__ import annotations

from datetime import UTC, datetime

import holidays

from booking.db import Conn

__all__ = ("sync_public_holidays",)


async def sync_public_holidays(conn: Conn, *, years_back: int = 1, years_ahead: int = 3) -> int:
    this_year = datetime.now(UTC).year
    years = list(range(this_year - years_back, this_year + years_ahead + 1))
    days = holidays.country_holidays("KR", years=years, language="ko")
    rows = [("KR", day, name) for day, name in sorted(days.items())]
    async with conn.transaction():
        await conn.execute(
            "DELETE FROM public_holidays WHERE country = 'KR' AND extract(year FROM day)::int = ANY($1::int[])",
            years,
        )
        await conn.executemany(
            "INSERT INTO public_holidays (country, day, name) VALUES ($1, $2, $3)", rows
        )
    return len(rows)
