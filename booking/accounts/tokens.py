"""Tokens sent by e-mail (verification, password reset): derived, never stored.

A token is HMAC-SHA256(secret key, purpose | outbox row | user), URL-safe base64. The API
writes the outbox row that asks for the mail and, in the same transaction, the token's SHA-256
with its expiry (table ``account_tokens``); the worker derives the same token again when it
writes the mail. So the token is in no table, job argument or log, a retried mail carries the
same link, and changing ``BOOKING_SECRET_KEY`` voids the links not used yet.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from typing import Literal

from booking.settings import Settings

__all__ = ("TOKEN_TTL_SECONDS", "Purpose", "derive_token", "token_hash")

Purpose = Literal["verify", "reset"]
TOKEN_TTL_SECONDS: dict[Purpose, int] = {"verify": 48 * 3600, "reset": 3600}


def derive_token(settings: Settings, purpose: Purpose, outbox_id: int, user_id: uuid.UUID) -> str:
    message = f"nanum-account-token|{purpose}|{outbox_id}|{user_id}".encode()
    digest = hmac.new(settings.secret_key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
