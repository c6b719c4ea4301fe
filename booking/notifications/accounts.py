"""Account mail: the welcome with its verification link, "someone tried to register with your
address", and the password reset link. One outbox row each (``account.*`` topics, written by
booking/accounts/service.py in the transaction that asked for it), sent once through the
deliveries table like every notice (delivery key ``outbox:{id}:{kind}:{user}``).

The link's token is derived again here from the outbox row (booking/accounts/tokens.py): the
database holds only its hash.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import asyncpg
import msgspec

from booking.accounts.service import ACCOUNT_TOPICS
from booking.accounts.tokens import derive_token
from booking.db import Conn
from booking.notifications import queries
from booking.notifications.mail import AccountKind, MailRefused, build_account_message, send_message
from booking.settings import Settings

__all__ = ("is_account_topic", "send_account_mail")

_KINDS: dict[str, AccountKind] = {
    "account.verify": "verify_email",
    "account.exists": "account_exists",
    "account.reset": "password_reset",
}
_PAGES: dict[AccountKind, str] = {
    "verify_email": "/verify-email",
    "account_exists": "/sign-in",
    "password_reset": "/reset-password",
}


class _Notice(msgspec.Struct, frozen=True):
    topic: str
    user_id: uuid.UUID
    email: str
    name: str
    active: bool


def is_account_topic(topic: str) -> bool:
    return topic in _KINDS


async def _notice(conn: Conn, outbox_id: int) -> _Notice | None:
    row = await conn.fetchrow(
        """
        SELECT o.topic, u.id, u.email, u.name, (u.deleted_at IS NULL AND u.disabled_at IS NULL)
        FROM outbox o JOIN users u ON u.id = (o.payload ->> 'user_id')::uuid
        WHERE o.id = $1 AND o.booking_id IS NULL
        """,
        outbox_id,
    )
    return None if row is None else _Notice(*row)


async def send_account_mail(pool: asyncpg.Pool, settings: Settings, outbox_id: int) -> int:
    """Send the mail of one ``account.*`` outbox row; 1 if sent now, 0 if already sent or the
    account is gone. Raises MailRefused (the job retries)."""
    async with pool.acquire() as conn:
        notice = await _notice(conn, outbox_id)
        if notice is None or not notice.active or notice.topic not in _KINDS:
            return 0
        kind = _KINDS[notice.topic]
        key = f"outbox:{outbox_id}:{kind}:{notice.user_id}"
        if not await queries.begin_delivery(conn, key, kind, None, notice.email):
            return 0
        link = settings.base_url + _PAGES[kind]
        purpose = ACCOUNT_TOPICS[notice.topic]
        if purpose is not None:
            token = derive_token(settings, purpose, outbox_id, notice.user_id)
            link += f"?token={quote(token)}"
        message = build_account_message(
            settings,
            kind=kind,
            delivery_key=key,
            to_name=notice.name,
            to_email=notice.email,
            link=link,
            forgot_link=settings.base_url + "/forgot-password",
        )
        try:
            await send_message(settings, message, lambda: queries.mark_delivery_sent(conn, key))
        except MailRefused as exc:
            await queries.mark_delivery_failed(conn, key, str(exc))
            raise
    return 1
