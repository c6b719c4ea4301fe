"""``python -m booking`` commands of this feature: ``users create`` and ``demo-data``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from booking.accounts.service import create_account
from booking.db import connect
from booking.errors import Conflict, Invalid
from booking.settings import Settings

__all__ = ("register",)


async def _create_user(settings: Settings, args: argparse.Namespace) -> int:
    email: str = args.email
    name: str = args.name or email.strip().partition("@")[0]
    conn = await connect(settings.database_url)
    try:
        account = await create_account(
            conn, email=email, password=args.password, name=name, role=args.role
        )
    except Invalid as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    except Conflict:
        print(f"error: a user with e-mail {email.strip().lower()} already exists", file=sys.stderr)
        return 1
    finally:
        await conn.close()
    print(account.id)
    return 0


async def _demo_data(settings: Settings, args: argparse.Namespace) -> int:
    # the demo pulls in other features; load on use
    from booking.demo import load_demo_catalogue, load_demo_data

    if not args.no_catalogue:
        print(await load_demo_catalogue(settings))
    accounts = await load_demo_data(settings, credentials_file=args.credentials_file)
    print("Demo accounts (password kept in the credentials file, never committed):")
    for account in accounts:
        print(f"  {account.role:<8} {account.email}  password: {account.password}")
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``users create`` and ``demo-data``."""
    users = sub.add_parser("users", help="manage accounts")
    users_sub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    create = users_sub.add_parser(
        "create", help="create an account and print its id (e.g. the first admin)"
    )
    create.add_argument("--email", required=True)
    create.add_argument("--password", required=True, help="at least 10 characters")
    create.add_argument("--role", required=True, choices=("admin", "manager", "citizen"))
    create.add_argument(
        "--name", default=None, help="display name (default: the e-mail's local part)"
    )
    create.set_defaults(handler=_create_user)

    demo = sub.add_parser(
        "demo-data",
        help="create the demo admin, manager and citizen if missing and print their credentials",
    )
    demo.add_argument(
        "--credentials-file",
        type=Path,
        default=None,
        help="where generated passwords are kept (default: .devdata/demo-credentials.txt)",
    )
    demo.add_argument(
        "--no-catalogue",
        action="store_true",
        help="skip importing the Seoul rooms of the bundled open-data file",
    )
    demo.set_defaults(handler=_demo_data)
