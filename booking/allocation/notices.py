"""The draw's result e-mail: one per applicant of a round (one ``allocation.drawn`` outbox row
each, written by the draw's transaction), sent once through the deliveries table like every
notice (delivery key ``outbox:{id}:draw_result:{citizen}``)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from zoneinfo import ZoneInfo

import asyncpg

from booking.allocation import queries
from booking.notifications import queries as delivery
from booking.notifications.mail import MailRefused, send_message
from booking.settings import Settings

__all__ = ("DRAW_TOPIC", "send_draw_result")

DRAW_TOPIC = "allocation.drawn"

_OUTCOMES = {
    "won": ("당첨 — 예약되었습니다", "won — booked for you"),
    "slot_taken": (
        "당첨되었으나 이미 예약된 시간이었습니다",
        "won, but the time was already taken",
    ),
    "won_elsewhere": ("다른 시간에 당첨되어 제외", "not counted: you won another slot"),
    "ineligible": (
        "이번 달 한도 또는 이용 정지로 제외",
        "not eligible (monthly cap or suspension)",
    ),
    "waitlisted": ("미당첨 — 대기 {place}번", "not won — number {place} on the waitlist"),
}


def _line(row: asyncpg.Record) -> tuple[str, str]:
    zone = ZoneInfo(row["timezone"])
    when = f"{row['start'].astimezone(zone):%Y-%m-%d %H:%M}–{row['end'].astimezone(zone):%H:%M}"
    ko, en = _OUTCOMES[row["outcome"]]
    place = row["waitlist_place"]
    return f"{when}: {ko.format(place=place)}", f"{when}: {en.format(place=place)}"


async def send_draw_result(pool: asyncpg.Pool, settings: Settings, outbox_id: int) -> int:
    """Send the result e-mail of one outbox row; 1 if sent now, 0 if already sent or nobody."""
    async with pool.acquire() as conn:
        rows = await queries.draw_notice(conn, outbox_id)
        if not rows or not rows[0]["citizen_active"]:
            return 0
        first = rows[0]
        key = f"outbox:{outbox_id}:draw_result:{first['citizen_id']}"
        won = next((r for r in rows if r["outcome"] == "won"), None)
        if not await delivery.begin_delivery(
            conn, key, "draw_result", won["booking_id"] if won else None, first["email"]
        ):
            return 0
        lines = [_line(r) for r in rows]
        link = f"{settings.base_url}/v1/rounds/{first['round_id']}/result"
        body = (
            f"{first['name']}님,\n\n추첨 결과를 알려 드립니다: {first['title']}\n"
            f"장소: {first['room_name']} — {first['institution_name']}\n\n"
            + "".join(f"- {ko}\n" for ko, _ in lines)
            + "\n---\n\n"
            f"The lottery '{first['title']}' was drawn.\n"
            f"Room: {first['room_name']} — {first['institution_name']}\n\n"
            + "".join(f"- {en}\n" for _, en in lines)
            + f"\n공개 추첨 기록 / Public draw record (verify it with scripts/verify_draw.py):\n"
            f"{link}\n\n나눔 Nanum\n"
        )
        message = EmailMessage()
        outcome = "당첨" if won else "미당첨"
        message["Subject"] = f"[나눔] 추첨 결과: {outcome} / Lottery result: {first['title']}"
        message["From"] = settings.mail_from
        message["To"] = formataddr((first["name"], first["email"]))
        message["Date"] = format_datetime(datetime.now(UTC))
        domain = settings.mail_from.rpartition("@")[2].rstrip(">") or "nanum.localhost"
        message["Message-ID"] = f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"
        message["X-Nanum-Delivery-Key"] = key
        message["X-Nanum-Round-Id"] = str(first["round_id"])
        message.set_content(body, charset="utf-8")
        try:
            await send_message(settings, message, lambda: delivery.mark_delivery_sent(conn, key))
        except MailRefused as exc:
            await delivery.mark_delivery_failed(conn, key, str(exc))
            raise
    return 1
