"""``python -m booking smtp-sink``: the development mail server."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from booking.settings import REPO_ROOT, Settings

__all__ = ("register", "smtp_sink")


def _mail_dir(settings: Settings, given: str | None) -> Path:
    return Path(given or settings.mail_dir or REPO_ROOT / ".devdata" / "mail").resolve()


async def smtp_sink(settings: Settings, args: argparse.Namespace) -> int:
    from aiosmtpd.smtp import SMTP

    from booking.notifications.smtp_sink import MailDirHandler

    handler = MailDirHandler(_mail_dir(settings, args.dir))
    directory = handler.directory
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, enable_SMTPUTF8=True),
        host=settings.smtp_host,
        port=settings.smtp_port,
    )
    print(
        f"SMTP sink on {settings.smtp_host}:{settings.smtp_port}; every message is saved as .eml "
        f"under {directory}",
        flush=True,
    )
    try:
        await server.serve_forever()
    except asyncio.CancelledError:
        pass
    finally:
        server.close()
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    sink = sub.add_parser("smtp-sink", help="local SMTP server saving mail as .eml files")
    sink.add_argument("--dir", help="directory (default: BOOKING_MAIL_DIR or .devdata/mail)")
    sink.set_defaults(handler=smtp_sink)
