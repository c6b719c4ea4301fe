"""Tokens are refused with 401 when expired, tampered, for another audience, or of a user
who was deleted or disabled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.accounts.security import issue_token
from booking.settings import Settings
from tests.factories import create_user


async def assert_refused(client: AsyncTestClient[Litestar], token: str) -> None:
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"].lower().startswith("bearer")
    assert response.json()["status"] == 401


async def test_a_valid_token_is_accepted(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool, settings: Settings
) -> None:
    user = await create_user(db, settings)
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {user.token}"})
    assert response.status_code == 200


async def test_an_expired_token_is_refused(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool, settings: Settings
) -> None:
    user = await create_user(db, settings)
    issued = datetime.now(UTC) - timedelta(seconds=settings.token_ttl_seconds + 60)
    await assert_refused(client, issue_token(settings, user.id, user.role, now=issued))


async def test_a_tampered_token_is_refused(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool, settings: Settings
) -> None:
    user = await create_user(db, settings)
    header, payload, signature = user.token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    await assert_refused(client, f"{header}.{payload}.{flipped}")
    # A payload changed to claim admin, keeping the old signature.
    admin = await create_user(db, settings, role="admin")
    _, admin_payload, _ = admin.token.split(".")
    await assert_refused(client, f"{header}.{admin_payload}.{signature}")


async def test_a_token_for_another_audience_is_refused(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool, settings: Settings
) -> None:
    user = await create_user(db, settings)
    other = msgspec.structs.replace(settings, token_audience="some-other-api")
    await assert_refused(client, issue_token(other, user.id, user.role))


async def test_a_token_signed_with_another_key_is_refused(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool, settings: Settings
) -> None:
    user = await create_user(db, settings)
    other = msgspec.structs.replace(settings, secret_key="x" * 48)
    await assert_refused(client, issue_token(other, user.id, user.role))


async def test_garbage_is_refused(client: AsyncTestClient[Litestar]) -> None:
    await assert_refused(client, "not-a-jwt")


async def test_a_deleted_users_token_stops_working_at_once(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool, settings: Settings
) -> None:
    user = await create_user(db, settings)
    await db.execute("UPDATE users SET deleted_at = now() WHERE id = $1", user.id)
    await assert_refused(client, user.token)


async def test_a_disabled_users_token_stops_working_at_once(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool, settings: Settings
) -> None:
    user = await create_user(db, settings)
    await db.execute("UPDATE users SET disabled_at = now() WHERE id = $1", user.id)
    await assert_refused(client, user.token)
