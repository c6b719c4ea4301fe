"""iCalendar output, built with the ``icalendar`` library (never by string concatenation).

Every time is written in UTC (``...Z``): no VTIMEZONE is needed, every client understands it and
shows it in the viewer's own zone. Nothing in the output depends on the clock: DTSTAMP and
LAST-MODIFIED come from the booking's ``updated_at``, so unchanged data gives identical bytes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta
from email.utils import parseaddr
from typing import Literal

from icalendar import Calendar, Event, vCalAddress, vText

from booking.db import Conn
from booking.feeds.queries import FeedBooking, booking_event_row

__all__ = (
    "FEED_FORMAT",
    "PRODID",
    "Audience",
    "booking_event",
    "booking_invite",
    "booking_uid",
    "event_bytes",
    "feed_calendar",
    "single_event_calendar",
)

FEED_FORMAT = "1"
"""Part of every feed ETag: bump it whenever the rendered output changes for the same data."""
PRODID = "-//Nanum//Nanum Calendar Feeds 1.0//KO"
REFRESH = timedelta(minutes=15)
DEFAULT_ORGANIZER = "Nanum <no-reply@nanum.localhost>"

Audience = Literal["public", "owner", "manager"]
"""Who reads the event: anyone (busy block), the booker, or a manager of the institution."""

_ICAL_STATUS = {
    "pending": "TENTATIVE",
    "offered": "TENTATIVE",
    "confirmed": "CONFIRMED",
    "checked_in": "CONFIRMED",
    "completed": "CONFIRMED",
    "no_show": "CONFIRMED",
    "cancelled": "CANCELLED",
    "rejected": "CANCELLED",
}
_STATUS_LABEL = {
    "pending": "승인 대기 / pending approval",
    "offered": "대기자 제안 / offered from the waitlist",
    "confirmed": "확정 / confirmed",
    "checked_in": "입실 / checked in",
    "completed": "이용 완료 / completed",
    "no_show": "미이용 / no-show",
    "cancelled": "취소 / cancelled",
    "rejected": "거절 / rejected",
}
PUBLIC_SUMMARY = "Reserved / 예약됨"


def booking_uid(booking_id: uuid.UUID) -> str:
    """The one UID of a booking in every feed, download and invitation; never changes."""
    return f"{booking_id}@nanum"


def _location(b: FeedBooking) -> str:
    return ", ".join(part for part in (b.room_name, b.institution_name, b.address) if part)


def _summary(b: FeedBooking, audience: Audience) -> str:
    if audience == "public":
        purpose = b.purpose.strip()
        return purpose if b.purpose_public and purpose else PUBLIC_SUMMARY
    room_en = b.room_name_en or b.room_name
    if audience == "owner":
        return f"{b.room_name} 예약 / Booking: {room_en}"
    prefix = "[승인 대기 / Pending] " if b.status == "pending" else ""
    return f"{prefix}{b.booker_name} ({b.attendees}명 / people) · {b.room_name}"


def _description(b: FeedBooking, audience: Audience, booking_url: str) -> str | None:
    if audience == "public":
        return None
    lines: list[str] = []
    if audience == "manager":
        lines.append(f"예약자 / Booked by: {b.booker_name}")
    lines.append(f"인원 / Attendees: {b.attendees}")
    if b.purpose.strip():
        lines.append(f"목적 / Purpose: {b.purpose.strip()}")
    lines.append(f"상태 / Status: {_STATUS_LABEL.get(b.status, b.status)}")
    lines.append(f"예약 / Booking: {booking_url}")
    return "\n".join(lines)


def booking_event(b: FeedBooking, audience: Audience, base_url: str) -> Event:
    """The VEVENT of one booking as ``audience`` may see it."""
    base = base_url.rstrip("/")
    booking_url = f"{base}/v1/bookings/{b.id}"
    event = Event()
    event.add("uid", booking_uid(b.id))
    event.add("dtstamp", b.updated_at)
    event.add("created", b.created_at)
    event.add("last-modified", b.updated_at)
    event.add("sequence", b.sequence)
    event.add("dtstart", b.starts_at)
    event.add("dtend", b.ends_at)
    event.add("summary", _summary(b, audience))
    description = _description(b, audience, booking_url)
    if description is not None:
        event.add("description", description)
    event.add("location", _location(b))
    if b.latitude is not None and b.longitude is not None:
        event.add("geo", (b.latitude, b.longitude))
    # The public cannot open a booking; they get the room instead.
    event.add("url", f"{base}/v1/rooms/{b.room_id}" if audience == "public" else booking_url)
    status = _ICAL_STATUS.get(b.status, "CONFIRMED")
    event.add("status", status)
    event.add("transp", "TRANSPARENT" if status == "CANCELLED" else "OPAQUE")
    return event


def _calendar(name: str, method: str | None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method is not None:
        cal.add("method", method)
    cal.add("name", vText(name))
    cal.add("x-wr-calname", vText(name))
    return cal


_END_CALENDAR = b"END:VCALENDAR\r\n"


def feed_calendar(name: str, events: Iterable[bytes]) -> bytes:
    """A subscription feed: no METHOD (it is not a scheduling message), refresh hints for clients.

    ``events`` are serialized VEVENTs (:func:`event_bytes`), so a feed whose bookings mostly did
    not change reuses their rendering. The result is byte for byte what icalendar writes for the
    calendar with those events added as components: a component is its BEGIN line, its own
    properties, its subcomponents, its END line, each content line folded on its own.
    """
    cal = _calendar(name, method=None)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vText("PT15M"))
    empty = bytes(cal.to_ical())
    head = empty.removesuffix(_END_CALENDAR)
    return b"".join((head, *events, _END_CALENDAR))


def event_bytes(b: FeedBooking, audience: Audience, base_url: str) -> bytes:
    """One booking's VEVENT as ``audience`` sees it, serialized."""
    return bytes(booking_event(b, audience, base_url).to_ical())


