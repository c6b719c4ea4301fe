"""Idempotency-Key handling for ``POST /v1/bookings``.

The key is scoped to the caller and honoured for 24 hours. The first successful (201) answer
is stored with a fingerprint of the request body, inside the booking transaction itself (see
``book()`` in sql/0030_reservations.sql): the same key with the same body replays that answer
and creates nothing; the same key with another body is refused (422); a retry that arrives
while the first attempt is still running waits for it (up to 5 s) and replays its answer, and
only if the first is still running then is it refused with 409 ``idempotency-in-flight``.
A failed attempt stores nothing, so the key can be retried after fixing the request.
"""

from __future__ import annotations

import hashlib
from datetime import UTC

import msgspec

from booking.errors import invalid
from schemas.reservations import BookingCreate

__all__ = ("IDEMPOTENCY_HEADER", "MAX_KEY_LENGTH", "check_key", "request_fingerprint")

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def check_key(key: str | None) -> str | None:
    """The key, or a 422 when it is empty or longer than 255 characters."""
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise invalid(
            IDEMPOTENCY_HEADER,
            "1 to 255 characters",
            detail=f"{IDEMPOTENCY_HEADER} must be 1 to {MAX_KEY_LENGTH} characters.",
        )
    return key


def request_fingerprint(body: BookingCreate) -> bytes:
    """SHA-256 of the request's meaning: equal for bodies that differ only in formatting or
    in the offset the same instants were written with."""
    canonical = msgspec.json.encode(
        (
            str(body.room_id),
            body.start.astimezone(UTC).isoformat(),
            body.end.astimezone(UTC).isoformat(),
            body.purpose,
            body.purpose_public,
            body.attendees,
        )
    )
    return hashlib.sha256(canonical).digest()
