"""Forward-only SQL migrations: ``sql/NNNN_name.sql`` applied in order, each in its own transaction."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from booking.settings import REPO_ROOT

if TYPE_CHECKING:
    from booking.db import Conn

__all__ = (
    "MIGRATIONS_DIR",
    "Migration",
    "MigrationError",
    "apply_migrations",
    "discover",
    "pending_migrations",
)

MIGRATIONS_DIR = REPO_ROOT / "sql"
_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")
# Any constant works; it only has to be the same for every process that migrates this database.
_LOCK_KEY = 7_263_514_001

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name        text PRIMARY KEY,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(Exception):
    """The database and the migration files disagree; the message is one line."""


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    files = sorted(p for p in directory.glob("*.sql"))
    bad = [p.name for p in files if not _NAME.match(p.name)]
    if bad:
        raise MigrationError(f"migration file names must look like 0001_name.sql: {', '.join(bad)}")
    return [Migration(p.name, p.read_text(encoding="utf-8")) for p in files]


async def _applied(conn: Conn) -> dict[str, str]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    rows = await conn.fetch("SELECT name, checksum FROM schema_migrations")
    return {r["name"]: r["checksum"] for r in rows}


def _check_edited(migrations: list[Migration], applied: dict[str, str]) -> None:
    for m in migrations:
        if m.name in applied and applied[m.name] != m.checksum:
            raise MigrationError(
                f"sql/{m.name} was edited after it was applied; "
                "add a new migration instead of changing an applied one"
            )


async def pending_migrations(conn: Conn, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Names of the migrations not yet applied; raises if an applied file was edited."""
    migrations = discover(directory)
    applied = await _applied(conn)
    _check_edited(migrations, applied)
    return [m.name for m in migrations if m.name not in applied]


async def apply_migrations(conn: Conn, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration under an advisory lock; returns the names applied."""
    migrations = discover(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_CREATE_TABLE)
        applied = await _applied(conn)
        _check_edited(migrations, applied)
        done: list[str] = []
        for m in migrations:
            if m.name in applied:
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                    m.name,
                    m.checksum,
                )
            done.append(m.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
