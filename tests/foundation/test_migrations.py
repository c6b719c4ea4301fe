"""The migration runner: order, checksums, the advisory lock, and start-up refusal."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from booking.app import create_app
from booking.db import connect
from booking.migrations import MigrationError, apply_migrations, pending_migrations
from booking.settings import REPO_ROOT
from tests.conftest import REDIS_URL, SERVER_URL, database_url_for, make_settings


@pytest.fixture
async def empty_database() -> object:
    name = f"nanum_empty_{os.getpid()}_{id(object())}"
    admin = await asyncpg.connect(SERVER_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield database_url_for(name)
    admin = await asyncpg.connect(SERVER_URL)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


def _write(directory: Path, files: dict[str, str]) -> None:
    for name, sql in files.items():
        (directory / name).write_text(sql)


async def test_migrations_apply_in_order_and_record_checksums(
    empty_database: str, tmp_path: Path
) -> None:
    _write(
        tmp_path,
        {
            "0002_add_column.sql": "ALTER TABLE things ADD COLUMN label text;",
            "0001_create.sql": "CREATE TABLE things (id int PRIMARY KEY);",
            "0010_fill.sql": "INSERT INTO things (id, label) VALUES (1, 'one');",
        },
    )
    conn = await connect(empty_database)
    try:
        assert await pending_migrations(conn, tmp_path) == [
            "0001_create.sql",
            "0002_add_column.sql",
            "0010_fill.sql",
        ]
        applied = await apply_migrations(conn, tmp_path)
        assert applied == ["0001_create.sql", "0002_add_column.sql", "0010_fill.sql"]
        assert await conn.fetchval("SELECT label FROM things WHERE id = 1") == "one"
        rows = await conn.fetch("SELECT name, checksum FROM schema_migrations ORDER BY name")
        assert [r["name"] for r in rows] == applied
        assert all(len(r["checksum"]) == 64 for r in rows)
        assert await apply_migrations(conn, tmp_path) == []  # a second run is a no-op
    finally:
        await conn.close()


async def test_a_failing_migration_rolls_back_alone(empty_database: str, tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "0001_ok.sql": "CREATE TABLE kept (id int);",
            "0002_broken.sql": "CREATE TABLE half (id int); SELECT no_such_function();",
        },
    )
    conn = await connect(empty_database)
    try:
        with pytest.raises(asyncpg.PostgresError):
            await apply_migrations(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('kept') IS NOT NULL")
        assert await conn.fetchval("SELECT to_regclass('half') IS NULL")
        assert await pending_migrations(conn, tmp_path) == ["0002_broken.sql"]
    finally:
        await conn.close()


async def test_an_edited_applied_migration_is_refused(empty_database: str, tmp_path: Path) -> None:
    _write(tmp_path, {"0001_create.sql": "CREATE TABLE things (id int);"})
    conn = await connect(empty_database)
    try:
        await apply_migrations(conn, tmp_path)
        _write(tmp_path, {"0001_create.sql": "CREATE TABLE things (id bigint);"})
        with pytest.raises(MigrationError, match=r"sql/0001_create.sql was edited"):
            await apply_migrations(conn, tmp_path)
        with pytest.raises(MigrationError, match="edited"):
            await pending_migrations(conn, tmp_path)
    finally:
        await conn.close()


async def test_concurrent_migrate_calls_leave_one_consistent_result(empty_database: str) -> None:
    connections = [await connect(empty_database) for _ in range(4)]
    try:
        results = await asyncio.gather(*(apply_migrations(c) for c in connections))
        applied_somewhere = [name for result in results for name in result]
        migrations = sorted(p.name for p in (REPO_ROOT / "sql").glob("*.sql"))
        functions = sorted(
            f"functions/{p.name}" for p in (REPO_ROOT / "sql/functions").glob("*.sql")
        )
        # Every migration and function file ran exactly once, in exactly one of the processes.
        assert sorted(applied_somewhere) == sorted(migrations + functions)
        recorded = await connections[0].fetch("SELECT name FROM schema_migrations ORDER BY name")
        assert [r["name"] for r in recorded] == migrations
        recorded = await connections[0].fetch("SELECT name FROM schema_functions ORDER BY name")
        assert [r["name"] for r in recorded] == functions
    finally:
        for c in connections:
            await c.close()


def _cli(args: list[str], database_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BOOKING_ENV": "test",
        "BOOKING_DATABASE_URL": database_url,
        "BOOKING_REDIS_URL": REDIS_URL,
        "PYTHONPATH": str(REPO_ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "booking", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO_ROOT,
    )


async def test_migrate_command_applies_everything_then_nothing(empty_database: str) -> None:
    first = await asyncio.to_thread(_cli, ["migrate"], empty_database)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_foundation.sql" in first.stdout
    second = await asyncio.to_thread(_cli, ["migrate"], empty_database)
    assert second.returncode == 0
    assert "(0 applied)" in second.stdout


async def test_migrate_command_refuses_an_edited_file_with_one_line(empty_database: str) -> None:
    first = await asyncio.to_thread(_cli, ["migrate"], empty_database)
    assert first.returncode == 0, first.stderr
    conn = await connect(empty_database)
    try:
        await conn.execute(
            "UPDATE schema_migrations SET checksum = 'tampered' WHERE name = '0002_accounts.sql'"
        )
    finally:
        await conn.close()
    result = await asyncio.to_thread(_cli, ["migrate"], empty_database)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "0002_accounts.sql was edited" in lines[0]


async def test_api_and_worker_refuse_to_start_with_pending_migrations(empty_database: str) -> None:
    conn = await connect(empty_database)
    try:
        await apply_migrations(conn, REPO_ROOT / "sql")
        await conn.execute("DELETE FROM schema_migrations WHERE name = '0060_holds_slot.sql'")
    finally:
        await conn.close()
    app = create_app(make_settings(empty_database, REDIS_URL))
    with pytest.RaisesGroup(
        pytest.RaisesExc(MigrationError, match=r"pending migrations: 0060_holds_slot.sql"),
        flatten_subgroups=True,
    ):
        async with AsyncTestClient(app=app):
            pass
    # The real server exits non-zero, naming what is pending.
    env = {
        **os.environ,
        "BOOKING_ENV": "test",
        "BOOKING_DATABASE_URL": empty_database,
        "BOOKING_REDIS_URL": REDIS_URL,
        "PYTHONPATH": str(REPO_ROOT),
    }
    server = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "uvicorn", "booking.app:create_app", "--factory", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO_ROOT,
    )
    assert server.returncode != 0
    assert "pending migrations: 0060_holds_slot.sql" in server.stderr
    # So does the worker.
    worker = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "workers"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO_ROOT,
    )
    assert worker.returncode != 0
    assert "pending migrations: 0060_holds_slot.sql" in worker.stderr
