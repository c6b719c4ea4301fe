"""The schema: forward-only migrations, then functions re-applied whenever their file changes.

- ``sql/NNNN_name.sql`` — tables, indexes, constraints: applied once each, in order, each in its
  own transaction, recorded with its checksum in ``schema_migrations``. An applied file may not
  change, except for the rewrites listed in ``sql/rewritten.txt`` (old checksums a database may
  have recorded for a file whose text was rewritten without changing the schema it leaves).
- ``sql/functions/<name>.sql`` — functions, trigger functions (with their ``CREATE OR REPLACE
  TRIGGER``) and views, written ``CREATE OR REPLACE``: applied after the migrations whenever a
  file's checksum differs from the one recorded in ``schema_functions``, all changed files in one
  transaction with ``check_function_bodies`` off (so their order does not matter). A function's
  history is its file's ``git log``. A file that changes a function's signature drops the old
  one first (``DROP FUNCTION IF EXISTS``). Migrations must not call these functions.

Everything runs under one advisory lock, so processes starting together migrate once.
"""

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
    "discover_functions",
    "pending_migrations",
)

MIGRATIONS_DIR = REPO_ROOT / "sql"
FUNCTIONS_SUBDIR = "functions"
REWRITTEN_FILE = "rewritten.txt"
_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")
_FUNCTION_NAME = re.compile(r"^[a-z0-9_]+\.sql$")
# Any constant works; it only has to be the same for every process that migrates this database.
_LOCK_KEY = 7_263_514_001

_CREATE_TABLES = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name        text PRIMARY KEY,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS schema_functions (
    name        text PRIMARY KEY,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
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


def discover_functions(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The files of ``sql/functions/``, named ``functions/<name>.sql``."""
    files = sorted((directory / FUNCTIONS_SUBDIR).glob("*.sql"))
    bad = [p.name for p in files if not _FUNCTION_NAME.match(p.name)]
    if bad:
        raise MigrationError(f"function file names must look like name.sql: {', '.join(bad)}")
    return [Migration(f"{FUNCTIONS_SUBDIR}/{p.name}", p.read_text(encoding="utf-8")) for p in files]


def _rewritten(directory: Path) -> dict[str, set[str]]:
    """name -> old checksums that stand for the file's current text (``sql/rewritten.txt``)."""
    path = directory / REWRITTEN_FILE
    accepted: dict[str, set[str]] = {}
    if not path.exists():
        return accepted
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) == 2:
            accepted.setdefault(fields[0], set()).add(fields[1])
    return accepted


_RECORDED = {
    "schema_migrations": "SELECT name, checksum FROM schema_migrations",
    "schema_functions": "SELECT name, checksum FROM schema_functions",
}


async def _recorded(conn: Conn, table: str) -> dict[str, str]:
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table)
    if not exists:
        return {}
    rows = await conn.fetch(_RECORDED[table])
    return {r["name"]: r["checksum"] for r in rows}


def _check_edited(
    migrations: list[Migration], applied: dict[str, str], rewritten: dict[str, set[str]]
) -> list[Migration]:
    """Raise for an edited applied file; answer the applied files recorded under a rewrite."""
    rerecord = []
    for m in migrations:
        if m.name not in applied or applied[m.name] == m.checksum:
            continue
        if applied[m.name] in rewritten.get(m.name, set()):
            rerecord.append(m)
            continue
        raise MigrationError(
            f"sql/{m.name} was edited after it was applied; "
            "add a new migration instead of changing an applied one"
        )
    return rerecord


async def pending_migrations(conn: Conn, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Migrations and changed function files not yet applied; raises if a migration was edited."""
    migrations = discover(directory)
    applied = await _recorded(conn, "schema_migrations")
    _check_edited(migrations, applied, _rewritten(directory))
    functions = await _recorded(conn, "schema_functions")
    return [m.name for m in migrations if m.name not in applied] + [
        f.name for f in discover_functions(directory) if functions.get(f.name) != f.checksum
    ]


async def apply_migrations(conn: Conn, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration, then every changed function file, under an advisory lock;
    returns the names applied."""
    migrations = discover(directory)
    functions = discover_functions(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_CREATE_TABLES)
        applied = await _recorded(conn, "schema_migrations")
        for m in _check_edited(migrations, applied, _rewritten(directory)):
            await conn.execute(
                "UPDATE schema_migrations SET checksum = $2 WHERE name = $1", m.name, m.checksum
            )
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
        recorded = await _recorded(conn, "schema_functions")
        changed = [f for f in functions if recorded.get(f.name) != f.checksum]
        if changed:
            async with conn.transaction():
                await conn.execute("SET LOCAL check_function_bodies = off")
                for f in changed:
                    await conn.execute(f.sql)
                    await conn.execute(
                        "INSERT INTO schema_functions (name, checksum) VALUES ($1, $2)"
                        " ON CONFLICT (name) DO UPDATE"
                        " SET checksum = EXCLUDED.checksum, applied_at = now()",
                        f.name,
                        f.checksum,
                    )
            done += [f.name for f in changed]
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
