"""A private PostgreSQL for tests that stop and restart the database (never the shared one).

Started from the binaries scripts/dev-services.sh uses (``NANUM_PG_BIN``, else the newest
``/usr/lib/postgresql/*/bin``), on a free loopback port, from a data directory of its own under
/var/tmp. PostgreSQL refuses to run as root: as root, it runs as the unprivileged system user
``nanum-pg``, like dev-services.sh does (which creates that user on first use).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import asyncpg

from booking.db import connect
from booking.holidays_sync import sync_public_holidays
from booking.migrations import apply_migrations

__all__ = ("PrivatePostgres",)

PG_OS_USER = "nanum-pg"
ROLE = "nanum"
DB_NAME = "nanum"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _pg_bin() -> Path:
    explicit = os.environ.get("NANUM_PG_BIN")
    if explicit:
        return Path(explicit)
    candidates = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()),
        key=lambda p: int(p.parent.name),
    )
    if not candidates:
        raise RuntimeError("no PostgreSQL under /usr/lib/postgresql; run `make services` first")
    return candidates[-1]


class PrivatePostgres:
    """``init()`` once, then ``start()``/``stop()`` as often as a test likes; ``remove()``."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="nanum-private-pg-", dir="/var/tmp"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.dir.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.dir, PG_OS_USER)

    @property
    def url(self) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{DB_NAME}"

    def _run(self, *args: str) -> None:
        command = [str(a) for a in args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", PG_OS_USER, "--", *command]
        subprocess.run(command, check=True, cwd="/", capture_output=True, timeout=120)

    async def init(self) -> None:
        """initdb, start, create the database and migrate it."""
        await asyncio.to_thread(
            self._run,
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "--auth=trust",
            f"--username={ROLE}",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        await self.start()
        admin = await asyncpg.connect(f"postgresql://{ROLE}@127.0.0.1:{self.port}/postgres")
        try:
            await admin.execute(f"CREATE DATABASE {DB_NAME}")
        finally:
            await admin.close()
        conn = await connect(self.url)
        try:
            await apply_migrations(conn)
            await sync_public_holidays(conn)
        finally:
            await conn.close()

    async def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k '' -c max_connections=200 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        await asyncio.to_thread(
            self._run,
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    async def stop(self, mode: str = "fast") -> None:
        """``fast`` (clients are disconnected) or ``immediate`` (as a crash)."""
        await asyncio.to_thread(
            self._run, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"
        )

    async def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                await self.stop("immediate")
        await asyncio.to_thread(shutil.rmtree, self.dir, True)
