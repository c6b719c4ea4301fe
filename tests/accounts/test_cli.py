"""``python -m booking users create`` and ``demo-data``, run as real commands."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import uuid
from pathlib import Path

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.demo import load_demo_data
from booking.settings import REPO_ROOT, Settings
from tests.factories import create_institution

PASSWORD = "bootstrap password 2026"


async def run_cli(database_url: str, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "BOOKING_ENV": "test",
        "BOOKING_DATABASE_URL": database_url,
        "PYTHONPATH": str(REPO_ROOT),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "booking",
        *args,
        cwd=REPO_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_users_create_prints_the_new_id_and_the_account_can_sign_in(
    database_url: str, db: asyncpg.Pool, client: AsyncTestClient[Litestar]
) -> None:
    code, out, err = await run_cli(
        database_url,
        *("users", "create", "--email", " Root@Nanum.Example ", "--password", PASSWORD),
        *("--role", "admin", "--name", "최고 관리자"),
    )

    assert (code, err) == (0, "")
    user_id = uuid.UUID(out.strip())
    row = await db.fetchrow("SELECT email, role, name FROM users WHERE id = $1", user_id)
    assert row is not None
    assert dict(row) == {"email": "root@nanum.example", "role": "admin", "name": "최고 관리자"}
    assert PASSWORD not in out
    login = await client.post(
        "/v1/auth/login", json={"email": "root@nanum.example", "password": PASSWORD}
    )
    assert login.status_code == 200
    me = await client.get(
        "/v1/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
    )
    assert me.json()["role"] == "admin"
    assert me.json()["email_verified"] is True  # operator-made accounts may book at once


async def test_users_create_refuses_a_duplicate_email_with_one_line(
    database_url: str, db: asyncpg.Pool
) -> None:
    first = await run_cli(
        database_url,
        *("users", "create", "--email", "dup@example.org", "--password", PASSWORD),
        *("--role", "manager"),
    )
    second = await run_cli(
        database_url,
        *("users", "create", "--email", "DUP@example.org", "--password", PASSWORD),
        *("--role", "citizen"),
    )
    short = await run_cli(
        database_url,
        *("users", "create", "--email", "new@example.org", "--password", "short"),
        *("--role", "citizen"),
    )

    assert first[0] == 0
    assert second[0] == 1
    assert second[1] == ""
    assert len(second[2].strip().splitlines()) == 1
    assert second[2].startswith("error:")
    assert short[0] == 1
    assert "password" in short[2]
    assert await db.fetchval("SELECT count(*) FROM users") == 1
    assert await db.fetchval("SELECT name FROM users") == "dup"


async def test_demo_data_is_idempotent_and_its_credentials_work(
    settings: Settings, db: asyncpg.Pool, client: AsyncTestClient[Litestar], tmp_path: Path
) -> None:
    second_by_name = await create_institution(db, name="B 주민센터")
    first_by_name = await create_institution(db, name="A 구청")
    credentials = tmp_path / "demo-credentials.txt"

    accounts = await load_demo_data(settings, credentials_file=credentials)
    again = await load_demo_data(settings, credentials_file=credentials)

    assert again == accounts
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert {a.email for a in accounts} == {
        "admin@nanum.localhost",
        "manager@nanum.localhost",
        "citizen@nanum.localhost",
    }
    assert await db.fetchval("SELECT count(*) FROM users") == 3
    managed = await db.fetch(
        """
        SELECT m.institution_id FROM institution_managers m JOIN users u ON u.id = m.user_id
        WHERE u.email = 'manager@nanum.localhost'
        """
    )
    assert [r["institution_id"] for r in managed] == [first_by_name]
    assert second_by_name != first_by_name
    for account in accounts:
        login = await client.post(
            "/v1/auth/login", json={"email": account.email, "password": account.password}
        )
        assert login.status_code == 200, account.email
        me = await client.get(
            "/v1/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
        )
        assert me.json()["role"] == account.role
        assert me.json()["email_verified"] is True, account.email


async def test_demo_data_resets_passwords_when_the_credentials_file_is_lost(
    settings: Settings, db: asyncpg.Pool, client: AsyncTestClient[Litestar], tmp_path: Path
) -> None:
    credentials = tmp_path / "demo-credentials.txt"
    before = await load_demo_data(settings, credentials_file=credentials)
    credentials.unlink()

    after = await load_demo_data(settings, credentials_file=credentials)

    assert [a.password for a in after] != [a.password for a in before]
    assert await db.fetchval("SELECT count(*) FROM users") == 3
    citizen = next(a for a in after if a.role == "citizen")
    login = await client.post(
        "/v1/auth/login", json={"email": citizen.email, "password": citizen.password}
    )
    assert login.status_code == 200


async def test_demo_data_command_prints_the_same_credentials_every_run(
    database_url: str, tmp_path: Path
) -> None:
    credentials = tmp_path / "creds.txt"
    args = ("demo-data", "--credentials-file", str(credentials))

    first = await run_cli(database_url, *args)
    second = await run_cli(database_url, *args)

    assert first[0] == second[0] == 0
    # The first run imports the whole country's rooms into the empty catalogue (issue 16);
    # the second leaves it be.
    assert "institutions in 17 regions imported" in first[1]
    assert "demo import skipped" in second[1]
    credentials_lines = [line for line in first[1].splitlines() if "password:" in line]
    assert len(credentials_lines) == 3
    assert credentials_lines == [line for line in second[1].splitlines() if "password:" in line]
    for email in ("admin@nanum.localhost", "manager@nanum.localhost", "citizen@nanum.localhost"):
        assert email in first[1]
    for line in credentials.read_text().splitlines()[1:]:
        email, password = line.split()
        assert f"{email}  password: {password}" in first[1]
