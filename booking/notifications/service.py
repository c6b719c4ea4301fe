"""What each booking event tells whom, deliveries that happen once, and reminders.

Notifications only send messages: status changes over time (check-in, no-show, completion)
live in ``booking/reservations/lifecycle.py``. Jobs in ``workers/`` are thin wrappers around
these functions.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import asyncpg

from booking.allocation.notices import DRAW_TOPIC, send_draw_result
from booking.feeds.ical import booking_invite
from booking.notifications import queries
from booking.notifications.accounts import is_account_topic, send_account_mail
from booking.notifications.mail import (
    BookingFacts,
    MailRefused,
    MailUndeliverable,
    NoticeKind,
    build_message,
    send_message,
)
from booking.notifications.queries import NoticeBooking, Recipient
from booking.settings import Settings

__all__ = (
    "REMINDERS",
    "Notice",
    "deliver",
    "due_reminders",
    "plan_notices",
    "process_outbox_event",
    "send_reminder",
)

log = logging.getLogger("booking.notifications")

InviteMethod = Literal["REQUEST", "CANCEL"]

# kind -> (how long before the start it is sent, the next shorter reminder's lead)
REMINDERS: dict[NoticeKind, tuple[timedelta, timedelta]] = {
    "reminder_24h": (timedelta(hours=24), timedelta(hours=1)),
    "reminder_1h": (timedelta(hours=1), timedelta(0)),
}


@dataclass(frozen=True, slots=True)
class Notice:
    """One e-mail to one person about one event."""

    kind: NoticeKind
    recipient_id: uuid.UUID
    name: str
    email: str
    invite: InviteMethod | None = None


def _facts(booking: NoticeBooking) -> BookingFacts:
    return BookingFacts(
        booking_id=str(booking.id),
        room=booking.room_name,
        institution=booking.institution_name,
        address=booking.address,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        timezone=booking.timezone,
        status=booking.status,
        citizen_name=booking.citizen_name,
        check_in_grace_minutes=booking.check_in_grace_minutes,
    )


def plan_notices(topic: str, booking: NoticeBooking, managers: list[Recipient]) -> list[Notice]:
    """Who hears what about ``topic``, given the booking as it is now.

    Invites (REQUEST) are only sent while the booking still holds its slot, so a confirmation
    processed after a cancellation never puts a dead booking back into a calendar.
    """
    status = booking.status
    citizen: tuple[uuid.UUID, str, str] | None = None
    if booking.citizen_active:  # a deleted or disabled account gets no mail
        citizen = (booking.citizen_id, booking.citizen_name, booking.citizen_email)

    def to_citizen(kind: NoticeKind, invite: InviteMethod | None = None) -> list[Notice]:
        if citizen is None:
            return []
        return [Notice(kind, citizen[0], citizen[1], citizen[2], invite)]

    def to_managers() -> list[Notice]:
        return [Notice("approval_needed", m.id, m.name, m.email) for m in managers]

    if topic in ("booking.created", "booking.rescheduled"):
        if status == "pending":
            return to_citizen("request_received") + to_managers()
        if status == "confirmed":
            kind: NoticeKind = "confirmation" if topic == "booking.created" else "rescheduled"
            return to_citizen(kind, "REQUEST")
        return []
    if topic == "booking.approved":
        return to_citizen("approved", "REQUEST") if booking.holds_slot else []
    if topic == "booking.rejected":
        return to_citizen("rejected")
    if topic == "booking.cancelled":
        return to_citizen("cancelled", "CANCEL")
    if topic == "booking.no_show":
        return to_citizen("no_show", "CANCEL")
    if topic == "booking.offered":
        return to_citizen("offer_made") if status == "offered" else []
    if topic == "booking.offer_expired":
        return to_citizen("offer_expired")
    # booking.checked_in, booking.completed: recorded for the history, nobody is mailed.
    return []


async def deliver(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    key: str,
    notice: Notice,
    booking: NoticeBooking,
) -> bool:
    """Send one notice at most once per delivery key; True if it was sent now.

    Order: record the key as ``sending`` -> SMTP accepts -> mark ``sent``. A retry skips keys
    already ``sent``; a crash after the server accepted but before ``sent`` was written resends
    once (same Message-ID). The mark is one autocommit statement on a connection held since
    before the send, run as soon as the server answers 250 (before QUIT).
    """
    async with pool.acquire() as conn:
        if not await queries.begin_delivery(conn, key, notice.kind, booking.id, notice.email):
            return False
        invite = None
        if notice.invite is not None:
            invite = await booking_invite(
                conn, booking.id, notice.invite, settings.base_url, organizer=settings.mail_from
            )
        try:
            message = build_message(
                settings,
                kind=notice.kind,
                delivery_key=key,
                to_name=notice.name,
                to_email=notice.email,
                facts=_facts(booking),
                invite=invite,
                invite_method=notice.invite if invite is not None else None,
            )
            await send_message(settings, message, lambda: queries.mark_delivery_sent(conn, key))
        except MailRefused as exc:
            await queries.mark_delivery_failed(conn, key, str(exc))
            raise
    return True


async def process_outbox_event(pool: asyncpg.Pool, settings: Settings, outbox_id: int) -> int:
    """Send every notice of one outbox row (reading the booking fresh); returns how many were
    sent now. Each recipient's message is tried whatever happened to the others; afterwards,
    if any failed, raises :class:`MailRefused` naming them (the job retries, skipping the keys
    already sent), or :class:`MailUndeliverable` when every failure is one retrying cannot
    help (the job records it at once)."""
    async with pool.acquire() as conn:
        event = await queries.outbox_event(conn, outbox_id)
        if event is not None and event.topic == DRAW_TOPIC:
            return await send_draw_result(pool, settings, outbox_id)
        if event is not None and is_account_topic(event.topic):
            return await send_account_mail(pool, settings, outbox_id)
        if event is None or event.booking_id is None:
            return 0
        booking = await queries.notice_booking(conn, event.booking_id)
        if booking is None:
            return 0
        managers: list[Recipient] = []
        if booking.status == "pending":
            managers = await queries.institution_managers(conn, booking.institution_id)
    sent = 0
    failures: list[tuple[str, Exception]] = []
    notices = plan_notices(event.topic, booking, managers)
    for notice in notices:
        key = f"outbox:{outbox_id}:{notice.kind}:{notice.recipient_id}"
        try:
            if await deliver(pool, settings, key=key, notice=notice, booking=booking):
                sent += 1
        except Exception as exc:  # noqa: BLE001 - one recipient's failure never stops the others
            log.warning("delivery %s failed: %s: %s", key, type(exc).__name__, exc)
            failures.append((key, exc))
    if failures:
        detail = "; ".join(f"{key}: {type(exc).__name__}: {exc}" for key, exc in failures)
        summary = f"{len(failures)} of {len(notices)} notices failed ({sent} sent now): {detail}"
        if all(isinstance(exc, MailUndeliverable) for _, exc in failures):
            raise MailUndeliverable(summary)
        raise MailRefused(summary)
    return sent


async def due_reminders(pool: asyncpg.Pool, kind: NoticeKind, now: datetime) -> list[uuid.UUID]:
    lead, floor = REMINDERS[kind]
    async with pool.acquire() as conn:
        return await queries.due_reminders(
            conn, kind, int(lead.total_seconds()), int(floor.total_seconds()), now
        )


async def send_reminder(
    pool: asyncpg.Pool, settings: Settings, booking_id: uuid.UUID, kind: NoticeKind
) -> bool:
    """One reminder per booking and kind (delivery key ``booking:{id}:{kind}``), only while
    the booking is still confirmed (never for a cancelled one)."""
    async with pool.acquire() as conn:
        booking = await queries.notice_booking(conn, booking_id)
    if booking is None or booking.status != "confirmed" or not booking.citizen_active:
        return False
    notice = Notice(kind, booking.citizen_id, booking.citizen_name, booking.citizen_email)
    return await deliver(
        pool, settings, key=f"booking:{booking_id}:{kind}", notice=notice, booking=booking
    )
