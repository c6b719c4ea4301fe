"""Registration, sign-in, profile and manager appointments, through the real API."""

from __future__ import annotations

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.settings import Settings
from tests.factories import Cast, auth, create_user

PASSWORD = "correct horse battery staple"


async def register(
    client: AsyncTestClient[Litestar], email: str, password: str = PASSWORD, **extra: object
) -> dict[str, object]:
    """Register (202, the same answer for any address since issue 15), then sign in and read
    the new account's profile."""
    response = await client.post(
        "/v1/auth/register", json={"email": email, "password": password, "name": "김지우", **extra}
    )
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "check-your-email"
    token = await login(client, email, password)
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    body: dict[str, object] = me.json()
    return body


async def login(client: AsyncTestClient[Litestar], email: str, password: str = PASSWORD) -> str:
    response = await client.post("/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def test_register_creates_a_citizen_with_a_normalised_email(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool
) -> None:
    body = await register(client, "  Jiwoo.Kim@Example.ORG \t", phone="010-1234-5678")

    assert body["email"] == "jiwoo.kim@example.org"
    assert body["role"] == "citizen"
    assert body["phone"] == "010-1234-5678"
    assert body["institutions"] == []
    assert not {"password", "password_hash"} & body.keys()
    stored = await db.fetchval("SELECT password_hash FROM users WHERE id = $1::uuid", body["id"])
    assert stored.startswith("$argon2id$")


async def test_register_refuses_a_password_shorter_than_ten_characters(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool
) -> None:
    response = await client.post(
        "/v1/auth/register",
        json={"email": "short@example.org", "password": "123456789", "name": "김지우"},
    )

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "password" in response.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_register_refuses_fields_a_caller_may_not_set(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool
) -> None:
    for field, value in (("role", "admin"), ("disabled_at", None), ("id", "x")):
        response = await client.post(
            "/v1/auth/register",
            json={"email": "eve@example.org", "password": PASSWORD, "name": "이브", field: value},
        )
        assert response.status_code == 422, (field, response.text)
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_register_refuses_a_blank_name_and_a_malformed_email(
    client: AsyncTestClient[Litestar],
) -> None:
    blank = await client.post(
        "/v1/auth/register", json={"email": "a@example.org", "password": PASSWORD, "name": "  "}
    )
    malformed = await client.post(
        "/v1/auth/register", json={"email": "not-an-email", "password": PASSWORD, "name": "김"}
    )

    assert blank.status_code == 422
    assert malformed.status_code == 422


async def test_a_taken_email_in_any_case_gets_the_same_answer_and_its_owner_is_told(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool
) -> None:
    """Issue 15: registration no longer answers 409 for a taken address (which revealed who
    has an account): the same 202 as for a new one; the owner gets an e-mail instead."""
    new = await client.post(
        "/v1/auth/register",
        json={"email": "minji@example.org", "password": PASSWORD, "name": "민지"},
    )
    response = await client.post(
        "/v1/auth/register",
        json={"email": " MinJi@Example.org ", "password": "another password 123", "name": "민지"},
    )

    assert new.status_code == response.status_code == 202
    assert response.json() == new.json()
    text = response.text.lower()
    assert "minji" not in text
    assert not any(word in text for word in ("exists", "registered", "taken", "in use"))
    assert await db.fetchval("SELECT count(*) FROM users") == 1
    topics = await db.fetch(
        "SELECT topic FROM outbox WHERE booking_id IS NULL AND payload ->> 'user_id' = "
        "(SELECT id::text FROM users WHERE email = 'minji@example.org') ORDER BY id"
    )
    assert [r["topic"] for r in topics] == ["account.verify", "account.exists"]
    # The first password stays.
    assert (
        await client.post(
            "/v1/auth/login", json={"email": "minji@example.org", "password": PASSWORD}
        )
    ).status_code == 200


