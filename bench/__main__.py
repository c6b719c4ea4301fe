"""``python -m bench [NAME ...]``: run the benchmarks (all by default) and print their figures.

Each benchmark module under ``bench/`` exposes ``async def run(args: list[str]) -> None`` and
is listed in :data:`BENCHMARKS`. Every benchmark prints its baseline from the same run.
"""

from __future__ import annotations

import asyncio
import importlib
import sys

BENCHMARKS: dict[str, str] = {
    "catalogue": "bench.catalogue",
    "booking": "bench.booking",
    "booking_sql": "bench.booking_sql",
    "feeds": "bench.feeds",
    "jobs": "bench.jobs",
    "allocation": "bench.allocation",
    "pages": "bench.pages",
    "opendata": "bench.opendata",
    "manager_pages": "bench.manager_pages",
}


def main(argv: list[str]) -> int:
    names = [a for a in argv if not a.startswith("-")] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    for name in names:
        module = importlib.import_module(BENCHMARKS[name])
        print(f"\n=== bench: {name} ===", flush=True)
        asyncio.run(module.run(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
