"""``python -m bench pages``: the find and room pages at 5,000 rooms x 1,000,000 bookings.

The catalogue benchmark's generator fills a throw-away database; the real app is served by
uvicorn on a loopback port in this process and asked, one request at a time over a kept-alive
connection, for find pages (a district, a Saturday, a start time and two hours) and room pages
(a random room's week). Server time is the time to the full answer on loopback, so it includes
the client's own small cost. Weight is what a browser transfers with compression: the first
visit fetches the find page with results plus every asset it references (CSS, JS, both
typeface weights, the icon), a later visit only the next page (assets are immutable, cached).
"""

from __future__ import annotations

import random
import re
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from bench.catalogue import DISTRICTS, _generate
from bench.common import app_settings, bench_database, report_latencies, served_app

SEOUL = ZoneInfo("Asia/Seoul")
RUNS = 200
FIRST_VISIT_KB = 150
LATER_PAGE_KB = 30
BROWSER_HEADERS = {"Accept-Encoding": "gzip, deflate, br", "Accept-Language": "ko-KR,ko;q=0.9"}


def _saturdays(count: int) -> list[date]:
    day = datetime.now(SEOUL).date() + timedelta(days=2)
    while day.isoweekday() != 6:
        day += timedelta(days=1)
    return [day + timedelta(weeks=n) for n in range(count)]


async def _asset_weight(client: httpx.AsyncClient, html: str) -> tuple[int, list[str]]:
    refs = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    total = 0
    seen: list[str] = []
    for ref in refs:
        answer = await client.get(ref)
        total += _wire_size_raw(answer)
        seen.append(ref)
        if ref.endswith(".css"):
            css = answer.content.decode() if "content-encoding" not in answer.headers else ""
            if not css:
                plain = await client.get(ref, headers={"Accept-Encoding": "identity"})
                css = plain.text
            for font in re.findall(r"url\((pretendard-gov-[^)]+\.woff2)\)", css):
                font_answer = await client.get(f"/static/{font}")
                total += _wire_size_raw(font_answer)
                seen.append(font)
    return total, seen


def _wire_size_raw(response: httpx.Response) -> int:
    length = response.headers.get("content-length")
    headers = sum(len(k) + len(v) + 4 for k, v in response.headers.raw)
    return (int(length) if length is not None else len(response.content)) + headers


async def run(args: list[str]) -> None:
    async with bench_database("pages") as url:
        conn = await asyncpg.connect(url)
        try:
            started = time.perf_counter()
            await _generate(conn)
            rooms = [r["id"] for r in await conn.fetch("SELECT id FROM rooms WHERE active")]
            bookings = await conn.fetchval("SELECT count(*) FROM bookings")
            print(
                f"generated {len(rooms)} rooms and {bookings} bookings in"
                f" {time.perf_counter() - started:.1f} s",
                flush=True,
            )
        finally:
            await conn.close()
        settings = app_settings(url)
        rng = random.Random(20261205)
        saturdays = _saturdays(6)
        districts = list(DISTRICTS)
        async with (
            served_app(settings) as base,
            httpx.AsyncClient(base_url=base, headers=BROWSER_HEADERS) as client,
        ):

            def find_path() -> str:
                return (
                    f"/?district={rng.choice(districts)}&date={rng.choice(saturdays)}"
                    f"&start={rng.choice(('09:00', '10:00', '14:00', '19:00'))}&duration=120"
                )

            for _ in range(10):  # warm up
                await client.get(find_path())
            samples: list[float] = []
            for _ in range(RUNS):
                path = find_path()
                t0 = time.perf_counter()
                answer = await client.get(path)
                samples.append((time.perf_counter() - t0) * 1000)
                assert answer.status_code == 200, answer.status_code
            report_latencies("find page (district, Saturday, 2 h), server time", samples, 30)

            samples = []
            for _ in range(RUNS):
                path = f"/rooms/{rng.choice(rooms)}"
                t0 = time.perf_counter()
                answer = await client.get(path)
                samples.append((time.perf_counter() - t0) * 1000)
                assert answer.status_code == 200, answer.status_code
            report_latencies("room page (week view), server time", samples, 30)

            # Weight: a first visit to a find page with results, then a room page.
            first = await client.get(
                f"/?district=마포구&date={saturdays[0]}&start=10:00&duration=120"
            )
            assets, names = await _asset_weight(client, first.text)
            first_total = _wire_size_raw(first) + assets
            room = await client.get(f"/rooms/{rooms[0]}")
            later = _wire_size_raw(room)
            print(
                f"first visit: {first_total / 1024:.1f} KB transferred (page"
                f" {_wire_size_raw(first) / 1024:.1f} KB + {len(names)} assets"
                f" {assets / 1024:.1f} KB) (target <= {FIRST_VISIT_KB} KB:"
                f" {'met' if first_total <= FIRST_VISIT_KB * 1024 else 'MISSED'})",
                flush=True,
            )
            print(
                f"later page (room, assets cached): {later / 1024:.1f} KB transferred"
                f" (target <= {LATER_PAGE_KB} KB:"
                f" {'met' if later <= LATER_PAGE_KB * 1024 else 'MISSED'})",
                flush=True,
            )