def single_event_calendar(b: FeedBooking, audience: Audience, base_url: str) -> bytes:
    """One booking for "add to calendar" (METHOD:PUBLISH, as for any published event)."""
    cal = _calendar(b.room_name, method="PUBLISH")
    cal.add_component(booking_event(b, audience, base_url))
    return bytes(cal.to_ical())


def _mailto(address: str, name: str | None = None) -> vCalAddress:
    display, email = parseaddr(address)
    addr = vCalAddress(f"mailto:{email or address}")
    cn = name if name is not None else display
    if cn:
        addr.params["CN"] = cn
    return addr


async def booking_invite(
    conn: Conn,
    booking_id: uuid.UUID,
    method: Literal["REQUEST", "CANCEL"],
    base_url: str,
    *,
    organizer: str = DEFAULT_ORGANIZER,
) -> bytes | None:
    """An iTIP invitation (RFC 5546) for the booker's mailbox, or None if the booking is gone.

    ``organizer`` is an address like the ``mail_from`` setting (``Name <addr>`` or ``addr``).
    The UID is the feeds' UID, so a mail client and a subscribed feed update the same event.
    """
    b = await booking_event_row(conn, booking_id)
    if b is None:
        return None
    event = booking_event(b, "owner", base_url)
    if method == "CANCEL":
        event["status"] = "CANCELLED"
        event["transp"] = "TRANSPARENT"
    event.add("organizer", _mailto(organizer))
    attendee = _mailto(b.booker_email, b.booker_name)
    attendee.params["ROLE"] = "REQ-PARTICIPANT"
    if method == "REQUEST":
        attendee.params["PARTSTAT"] = "ACCEPTED"  # they booked it themselves
    attendee.params["RSVP"] = "FALSE"
    event.add("attendee", attendee)
    cal = _calendar(f"{b.room_name} 예약 / Booking", method=method)
    cal.add_component(event)
    return bytes(cal.to_ical())
