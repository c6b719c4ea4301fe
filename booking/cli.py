"""``python -m booking <command>``: operations that scripts and people run.

Each feature adds its commands in ``register`` functions listed in :data:`FEATURE_COMMANDS`.
Commands print one line per result and exit non-zero with a one-line error.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from booking.db import connect
from booking.holidays_sync import sync_public_holidays
from booking.migrations import MigrationError, apply_migrations
from booking.settings import ConfigError, Settings, load_settings

__all__ = ("Command", "main")

Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]
# Modules with a `register(subparsers)` function that adds their commands.
FEATURE_COMMANDS: tuple[str, ...] = (
    "booking.accounts.cli",
    "booking.catalogue.cli",
    "booking.jobs.cli",
    "booking.notifications.cli",
)


async def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    conn = await connect(settings.database_url)
    try:
        applied = await apply_migrations(conn)
        holidays = await sync_public_holidays(conn)
    finally:
        await conn.close()
    for name in applied:
        print(f"applied {name}")
    print(f"schema up to date ({len(applied)} applied); {holidays} public holidays synced")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m booking", description="Nanum operations")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    migrate = sub.add_parser("migrate", help="apply pending sql/ migrations and sync holidays")
    migrate.set_defaults(handler=_migrate)
    for module_name in FEATURE_COMMANDS:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Command = args.handler
    try:
        settings = load_settings()
        return asyncio.run(handler(settings, args))
    except (ConfigError, MigrationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, ConnectionError) as exc:
        print(f"error: cannot reach a service: {exc}", file=sys.stderr)
        return 2