async def test_login_returns_a_bearer_token_that_me_accepts(
    client: AsyncTestClient[Litestar], settings: Settings
) -> None:
    created = await register(client, "seoyeon@example.org")
    assert created["email_verified"] is False

    response = await client.post(
        "/v1/auth/login", json={"email": " SeoYeon@example.ORG", "password": PASSWORD}
    )
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == settings.token_ttl_seconds

    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200
    assert me.json() == created


async def test_wrong_password_and_unknown_email_get_the_same_answer(
    client: AsyncTestClient[Litestar],
) -> None:
    await register(client, "hana@example.org")

    wrong_password = await client.post(
        "/v1/auth/login", json={"email": "hana@example.org", "password": "not the password"}
    )
    unknown_email = await client.post(
        "/v1/auth/login", json={"email": "nobody@example.org", "password": "not the password"}
    )

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()
    assert "hana" not in wrong_password.text


async def test_a_disabled_user_can_neither_sign_in_nor_use_an_earlier_token(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool
) -> None:
    created = await register(client, "dojun@example.org")
    token = await login(client, "dojun@example.org")

    await db.execute("UPDATE users SET disabled_at = now() WHERE id = $1::uuid", created["id"])

    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    assert me.headers["content-type"].startswith("application/problem+json")
    refused = await client.post(
        "/v1/auth/login", json={"email": "dojun@example.org", "password": PASSWORD}
    )
    assert refused.status_code == 401


async def test_me_shows_a_managers_institutions(
    client: AsyncTestClient[Litestar], cast: Cast
) -> None:
    response = await client.get("/v1/me", headers=cast.headers("manager_x"))

    assert response.status_code == 200
    assert response.json()["role"] == "manager"
    assert response.json()["institutions"] == [str(cast.institution_x)]


async def test_appointing_a_citizen_makes_them_a_manager_at_once(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    path = f"/v1/institutions/{cast.institution_x}/managers"

    appointed = await client.post(
        path, json={"user_id": str(cast.citizen_a.id)}, headers=cast.headers("admin")
    )
    assert appointed.status_code == 201
    assert appointed.json()["role"] == "manager"
    assert appointed.json()["appointed_at"].endswith("+09:00")  # the institution's offset
    me = (await client.get("/v1/me", headers=cast.headers("citizen_a"))).json()
    assert (me["role"], me["institutions"]) == ("manager", [str(cast.institution_x)])

    again = await client.post(
        path, json={"user_id": str(cast.citizen_a.id)}, headers=cast.headers("admin")
    )
    assert again.status_code == 200
    assert again.json()["appointed_at"] == appointed.json()["appointed_at"]

    removed = await client.delete(f"{path}/{cast.citizen_a.id}", headers=cast.headers("admin"))
    assert removed.status_code == 204
    me = (await client.get("/v1/me", headers=cast.headers("citizen_a"))).json()
    assert (me["role"], me["institutions"]) == ("manager", [])
    assert (
        await db.fetchval(
            "SELECT count(*) FROM institution_managers WHERE user_id = $1", cast.citizen_a.id
        )
        == 0
    )


async def test_appointing_an_admin_keeps_the_admin_role(
    client: AsyncTestClient[Litestar], cast: Cast
) -> None:
    response = await client.post(
        f"/v1/institutions/{cast.institution_y}/managers",
        json={"user_id": str(cast.admin.id)},
        headers=cast.headers("admin"),
    )

    assert response.status_code == 201
    assert response.json()["role"] == "admin"


async def test_a_deleted_user_cannot_be_appointed(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool, settings: Settings
) -> None:
    gone = await create_user(db, settings)
    await db.execute("UPDATE users SET deleted_at = now() WHERE id = $1", gone.id)

    response = await client.post(
        f"/v1/institutions/{cast.institution_x}/managers",
        json={"user_id": str(gone.id)},
        headers=auth(cast.admin),
    )

    assert response.status_code == 404
