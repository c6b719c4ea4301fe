"""E-mail verification and password reset through the real path: the API writes an outbox row
and a token hash, the worker derives the link and sends it over SMTP, the link's token is
spent once. Registration answers the same for new and taken addresses; the mail says which."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from email.message import EmailMessage

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.settings import Settings
from tests.accounts.conftest import client_for
from tests.factories import Cast, create_user
from tests.jobs.conftest import SmtpServer
from tests.jobs.helpers import poll_until, running_worker
from tests.reservations.conftest import at, body

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
async def api(job_settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with client_for(job_settings) as client:
        yield client


async def _mail_to(smtp: SmtpServer, email: str, count: int = 1) -> list[EmailMessage]:
    def mails() -> list[EmailMessage]:
        return [m.message for m in smtp.handler.snapshot() if email in m.recipients]

    await poll_until(lambda: len(mails()) >= count, within=20, what=f"mail to {email}")
    return mails()


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    content: str = part.get_content()
    return content


def _token(message: EmailMessage, path: str, settings: Settings) -> str:
    found = re.search(
        re.escape(settings.base_url + path) + r"\?token=([A-Za-z0-9_-]+)", _text(message)
    )
    assert found, _text(message)
    return found.group(1)


async def _register(
    api: AsyncTestClient[Litestar], email: str, password: str = PASSWORD
) -> dict[str, str]:
    response = await api.post(
        "/v1/auth/register", json={"email": email, "password": password, "name": "김지우"}
    )
    assert response.status_code == 202, response.text
    answer: dict[str, str] = response.json()
    return answer


async def _sign_in(api: AsyncTestClient[Litestar], email: str, password: str) -> dict[str, str]:
    response = await api.post("/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_sign_up_verify_by_the_mailed_link_then_book(
    api: AsyncTestClient[Litestar],
    job_settings: Settings,
    smtp: SmtpServer,
    db: asyncpg.Pool,
    cast: Cast,
) -> None:
    email = "jiwoo@example.org"
    async with running_worker(job_settings):
        await _register(api, email)
        [welcome] = await _mail_to(smtp, email)
    assert "이메일 주소를 확인해 주세요" in str(welcome["Subject"])
    assert "Please confirm your e-mail address" in str(welcome["Subject"])
    text = _text(welcome)
    assert "확인해야 예약할 수 있습니다" in text and "you can book rooms once" in text
    token = _token(welcome, "/verify-email", job_settings)

    # Only the token's hash is stored; the token is in no table.
    for table in ("account_tokens", "outbox", "deliveries"):
        dump = await db.fetchval(f"SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} t")
        assert token not in dump, table

    headers = await _sign_in(api, email, PASSWORD)
    refused = await api.post("/v1/bookings", json=body(cast.room_x, at(9), at(10)), headers=headers)
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/email-unverified")

    verified = await api.post("/v1/auth/verify-email", json={"token": token})
    assert verified.status_code == 204, verified.text
    me = await api.get("/v1/me", headers=headers)
    assert me.json()["email_verified"] is True
    booked = await api.post("/v1/bookings", json=body(cast.room_x, at(9), at(10)), headers=headers)
    assert booked.status_code == 201, booked.text

    again = await api.post("/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 400
    assert again.json()["type"].endswith("/invalid-token")
    forged = await api.post("/v1/auth/verify-email", json={"token": "A" * 43})
    assert forged.status_code == 400


async def test_registering_a_taken_address_answers_the_same_and_mails_its_owner(
    api: AsyncTestClient[Litestar], job_settings: Settings, smtp: SmtpServer, db: asyncpg.Pool
) -> None:
    owner = await create_user(db, job_settings, email="owner@example.org")
    async with running_worker(job_settings):
        new = await _register(api, "stranger@example.org")
        taken = await _register(api, " Owner@Example.org ", "someone elses password")
        [mail] = await _mail_to(smtp, owner.email)
        await _mail_to(smtp, "stranger@example.org")
    assert new == taken
    assert "가입하려는 시도" in str(mail["Subject"])
    assert "Someone tried to register" in str(mail["Subject"])
    text = _text(mail)
    assert f"{job_settings.base_url}/sign-in" in text
    assert f"{job_settings.base_url}/forgot-password" in text
    assert "token=" not in text  # nothing to click that changes the account
    assert (
        await db.fetchval("SELECT count(*) FROM account_tokens WHERE user_id = $1", owner.id) == 0
    )
    # The owner's password did not change.
    await _sign_in(api, owner.email, owner.password)


async def test_password_reset_by_mailed_link_is_single_use_and_verifies_the_address(
    api: AsyncTestClient[Litestar], job_settings: Settings, smtp: SmtpServer, db: asyncpg.Pool
) -> None:
    user = await create_user(db, job_settings, email="forgetful@example.org", verified=False)
    async with running_worker(job_settings):
        unknown = await api.post("/v1/auth/password-reset", json={"email": "ghost@example.org"})
        known = await api.post("/v1/auth/password-reset", json={"email": "Forgetful@example.org"})
        twice = await api.post("/v1/auth/password-reset", json={"email": "forgetful@example.org"})
        [mail] = await _mail_to(smtp, user.email)
    assert unknown.status_code == known.status_code == twice.status_code == 202
    assert unknown.json() == known.json() == twice.json()
    assert not [m for m in smtp.handler.snapshot() if "ghost@example.org" in m.recipients]
    # One mail a minute per account, however often it is asked for.
    assert (
        await db.fetchval(
            "SELECT count(*) FROM outbox WHERE topic = 'account.reset' AND payload ->> 'user_id' = $1",
            str(user.id),
        )
        == 1
    )
    assert "비밀번호 재설정" in str(mail["Subject"])
    token = _token(mail, "/reset-password", job_settings)

    short = await api.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "password": "short"}
    )
    assert short.status_code == 422  # and the token is not spent
    reset = await api.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
    )
    assert reset.status_code == 204, reset.text
    reused = await api.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "password": "yet another one!"}
    )
    assert reused.status_code == 400
    assert reused.json()["type"].endswith("/invalid-token")

    old = await api.post("/v1/auth/login", json={"email": user.email, "password": user.password})
    assert old.status_code == 401
    headers = await _sign_in(api, user.email, NEW_PASSWORD)
    me = await api.get("/v1/me", headers=headers)
    assert me.json()["email_verified"] is True  # the reset proved the mailbox


async def test_an_expired_link_is_refused_and_changes_nothing(
    api: AsyncTestClient[Litestar], job_settings: Settings, smtp: SmtpServer, db: asyncpg.Pool
) -> None:
    async with running_worker(job_settings):
        await _register(api, "late@example.org")
        [welcome] = await _mail_to(smtp, "late@example.org")
    token = _token(welcome, "/verify-email", job_settings)
    await db.execute(
        "UPDATE account_tokens SET created_at = now() - interval '3 days',"
        " expires_at = now() - interval '1 day'"
    )
    expired = await api.post("/v1/auth/verify-email", json={"token": token})
    assert expired.status_code == 400
    assert await db.fetchval(
        "SELECT email_verified_at IS NULL FROM users WHERE email = 'late@example.org'"
    )


@pytest.mark.parametrize(
    "payload",
    [{}, {"token": ""}, {"token": "x" * 5000}, {"token": "not a token!"}, {"token": 7}],
)
async def test_malformed_tokens_get_a_4xx(
    api: AsyncTestClient[Litestar], payload: dict[str, object]
) -> None:
    for path in ("/v1/auth/verify-email", "/v1/auth/password-reset/confirm"):
        response = await api.post(
            path, json={**payload, "password": NEW_PASSWORD} if "reset" in path else payload
        )
        assert 400 <= response.status_code < 500, (path, response.text)
