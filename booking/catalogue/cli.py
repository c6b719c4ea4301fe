"""``python -m booking import-open-data PATH [--region 서울특별시] [--report skipped.csv]``."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from booking.catalogue.importer import import_file
from booking.catalogue.regions import official_region, region_names
from booking.db import connect
from booking.settings import Settings

__all__ = ("register",)


async def _import_open_data(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.path)
    if args.region is not None and official_region(args.region) is None:
        print(f"error: unknown region {args.region!r}; valid: {', '.join(region_names())}")
        return 2
    conn = await connect(settings.database_url)
    try:
        report = await import_file(conn, path, region=args.region)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"error: cannot read {path}: {exc.strerror}")
        return 2
    finally:
        await conn.close()
    for line in report.lines():
        print(line)
    if args.report is not None:
        await asyncio.to_thread(Path(args.report).write_text, report.csv_text(), "utf-8")
        print(f"report of the {len(report.skipped_rows)} skipped rows: {args.report}")
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this feature's subcommands."""
    command = sub.add_parser(
        "import-open-data",
        help="create or update institutions, rooms and windows from the national open-data CSV",
    )
    command.add_argument(
        "path", help="the CSV (CP949), e.g. data/public-facilities/national-standard-2022.csv"
    )
    command.add_argument(
        "--region",
        default=None,
        help="import only this region (시도), e.g. 서울특별시 (default: the whole file)",
    )
    command.add_argument(
        "--report",
        default=None,
        metavar="PATH",
        help="write every skipped row and its reason as CSV (UTF-8) to PATH",
    )
    command.set_defaults(handler=_import_open_data)
