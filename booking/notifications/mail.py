"""E-mail: Korean + English texts for each notice, the ``.ics`` attachment, and SMTP sending."""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Literal
from zoneinfo import ZoneInfo

import aiosmtplib

from booking.settings import Settings

__all__ = (
    "AccountKind",
    "BookingFacts",
    "MailRefused",
    "MailUndeliverable",
    "NoticeKind",
    "build_account_message",
    "build_message",
    "fits_header",
    "header_text",
    "mail_address",
    "send_message",
)

NoticeKind = Literal[
    "confirmation",
    "request_received",
    "approval_needed",
    "approved",
    "rejected",
    "cancelled",
    "rescheduled",
    "no_show",
    "reminder_24h",
    "reminder_1h",
    "offer_made",
    "offer_expired",
    "draw_result",
]

AccountKind = Literal["verify_email", "account_exists", "password_reset"]

SMTP_TIMEOUT = 5.0  # seconds per SMTP command; well inside the worker's job timeout


class MailRefused(Exception):
    """The SMTP server could not be reached or refused the message (the job retries)."""


class MailUndeliverable(MailRefused):
    """This message can never go as it is: the address cannot be written for mail, the server
    lacks SMTPUTF8 for a non-ASCII local part, or it answered 5xx. Retrying cannot help: the
    job records it in failed_jobs at once (``jobs retry`` once the cause is fixed)."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MAX_LOCAL_OCTETS = 64
_MAX_DOMAIN_OCTETS = 253


def fits_header(text: str) -> bool:
    """Whether ``text`` can be a header's display name as it is (no control characters, no
    line breaks)."""
    return _CONTROL.search(text) is None


def header_text(text: str) -> str:
    """Text fit for a header (a display name): control characters, line breaks included,
    become spaces and runs of spaces one. Headers cannot carry line breaks; the body can, so
    names and places keep theirs there."""
    return " ".join(_CONTROL.sub(" ", text).split())


def mail_address(email: str) -> Address:
    """``email`` as mail carries it: the domain in IDNA (ASCII, ``xn--``), the local part as
    it is (a non-ASCII one needs a server offering SMTPUTF8). Raises ValueError when no mail
    can carry it (control characters or spaces, no ``@``, a domain IDNA cannot write, parts
    too long). The API checks addresses with this at the door; the worker builds with it."""
    local, at, domain = email.rpartition("@")
    if not (local and at and domain) or _CONTROL.search(email) or any(c.isspace() for c in email):
        raise ValueError("expected an e-mail address")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError("the domain cannot be written for mail (IDNA)") from None
    if "." not in ascii_domain.strip("."):
        raise ValueError("expected an e-mail address")
    if len(local.encode()) > _MAX_LOCAL_OCTETS or len(ascii_domain) > _MAX_DOMAIN_OCTETS:
        raise ValueError("the address is too long for mail")
    return Address(username=local, domain=ascii_domain)


@dataclass(frozen=True, slots=True)
class BookingFacts:
    """What a notice says about a booking, already read from the database."""

    booking_id: str
    room: str
    institution: str
    address: str | None
    starts_at: datetime
    ends_at: datetime
    timezone: str
    status: str
    citizen_name: str
    check_in_grace_minutes: int


_SUBJECTS: dict[NoticeKind, tuple[str, str]] = {
    "confirmation": ("예약이 확정되었습니다", "Your booking is confirmed"),
    "request_received": (
        "예약 신청이 접수되었습니다 (승인 대기)",
        "Booking request received (awaiting approval)",
    ),
    "approval_needed": ("승인이 필요한 예약 신청", "A booking request needs your approval"),
    "approved": ("예약이 승인되었습니다", "Your booking was approved"),
    "rejected": ("예약 신청이 반려되었습니다", "Your booking request was declined"),
    "cancelled": ("예약이 취소되었습니다", "Your booking was cancelled"),
    "rescheduled": ("예약 시간이 변경되었습니다", "Your booking was rescheduled"),
    "no_show": ("체크인하지 않아 예약이 해제되었습니다", "Booking released: no check-in"),
    "reminder_24h": ("내일 예약 안내", "Reminder: your booking is in 24 hours"),
    "reminder_1h": ("1시간 후 예약 안내", "Reminder: your booking starts in 1 hour"),
    "offer_made": ("대기하신 시간이 비었습니다", "A slot you waited for is yours to take"),
    "offer_expired": ("대기 제안이 만료되었습니다", "Your waitlist offer expired"),
    "draw_result": ("추첨 결과 안내", "Lottery result"),
}

_LEADS: dict[NoticeKind, tuple[str, str]] = {
    "confirmation": ("아래 예약이 확정되었습니다.", "Your booking below is confirmed."),
    "request_received": (
        "예약 신청이 접수되었습니다. 담당자가 승인하면 다시 알려 드립니다.",
        "We received your request. We will write again once a manager decides.",
    ),
    "approval_needed": (
        "다음 예약 신청을 승인하거나 반려해 주세요.",
        "Please approve or decline the following booking request.",
    ),
    "approved": ("예약 신청이 승인되었습니다.", "Your booking request was approved."),
    "rejected": (
        "죄송합니다. 예약 신청이 반려되었습니다.",
        "Sorry, your booking request was declined.",
    ),
    "cancelled": ("아래 예약이 취소되었습니다.", "The booking below was cancelled."),
    "rescheduled": ("예약 시간이 아래와 같이 변경되었습니다.", "Your booking now has this time."),
    "no_show": (
        "시작 후 체크인 기한 안에 체크인하지 않아 예약이 해제되었습니다.",
        "You did not check in within the grace period, so the booking was released.",
    ),
    "reminder_24h": ("내일 아래 예약이 있습니다.", "You have this booking tomorrow."),
    "reminder_1h": ("1시간 후 아래 예약이 시작됩니다.", "Your booking starts in one hour."),
    "offer_made": (
        "대기하신 시간이 비어 잠시 확보해 두었습니다. 2시간 안에(시작이 가까우면 더 짧게) "
        "POST /v1/offers/{예약 번호}/accept 로 수락하거나 decline 으로 거절해 주세요.",
        "The time you waited for is free and held for you. Accept it with "
        "POST /v1/offers/{booking}/accept (or decline) within 2 hours (less when the start is near).",
    ),
    "offer_expired": (
        "수락하지 않아 제안이 만료되었고 다음 대기자에게 넘어갔습니다.",
        "You did not accept in time, so the offer went to the next person in line.",
    ),
    "draw_result": ("추첨 결과를 알려 드립니다.", "Here is the result of the lottery."),
}


def _when(facts: BookingFacts) -> str:
    zone = ZoneInfo(facts.timezone)
    start = facts.starts_at.astimezone(zone)
    end = facts.ends_at.astimezone(zone)
    return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} ({facts.timezone})"


def _body(kind: NoticeKind, facts: BookingFacts, base_url: str) -> str:
    ko_lead, en_lead = _LEADS[kind]
    where = facts.institution + (f", {facts.address}" if facts.address else "")
    link = f"{base_url}/v1/bookings/{facts.booking_id}"
    check_in = ""
    if kind in ("confirmation", "approved", "reminder_1h", "reminder_24h", "rescheduled"):
        check_in = (
            f"\n체크인: 시작 15분 전부터 시작 후 {facts.check_in_grace_minutes}분까지"
            f"\nCheck-in: from 15 minutes before the start until {facts.check_in_grace_minutes}"
            " minutes after it\n"
        )
    return (
        f"{facts.citizen_name}님,\n\n{ko_lead}\n\n"
        f"장소: {facts.room} — {where}\n일시: {_when(facts)}\n예약 번호: {facts.booking_id}\n"
        f"{check_in}\n"
        "---\n\n"
        f"{en_lead}\n\n"
        f"Room: {facts.room} — {where}\nWhen: {_when(facts)}\nBooking: {facts.booking_id}\n"
        f"\n{link}\n\n나눔 Nanum\n"
    )


def _addressed(
    settings: Settings, subject: str, delivery_key: str, to_name: str, to_email: str
) -> EmailMessage:
    """A message with its headers: the recipient through :func:`mail_address` (IDNA domain; a
    non-ASCII local part makes a UTF-8 message, sent with SMTPUTF8) and :func:`header_text` (no
    line break reaches a header); the Message-ID derived from the delivery key. Raises
    :class:`MailUndeliverable` when the address cannot be written for mail."""
    try:
        to = mail_address(to_email)
    except ValueError as exc:
        raise MailUndeliverable(f"address {to_email!r}: {exc}") from None
    utf8 = not to.username.isascii()
    message = EmailMessage(policy=policy.default.clone(utf8=True) if utf8 else policy.default)
    message["Subject"] = subject
    message["From"] = settings.mail_from
    message["To"] = Address(header_text(to_name), to.username, to.domain)
    message["Date"] = format_datetime(datetime.now(UTC))
    domain = settings.mail_from.rpartition("@")[2].rstrip(">") or "nanum.localhost"
    digest = hashlib.sha256(delivery_key.encode()).hexdigest()[:32]
    message["Message-ID"] = f"<{digest}@{domain}>"
    message["X-Nanum-Delivery-Key"] = delivery_key
    return message


def build_message(
    settings: Settings,
    *,
    kind: NoticeKind,
    delivery_key: str,
    to_name: str,
    to_email: str,
    facts: BookingFacts,
    invite: bytes | None,
    invite_method: Literal["REQUEST", "CANCEL"] | None,
) -> EmailMessage:
    """One notice. The Message-ID derives from the delivery key, so the (documented) rare
    resend after a crash carries the same Message-ID and mail clients can collapse it.

    The recipient goes through :func:`mail_address` (IDNA domain; a non-ASCII local part makes
    a UTF-8 message, sent with SMTPUTF8) and :func:`header_text` (no line break reaches a
    header). Raises :class:`MailUndeliverable` when the address cannot be written for mail."""
    ko, en = _SUBJECTS[kind]
    message = _addressed(settings, f"[나눔] {ko} / {en}", delivery_key, to_name, to_email)
    message["X-Nanum-Booking-Id"] = facts.booking_id
    message.set_content(_body(kind, facts, settings.base_url), charset="utf-8")
    if invite is not None and invite_method is not None:
        message.add_attachment(
            invite,
            maintype="text",
            subtype="calendar",
            params={"method": invite_method, "charset": "utf-8"},
            filename="invite.ics" if invite_method == "REQUEST" else "cancel.ics",
        )
    return message


_ACCOUNT_SUBJECTS: dict[AccountKind, tuple[str, str]] = {
    "verify_email": ("이메일 주소를 확인해 주세요", "Please confirm your e-mail address"),
    "account_exists": (
        "이 주소로 가입하려는 시도가 있었습니다",
        "Someone tried to register with your address",
    ),
    "password_reset": ("비밀번호 재설정", "Reset your password"),
}


def _account_body(kind: AccountKind, name: str, link: str, forgot_link: str) -> str:
    if kind == "verify_email":
        ko = (
            "나눔에 오신 것을 환영합니다. 아래 링크를 열어 이메일 주소를 확인해 주세요. "
            "확인해야 예약할 수 있습니다. 링크는 48시간 동안 한 번만 쓸 수 있습니다.\n\n"
            f"{link}\n\n직접 가입하지 않으셨다면 이 메일을 무시하세요."
        )
        en = (
            "Welcome to Nanum. Open the link below to confirm your e-mail address; you can "
            "book rooms once it is confirmed. The link works once, for 48 hours.\n\n"
            f"{link}\n\nIf you did not sign up, ignore this e-mail."
        )
    elif kind == "account_exists":
        ko = (
            "누군가 이 이메일 주소로 나눔에 가입하려고 했습니다. 이 주소에는 이미 계정이 있어 "
            "새 계정은 만들지 않았습니다.\n\n"
            f"본인이라면 로그인하세요: {link}\n"
            f"비밀번호가 기억나지 않으면 재설정하세요: {forgot_link}\n\n"
            "본인이 아니라면 이 메일을 무시하세요. 계정은 바뀌지 않았습니다."
        )
        en = (
            "Someone tried to register with this e-mail address. It already has an account, "
            "so no new one was made.\n\n"
            f"If it was you, sign in: {link}\n"
            f"Forgot your password? Reset it: {forgot_link}\n\n"
            "If it was not you, ignore this e-mail; nothing about your account changed."
        )
    else:
        ko = (
            "비밀번호 재설정을 요청하셨습니다. 아래 링크에서 새 비밀번호를 정하세요. "
            "링크는 1시간 동안 한 번만 쓸 수 있습니다.\n\n"
            f"{link}\n\n요청하지 않으셨다면 이 메일을 무시하세요. 비밀번호는 그대로입니다."
        )
        en = (
            "You asked to reset your password. Choose a new one with the link below; it works "
            "once, for one hour.\n\n"
            f"{link}\n\nIf you did not ask, ignore this e-mail; your password is unchanged."
        )
    return f"{name}님,\n\n{ko}\n\n---\n\n{en}\n\n나눔 Nanum\n"


def build_account_message(
    settings: Settings,
    *,
    kind: AccountKind,
    delivery_key: str,
    to_name: str,
    to_email: str,
    link: str,
    forgot_link: str,
) -> EmailMessage:
    """An account mail (Korean, then English); Message-ID from the delivery key."""
    ko, en = _ACCOUNT_SUBJECTS[kind]
    message = _addressed(settings, f"[나눔] {ko} / {en}", delivery_key, to_name, to_email)
    message.set_content(_account_body(kind, to_name, link, forgot_link), charset="utf-8")
    return message


async def send_message(
    settings: Settings, message: EmailMessage, on_accepted: Callable[[], Awaitable[None]]
) -> None:
    """Hand the message to the SMTP server and run ``on_accepted`` the moment it accepted
    (before QUIT, to keep the accepted-but-not-recorded window short); raise MailRefused
    unless it was accepted: MailUndeliverable when retrying cannot help (no SMTPUTF8 for a
    non-ASCII address, a 5xx answer)."""
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username or None,
        password=settings.smtp_password or None,
        start_tls=settings.smtp_starttls,
        timeout=SMTP_TIMEOUT,
    )
    try:
        await client.connect()
        await client.send_message(message)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        client.close()
        error = MailUndeliverable if _permanent(exc) else MailRefused
        raise error(f"{type(exc).__name__}: {exc}") from exc
    try:
        await on_accepted()
    finally:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            await client.quit()
        client.close()


def _permanent(exc: BaseException) -> bool:
    """Whether the server's refusal holds for good (RFC 5321: 5xx), or it cannot carry the
    message at all (no SMTPUTF8); 4xx, timeouts and lost connections are worth a retry."""
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return True
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(r.code >= 500 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code >= 500
    return False
