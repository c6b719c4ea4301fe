"""Rules of background work: what each booking event tells whom, deliveries that happen once,
reminders, no-shows, completion, and the citizen's check-in.

Jobs in ``workers/`` are thin wrappers around these functions; the HTTP check-in route too.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import asyncpg

from booking.accounts.auth import Principal
from booking.allocation.notices import DRAW_TOPIC, send_draw_result
from booking.errors import Conflict, Forbidden, NotFound, refusal_problem
from booking.feeds.ical import booking_invite
from booking.notifications import queries
from booking.notifications.mail import (
    BookingFacts,
    MailRefused,
    NoticeKind,
    build_message,
    send_message,
)
from booking.reservations.queries import transition
from booking.settings import Settings
from schemas.jobs import CheckInResult

__all__ = (
    "CHECK_IN_OPENS_BEFORE",
    "REMINDERS",
    "Notice",
    "check_in",
    "complete_ended_bookings",
    "deliver",
    "plan_notices",
    "process_outbox_event",
    "release_no_shows",
    "send_reminder",
)

log = logging.getLogger("booking.notifications")

InviteMethod = Literal["REQUEST", "CANCEL"]

CHECK_IN_OPENS_BEFORE = timedelta(minutes=15)
# kind -> (how long before the start it is sent, the next shorter reminder's lead)
REMINDERS: dict[NoticeKind, tuple[timedelta, timedelta]] = {
    "reminder_24h": (timedelta(hours=24), timedelta(hours=1)),
    "reminder_1h": (timedelta(hours=1), timedelta(0)),
}
_SLOT_HOLDING = frozenset({"pending", "confirmed", "checked_in"})


@dataclass(frozen=True, slots=True)
class Notice:
    """One e-mail to one person about one event."""

    kind: NoticeKind
    recipient_id: uuid.UUID
    name: str
    email: str
    invite: InviteMethod | None = None


def _facts(row: asyncpg.Record) -> BookingFacts:
    return BookingFacts(
        booking_id=str(row["id"]),
        room=row["room_name"],
        institution=row["institution_name"],
        address=row["address"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        timezone=row["timezone"],
        status=row["status"],
        citizen_name=row["citizen_name"],
        check_in_grace_minutes=row["check_in_grace_minutes"],
    )


def plan_notices(
    topic: str, booking: asyncpg.Record, managers: list[asyncpg.Record]
) -> list[Notice]:
    """Who hears what about ``topic``, given the booking as it is now.

    Invites (REQUEST) are only sent while the booking still holds its slot, so a confirmation
    processed after a cancellation never puts a dead booking back into a calendar.
    """
    status = booking["status"]
    citizen: tuple[uuid.UUID, str, str] | None = None
    if booking["citizen_active"]:  # a deleted or disabled account gets no mail
        citizen = (booking["citizen_id"], booking["citizen_name"], booking["citizen_email"])

    def to_citizen(kind: NoticeKind, invite: InviteMethod | None = None) -> list[Notice]:
        if citizen is None:
            return []
        return [Notice(kind, citizen[0], citizen[1], citizen[2], invite)]

    def to_managers() -> list[Notice]:
        return [Notice("approval_needed", m["id"], m["name"], m["email"]) for m in managers]

    if topic in ("booking.created", "booking.rescheduled"):
        if status == "pending":
            return to_citizen("request_received") + to_managers()
        if status == "confirmed":
            kind: NoticeKind = "confirmation" if topic == "booking.created" else "rescheduled"
            return to_citizen(kind, "REQUEST")
        return []
    if topic == "booking.approved":
        return to_citizen("approved", "REQUEST") if status in _SLOT_HOLDING else []
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
    booking: asyncpg.Record,
) -> bool:
    """Send one notice at most once per delivery key; True if it was sent now.

    Order: record the key as ``sending`` -> SMTP accepts -> mark ``sent``. A retry skips keys
    already ``sent``; a crash after the server accepted but before ``sent`` was written resends
    once (same Message-ID). The mark is one autocommit statement on a connection held since
    before the send, run as soon as the server answers 250 (before QUIT).
    """
    async with pool.acquire() as conn:
        if not await queries.begin_delivery(conn, key, notice.kind, booking["id"], notice.email):
            return False
        invite = None
        if notice.invite is not None:
            invite = await booking_invite(
                conn, booking["id"], notice.invite, settings.base_url, organizer=settings.mail_from
            )
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
        try:
            await send_message(settings, message, lambda: queries.mark_delivery_sent(conn, key))
        except MailRefused as exc:
            await queries.mark_delivery_failed(conn, key, str(exc))
            raise
    return True


async def process_outbox_event(pool: asyncpg.Pool, settings: Settings, outbox_id: int) -> int:
    """Send every notice of one outbox row (reading the booking fresh); returns how many were
    sent now. Raises on the first failure; notices already sent are skipped on the retry."""
    async with pool.acquire() as conn:
        event = await queries.outbox_event(conn, outbox_id)
        if event is not None and event["topic"] == DRAW_TOPIC:
            return await send_draw_result(pool, settings, outbox_id)
        if event is None or event["booking_id"] is None:
            return 0
        booking = await queries.notice_booking(conn, event["booking_id"])
        if booking is None:
            return 0
        managers: list[asyncpg.Record] = []
        if booking["status"] == "pending":
            managers = await queries.institution_managers(conn, booking["institution_id"])
    sent = 0
    for notice in plan_notices(event["topic"], booking, managers):
        key = f"outbox:{outbox_id}:{notice.kind}:{notice.recipient_id}"
        if await deliver(pool, settings, key=key, notice=notice, booking=booking):
            sent += 1
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
    if booking is None or booking["status"] != "confirmed" or not booking["citizen_active"]:
        return False
    notice = Notice(kind, booking["citizen_id"], booking["citizen_name"], booking["citizen_email"])
    return await deliver(
        pool, settings, key=f"booking:{booking_id}:{kind}", notice=notice, booking=booking
    )


async def _transition_each(
    pool: asyncpg.Pool, ids: list[uuid.UUID], to_status: str, reason: str, topic: str
) -> list[uuid.UUID]:
    """Move each booking in its own transaction; one that changed meanwhile (checked in,
    cancelled) is refused by ``booking_transition`` and skipped."""
    done: list[uuid.UUID] = []
    for booking_id in ids:
        try:
            async with pool.acquire() as conn, conn.transaction():
                await transition(
                    conn,
                    booking_id,
                    to_status,
                    from_statuses=("confirmed",)
                    if to_status == "no_show"
                    else (
                        "confirmed",
                        "checked_in",
                    ),
                    actor_id=None,
                    reason=reason,
                    topic=topic,
                )
        except asyncpg.PostgresError as exc:
            if refusal_problem(exc) is None:
                raise
            log.info("skipped %s -> %s: %s", booking_id, to_status, exc)
            continue
        done.append(booking_id)
    return done


async def release_no_shows(pool: asyncpg.Pool, now: datetime) -> list[uuid.UUID]:
    """Bookings not checked in within their room's grace period become ``no_show``; that
    status does not hold a slot, so the room is free again. The outbox row tells the citizen."""
    async with pool.acquire() as conn:
        ids = await queries.due_no_shows(conn, now)
    return await _transition_each(
        pool,
        ids,
        "no_show",
        "not checked in within the grace period; slot released",
        "booking.no_show",
    )


async def complete_ended_bookings(pool: asyncpg.Pool, now: datetime) -> list[uuid.UUID]:
    async with pool.acquire() as conn:
        ids = await queries.due_completions(conn, now)
    return await _transition_each(pool, ids, "completed", "ended", "booking.completed")


async def check_in(
    pool: asyncpg.Pool, principal: Principal, booking_id: uuid.UUID, now: datetime
) -> CheckInResult:
    """The owner checks in from 15 minutes before the start until the grace period ends."""
    async with pool.acquire() as conn, conn.transaction():
        row = await queries.booking_for_check_in(conn, booking_id)
        if row is None or (
            row["citizen_id"] != principal.id and not principal.manages(row["institution_id"])
        ):
            raise NotFound("No such booking.")
        if row["citizen_id"] != principal.id:
            raise Forbidden("Only the citizen who booked can check in.")
        opens = row["starts_at"] - CHECK_IN_OPENS_BEFORE
        closes = min(
            row["starts_at"] + timedelta(minutes=row["check_in_grace_minutes"]), row["ends_at"]
        )
        window = {
            "current_status": row["status"],
            "check_in_opens_at": opens.isoformat(),
            "check_in_closes_at": closes.isoformat(),
        }
        if row["status"] == "checked_in":
            return CheckInResult(booking_id=booking_id, status="checked_in")
        if row["status"] != "confirmed":
            raise Conflict(
                f"A {row['status']} booking cannot be checked in.",
                code="check-in-refused",
                title="Check-in refused",
                extra=window,
            )
        if not opens <= now < closes:
            raise Conflict(
                "Check-in is open from 15 minutes before the start until the grace period ends.",
                code="check-in-closed" if now >= closes else "check-in-not-open",
                title="Check-in not possible now",
                extra=window,
            )
        await transition(
            conn,
            booking_id,
            "checked_in",
            from_statuses=("confirmed",),
            actor_id=principal.id,
            reason="checked in",
            topic="booking.checked_in",
        )
    return CheckInResult(booking_id=booking_id, status="checked_in")
