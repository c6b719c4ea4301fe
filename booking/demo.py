"""``python -m booking demo-data``: what ``make run`` loads so that a fresh checkout is usable.

Idempotent: every step creates only what is missing. Passwords are generated once and kept in
``.devdata/demo-credentials.txt`` (mode 0600, never committed); every run prints them.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from booking.accounts import queries as account_queries
from booking.accounts.security import hash_password, verify_password
from booking.allocation.demo import load_demo_lottery
from booking.db import Conn, connect
from booking.settings import REPO_ROOT, Settings

__all__ = ("DEFAULT_CREDENTIALS_FILE", "DemoAccount", "load_demo_catalogue", "load_demo_data")

DEFAULT_CREDENTIALS_FILE = REPO_ROOT / ".devdata" / "demo-credentials.txt"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    role: str
    email: str
    name: str
    password: str


_DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("admin", "admin@nanum.localhost", "데모 관리자"),
    ("manager", "manager@nanum.localhost", "데모 시설 담당자"),
    ("citizen", "citizen@nanum.localhost", "데모 시민"),
)


def _read_credentials(path: Path) -> dict[str, str]:
    """``email password`` lines of the credentials file, if it exists."""
    if not path.exists():
        return {}
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        email, _, password = line.strip().partition(" ")
        if email and password and not email.startswith("#"):
            found[email] = password.strip()
    return found


def _write_credentials(path: Path, accounts: list[DemoAccount]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Nanum demo accounts: email password (generated once; never commit this file)"]
    lines += [f"{a.email} {a.password}" for a in accounts]
    # Created 0600 from the start, so the passwords are never readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    path.chmod(0o600)


def _demo_accounts(path: Path) -> list[DemoAccount]:
    """The demo accounts with their passwords, generating (and saving) any that are missing."""
    known = _read_credentials(path)
    accounts = [
        DemoAccount(role, email, name, known.get(email) or secrets.token_urlsafe(12))
        for role, email, name in _DEMO_USERS
    ]
    if any(a.email not in known for a in accounts) or not path.exists():
        _write_credentials(path, accounts)
    return accounts


async def _ensure_account(conn: Conn, account: DemoAccount) -> None:
    """Create the account if missing; if it exists with another password (the credentials
    file was lost), set the password from the file so the printed credentials work."""
    row = await account_queries.fetch_credentials(conn, account.email)
    if row is None:
        await account_queries.insert_user_if_missing(
            conn,
            email=account.email,
            password_hash=hash_password(account.password),
            name=account.name,
            role=account.role,
        )
    elif not verify_password(row.password_hash, account.password):
        await account_queries.update_password_hash(conn, row.id, hash_password(account.password))


async def load_demo_data(
    settings: Settings, *, credentials_file: Path | None = None
) -> list[DemoAccount]:
    """Create what is missing of the demo data; the demo accounts with their passwords."""
    accounts = _demo_accounts(credentials_file or DEFAULT_CREDENTIALS_FILE)
    conn = await connect(settings.database_url)
    try:
        async with conn.transaction():
            for account in accounts:
                await _ensure_account(conn, account)
            manager = next(a for a in accounts if a.role == "manager")
            await account_queries.appoint_to_first_institution(conn, manager.email)
            await load_demo_lottery(conn, manager.email)
    finally:
        await conn.close()
    return accounts


async def load_demo_catalogue(settings: Settings) -> str:
    """The Seoul rooms of the bundled open-data file, into an empty catalogue; a summary line."""
    from booking.catalogue.demo import import_demo_catalogue

    conn = await connect(settings.database_url)
    try:
        async with conn.transaction():
            return await import_demo_catalogue(conn)
    finally:
        await conn.close()
