"""Functions live in sql/functions/ (one file each), re-applied when their file changes; the
migrations that once held them were rewritten, and a database migrated before that moves on."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from booking.db import connect
from booking.migrations import MigrationError, apply_migrations, pending_migrations
from booking.settings import REPO_ROOT
from tests.conftest import SERVER_URL, database_url_for

BEFORE_FUNCTIONS = Path(__file__).parent / "fixtures" / "sql-before-functions"

# What a schema consists of, as text that does not depend on how it was reached.
SCHEMA_OBJECTS = """
SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       pg_get_functiondef(p.oid)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
UNION ALL
SELECT 'constraint ' || conrelid::regclass || '.' || conname, pg_get_constraintdef(oid)
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'index ' || indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'trigger ' || tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
UNION ALL
SELECT 'column ' || table_name || '.' || column_name,
       data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
       || ' ' || coalesce(generation_expression, '')
FROM information_schema.columns WHERE table_schema = 'public'
ORDER BY 1
"""


@pytest.fixture
async def two_databases() -> object:
    names = [f"nanum_fn_{os.getpid()}_{id(object())}_{i}" for i in range(2)]
    admin = await asyncpg.connect(SERVER_URL)
    for name in names:
        await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield [database_url_for(name) for name in names]
    admin = await asyncpg.connect(SERVER_URL)
    for name in names:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def _schema(conn: asyncpg.Connection) -> dict[str, str]:
    return {r[0]: r[1] for r in await conn.fetch(SCHEMA_OBJECTS)}


async def test_a_database_from_before_the_move_migrates_forward_to_the_fresh_schema(
    two_databases: list[str],
) -> None:
    old_url, fresh_url = two_databases
    old = await connect(old_url)
    fresh = await connect(fresh_url)
    try:
        await apply_migrations(old, BEFORE_FUNCTIONS)
        user = await old.fetchval(
            "INSERT INTO users (email, name, password_hash, role)"
            " VALUES ('old@example.org', 'Old', 'x', 'citizen') RETURNING id"
        )
        inst = await old.fetchval(
            "INSERT INTO institutions (name, kind, region, district, address)"
            " VALUES ('구청', 'gu_office', '서울특별시', '마포구', '주소') RETURNING id"
        )
        room = await old.fetchval(
            "INSERT INTO rooms (institution_id, name, kind, capacity)"
            " VALUES ($1, '회의실', 'meeting_room', 10) RETURNING id",
            inst,
        )
        start = datetime(2027, 1, 5, 10, tzinfo=UTC)
        await old.execute(
            "INSERT INTO bookings (room_id, citizen_id, during, status, attendees)"
            " VALUES ($1, $2, tstzrange($3, $4, '[)'), 'confirmed', 3)",
            room,
            user,
            start,
            start + timedelta(hours=2),
        )

        applied = await apply_migrations(old)
        assert "0060_holds_slot.sql" in applied
        assert "functions/book.sql" in applied
        assert await pending_migrations(old) == []
        assert await apply_migrations(old) == []  # the rewritten files are now recorded as they are
        await apply_migrations(fresh)
        assert await _schema(old) == await _schema(fresh)

        # The booking made before the move still holds its slot under the rebuilt constraint.
        assert await old.fetchval("SELECT holds_slot FROM bookings") is True
        with pytest.raises(asyncpg.ExclusionViolationError):
            await old.execute(
                "INSERT INTO bookings (room_id, citizen_id, during, status, attendees)"
                " VALUES ($1, $2, tstzrange($3, $4, '[)'), 'pending', 1)",
                room,
                user,
                start + timedelta(hours=1),
                start + timedelta(hours=3),
            )
    finally:
        await old.close()
        await fresh.close()


async def test_a_changed_function_file_is_applied_again_and_recorded(
    two_databases: list[str], tmp_path: Path
) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "0001_things.sql").write_text("CREATE TABLE things (n int);")
    answer = tmp_path / "functions" / "answer.sql"
    answer.write_text(
        "CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql AS $$ SELECT 41 $$;"
    )
    conn = await connect(two_databases[0])
    try:
        assert await apply_migrations(conn, tmp_path) == ["0001_things.sql", "functions/answer.sql"]
        assert await conn.fetchval("SELECT answer()") == 41
        assert await apply_migrations(conn, tmp_path) == []
        answer.write_text(
            "CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql AS $$ SELECT 42 $$;"
        )
        assert await pending_migrations(conn, tmp_path) == ["functions/answer.sql"]
        assert await apply_migrations(conn, tmp_path) == ["functions/answer.sql"]
        assert await conn.fetchval("SELECT answer()") == 42
        assert await pending_migrations(conn, tmp_path) == []
    finally:
        await conn.close()


async def test_a_broken_function_file_changes_no_function(
    two_databases: list[str], tmp_path: Path
) -> None:
    (tmp_path / "functions").mkdir()
    one = tmp_path / "functions" / "one.sql"
    two = tmp_path / "functions" / "two.sql"
    one.write_text("CREATE OR REPLACE FUNCTION one() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;")
    two.write_text("CREATE OR REPLACE FUNCTION two() RETURNS int LANGUAGE sql AS $$ SELECT 2 $$;")
    conn = await connect(two_databases[0])
    try:
        await apply_migrations(conn, tmp_path)
        one.write_text(
            "CREATE OR REPLACE FUNCTION one() RETURNS int LANGUAGE sql AS $$ SELECT 11 $$;"
        )
        two.write_text("CREATE OR REPLACE FUNCTION two( RETURNS int;")
        with pytest.raises(asyncpg.PostgresSyntaxError):
            await apply_migrations(conn, tmp_path)
        assert await conn.fetchval("SELECT one()") == 1  # changed functions move together
        assert await pending_migrations(conn, tmp_path) == [
            "functions/one.sql",
            "functions/two.sql",
        ]
    finally:
        await conn.close()


async def test_only_listed_rewrites_of_an_applied_migration_are_accepted(
    two_databases: list[str], tmp_path: Path
) -> None:
    migration = tmp_path / "0001_things.sql"
    migration.write_text(
        "CREATE TABLE things (n int);\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;"
    )
    conn = await connect(two_databases[0])
    try:
        await apply_migrations(conn, tmp_path)
        old = await conn.fetchval("SELECT checksum FROM schema_migrations")
        migration.write_text("CREATE TABLE things (n int);")
        (tmp_path / "rewritten.txt").write_text(f"# f moved to functions/\n0001_things.sql {old}\n")
        assert await apply_migrations(conn, tmp_path) == []
        assert await conn.fetchval("SELECT checksum FROM schema_migrations") != old
        migration.write_text("CREATE TABLE things (n bigint);")
        with pytest.raises(MigrationError, match=r"0001_things\.sql was edited"):
            await apply_migrations(conn, tmp_path)
    finally:
        await conn.close()


def test_every_function_lives_in_its_own_file_and_no_migration_defines_one() -> None:
    for path in (REPO_ROOT / "sql").glob("*.sql"):
        text = path.read_text().upper()
        for statement in (
            "CREATE FUNCTION",
            "CREATE OR REPLACE FUNCTION",
            "CREATE TRIGGER",
            "CREATE VIEW",
        ):
            assert statement not in text, f"{path.name} defines a function, trigger or view"
    for path in (REPO_ROOT / "sql" / "functions").glob("*.sql"):
        assert "CREATE FUNCTION" not in path.read_text().upper(), (
            f"{path.name}: use CREATE OR REPLACE"
        )
