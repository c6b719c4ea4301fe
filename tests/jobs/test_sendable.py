"""What the API accepts can be mailed, and each recipient's message is independent of the
others: a line break in a name never reaches a header, non-ASCII addresses go out with IDNA
and SMTPUTF8, and one recipient that cannot be reached never stops the others."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from email.message import EmailMessage

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.notifications.mail import BookingFacts, MailUndeliverable, build_message
from booking.notifications.smtp_sink import RecordingHandler
from booking.settings import Settings
from tests.conftest import make_settings
from tests.factories import Cast, User, appoint_manager, create_user
from tests.jobs.conftest import SmtpServer
from tests.jobs.helpers import free_port, insert_booking, poll_until, running_worker

CITIZEN_NAME = "김\r\n지우\nBcc: evil@example.org"
CITIZEN_EMAIL = "지우@예시.한국"
CITIZEN_ENVELOPE = "지우@xn--vv4b11d.xn--3e0b707e"
MANAGER_NAME = "관리자\n둘"
MANAGER_EMAIL = "manager2@관리.한국"
MANAGER_ENVELOPE = "manager2@" + "관리.한국".encode("idna").decode()


def _parsed(raw: bytes) -> EmailMessage:
    """A message as sent with SMTPUTF8 (raw UTF-8 headers) or without (encoded words)."""
    message = message_from_string(raw.decode("utf-8"), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _tomorrow() -> datetime:
    return (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


async def _pending_booking_with_awkward_people(
    db: asyncpg.Pool, settings: Settings, cast: Cast
) -> tuple[User, User]:
    """People stored before the door checked them (straight into the table): a citizen whose
    name has line breaks and a header-injection attempt and whose address is all Korean, and a
    second manager with a line break and an IDN domain. A pending booking of theirs."""
    citizen = await create_user(db, settings, name=CITIZEN_NAME, email=CITIZEN_EMAIL)
    manager = await create_user(
        db, settings, role="manager", name=MANAGER_NAME, email=MANAGER_EMAIL
    )
    await appoint_manager(db, cast.institution_x, manager)
    await insert_booking(
        db,
        citizen.id,
        cast.room_x,
        _tomorrow(),
        _tomorrow() + timedelta(hours=1),
        status="pending",
    )
    return citizen, manager


@pytest.fixture
def smtp_without_utf8() -> Iterator[SmtpServer]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    controller.start()
    try:
        yield SmtpServer(handler, port)
    finally:
        controller.stop()


async def test_line_breaks_and_korean_addresses_are_mailed_to_everyone(
    db: asyncpg.Pool, settings: Settings, cast: Cast, smtp: SmtpServer, job_settings: Settings
) -> None:
    await _pending_booking_with_awkward_people(db, settings, cast)
    async with running_worker(job_settings):
        await poll_until(lambda: len(smtp.handler.snapshot()) >= 3, within=20, what="3 mails")
    mails = {m.recipients[0]: m for m in smtp.handler.snapshot()}
    assert set(mails) == {CITIZEN_ENVELOPE, MANAGER_ENVELOPE, cast.manager_x.email}
    citizen_mail = _parsed(mails[CITIZEN_ENVELOPE].raw)
    assert "Bcc" not in citizen_mail
    assert b"\nBcc:" not in mails[CITIZEN_ENVELOPE].raw
    assert citizen_mail["To"].addresses[0].display_name == "김 지우 Bcc: evil@example.org"
    assert citizen_mail["To"].addresses[0].addr_spec == CITIZEN_ENVELOPE
    assert "김\r\n지우" not in citizen_mail["To"]
    manager_mail = _parsed(mails[MANAGER_ENVELOPE].raw)
    assert manager_mail["To"].addresses[0].display_name == "관리자 둘"
    # The body is plain text: the name keeps its line break there.
    assert "지우\n" in citizen_mail.get_content()
    assert await db.fetchval("SELECT count(*) FROM deliveries WHERE status = 'sent'") == 3
    assert await db.fetchval("SELECT count(*) FROM failed_jobs") == 0


async def test_a_recipient_the_server_cannot_carry_never_stops_the_managers_mail(
    db: asyncpg.Pool,
    database_url: str,
    redis_url: str,
    settings: Settings,
    cast: Cast,
    smtp_without_utf8: SmtpServer,
) -> None:
    """The server offers no SMTPUTF8, so the citizen's all-Korean address cannot be sent to: that
    delivery fails for good (recorded at once, not retried five times), while both managers'
    "approval needed" mails go out and the outbox row ends processed."""
    await _pending_booking_with_awkward_people(db, settings, cast)
    job_settings = make_settings(database_url, redis_url, smtp_port=str(smtp_without_utf8.port))
    async with running_worker(job_settings, max_tries=5, backoff=0.05):
        await poll_until(
            lambda: db.fetchval("SELECT count(*) = 1 FROM failed_jobs"), within=20, what="failure"
        )
        await poll_until(
            lambda: db.fetchval("SELECT bool_and(processed_at IS NOT NULL) FROM outbox"),
            within=10,
            what="processed",
        )
    recipients = sorted(m.recipients[0] for m in smtp_without_utf8.handler.snapshot())
    assert recipients == sorted([MANAGER_ENVELOPE, cast.manager_x.email])
    failed = await db.fetchrow("SELECT attempts, error FROM failed_jobs")
    assert failed is not None
    assert failed["attempts"] == 1
    assert "SMTPUTF8" in failed["error"]
    rows = await db.fetch("SELECT kind, status FROM deliveries ORDER BY kind")
    assert [(r["kind"], r["status"]) for r in rows] == [
        ("approval_needed", "sent"),
        ("approval_needed", "sent"),
        ("request_received", "failed"),
    ]


async def test_one_refused_recipient_is_retried_alone_after_the_others_went_out(
    db: asyncpg.Pool, settings: Settings, cast: Cast, smtp: SmtpServer, job_settings: Settings
) -> None:
    """The server refuses the first message (451, the citizen's); the managers' messages go out
    in the same try, and the retry sends only the citizen's."""
    await _pending_booking_with_awkward_people(db, settings, cast)
    smtp.handler.refuse_next = 1
    async with running_worker(job_settings, backoff=0.5):
        await poll_until(lambda: len(smtp.handler.snapshot()) >= 3, within=20, what="3 mails")
        await poll_until(
            lambda: db.fetchval("SELECT bool_and(processed_at IS NOT NULL) FROM outbox"),
            within=10,
            what="processed",
        )
    mails = smtp.handler.snapshot()
    assert smtp.handler.refused == 1
    assert len(mails) == 3
    assert mails[-1].recipients == (CITIZEN_ENVELOPE,)
    # The managers' mails were accepted before the retry's backoff had passed.
    assert mails[-1].accepted_at - max(m.accepted_at for m in mails[:2]) >= 0.4
    attempts = await db.fetch("SELECT kind, attempts FROM deliveries ORDER BY kind")
    assert [(r["kind"], r["attempts"]) for r in attempts] == [
        ("approval_needed", 1),
        ("approval_needed", 1),
        ("request_received", 2),
    ]


def test_an_address_no_mail_can_carry_is_undeliverable_not_a_crash(settings: Settings) -> None:
    facts = BookingFacts(
        booking_id="b",
        room="방",
        institution="구청",
        address=None,
        starts_at=_tomorrow(),
        ends_at=_tomorrow() + timedelta(hours=1),
        timezone="Asia/Seoul",
        status="confirmed",
        citizen_name="김",
        check_in_grace_minutes=15,
    )
    with pytest.raises(MailUndeliverable):
        build_message(
            settings,
            kind="confirmation",
            delivery_key="k",
            to_name="김",
            to_email="a@b..kr",
            facts=facts,
            invite=None,
            invite_method=None,
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "김\n지우"),
        ("name", "김\r지우"),
        ("name", "김\u2028지우"),
        ("email", "jiwoo@exa..mple.org"),
        ("email", "jiwoo@" + "x" * 64 + ".org"),
        ("email", "j" * 65 + "@example.org"),
    ],
)
async def test_registration_refuses_what_mail_cannot_carry(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool, field: str, value: str
) -> None:
    body = {"email": "jiwoo@example.org", "password": "correct horse battery", "name": "김지우"}
    body[field] = value
    response = await client.post("/v1/auth/register", json=body)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_registration_accepts_a_korean_address_and_stores_it_as_given(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool
) -> None:
    response = await client.post(
        "/v1/auth/register",
        json={"email": CITIZEN_EMAIL, "password": "correct horse battery", "name": "김 지우"},
    )
    assert response.status_code == 202, (
        response.text
    )  # registration answers alike for every address
    assert await db.fetchval("SELECT email FROM users") == CITIZEN_EMAIL
