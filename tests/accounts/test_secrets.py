"""A password never appears in a response or a log line."""

from __future__ import annotations

import asyncpg

from tests.accounts.conftest import client_for
from tests.accounts.helpers import captured_logs
from tests.conftest import make_settings

SECRET = "Kx9-unmistakable-secret-4471"
SHORT_SECRET = "Zq7shortp"  # 9 characters: refused


async def test_passwords_never_appear_in_responses_or_logs(
    database_url: str, redis_url: str, db: asyncpg.Pool
) -> None:
    settings = make_settings(database_url, redis_url, access_log="true", log_level="DEBUG")
    async with client_for(settings) as client:
        with captured_logs() as lines:
            responses = [
                await client.post(
                    "/v1/auth/register",
                    json={"email": "secret@example.org", "password": SECRET, "name": "비밀"},
                ),
                await client.post(
                    "/v1/auth/register",
                    json={"email": "secret@example.org", "password": SECRET, "name": "비밀"},
                ),
                await client.post(
                    "/v1/auth/register",
                    json={"email": "short@example.org", "password": SHORT_SECRET, "name": "짧"},
                ),
                await client.post(
                    "/v1/auth/register",
                    json={"email": "x@example.org", "password": SECRET, "name": "x", "role": 1},
                ),
                await client.post(
                    "/v1/auth/login", json={"email": "secret@example.org", "password": SECRET}
                ),
                await client.post(
                    "/v1/auth/login",
                    json={"email": "secret@example.org", "password": SECRET + "typo"},
                ),
            ]
            token = responses[4].json()["access_token"]
            responses.append(
                await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
            )

    assert [r.status_code for r in responses] == [202, 202, 422, 422, 200, 401, 200]
    assert lines, "the access log should have recorded the requests"
    stored_hash = await db.fetchval("SELECT password_hash FROM users")
    for response in responses:
        for secret in (SECRET, SHORT_SECRET, stored_hash):
            assert secret not in response.text
        assert "password_hash" not in response.text
    for line in lines:
        for secret in (SECRET, SHORT_SECRET, stored_hash, token):
            assert secret not in line, line
