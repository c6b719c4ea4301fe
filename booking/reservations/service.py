"""Booking rules and transactions: who may do what to a booking, and what a refusal means.

Postgres decides conflicts (``booking_no_overlap``) and the policy (``booking_check_policy``);
this module decides authorization; :func:`booking.errors.refusal_problem` turns the database's
refusals into problems.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus

import asyncpg
import msgspec

from booking.accounts.auth import Principal
from booking.db import Conn
from booking.errors import Conflict, Forbidden, NotFound, invalid, refusal_problem
from booking.http import check_instant
from booking.localtime import to_local
from booking.reservations import queries
from booking.reservations.idempotency import check_key, request_fingerprint
from booking.reservations.queries import BookingRow, ConflictRow
from schemas.reservations import (
    Alternative,
    Booking,
    BookingCreate,
    BookingPage,
    Interval,
    Quote,
)

__all__ = (
    "BookingAnswer",
    "approve_booking",
    "cancel_booking",
    "create_booking",
    "forget_expired_idempotency_keys",
    "get_booking",
    "list_institution_bookings",
    "list_my_bookings",
    "reject_booking",
    "reschedule_booking",
    "transition",
)

# SQLSTATEs that mean "someone else holds (or is taking) this slot".
_SLOT_TAKEN = {"23P01", "40P01"}

_booking_json = msgspec.json.Decoder(Booking)
_quote_json = msgspec.json.Decoder(Quote)


@dataclass(frozen=True, slots=True)
class BookingAnswer:
    """``book()``'s answer: the booking as JSON, exactly as the API sends it (written by
    sql/functions/booking_json.sql, instants in the institution's offset), its id, and whether
    it replays an earlier answer for the same Idempotency-Key."""

    body: bytes
    booking_id: uuid.UUID
    replayed: bool

    @property
    def booking(self) -> Booking:
        return _booking_json.decode(self.body)


@dataclass(frozen=True, slots=True)
class _Alternatives:
    stamp: str
    intervals: list[Interval]
    expires: float


class _AlternativesCache:
    """The alternatives last offered for a (room, start, end), per process, keyed further by the
    ``stamp`` of everything they depend on (bookings, room, institution, rules, closures; see
    ``booking_conflict()``), so a booking change invalidates them exactly; the clock (lead time,
    horizon) is covered by a short time to live. When many attempts on one slot lose at once,
    the first computes the alternatives and the others wait for it. ``book()`` answers a slot
    taken before the attempt with the stamp itself, so those losers cost one round trip; an
    attempt that meets the constraint at its insert asks ``booking_conflict`` (a second)."""

    def __init__(self, size: int = 1024, ttl_seconds: float = 1.0) -> None:
        self._size = size
        self._ttl = ttl_seconds
        self._items: OrderedDict[tuple[uuid.UUID, datetime, datetime], _Alternatives] = (
            OrderedDict()
        )
        self._computing: dict[
            tuple[uuid.UUID, datetime, datetime], asyncio.Future[_Alternatives | None]
        ] = {}

    def _fresh(self, key: tuple[uuid.UUID, datetime, datetime]) -> _Alternatives | None:
        entry = self._items.get(key)
        if entry is not None and entry.expires <= time.monotonic():
            del self._items[key]
            return None
        return entry

    async def explain(
        self,
        conn: Conn,
        room_id: uuid.UUID,
        start: datetime,
        end: datetime,
        exclude: uuid.UUID | None,
        taken: ConflictRow | None = None,
    ) -> tuple[list[Interval], list[Alternative], Quote]:
        """(conflicts, alternatives, the quote of the range) for a 409 on ``[start, end)``.

        ``taken`` is what ``book()`` already answered for a slot it found taken (stamp,
        conflicts, quote): when the alternatives held for that stamp are known (or being
        computed by another loser of the same slot), no further round trip is made."""
        key = (room_id, start, end)
        known = self._fresh(key)
        if known is None and (pending := self._computing.get(key)) is not None:
            known = await asyncio.shield(pending)
        if taken is not None and known is not None and known.stamp == taken.stamp:
            return self._answer(taken.conflicts, taken.timezone, taken.fee, known)
        computing: asyncio.Future[_Alternatives | None] | None = None
        if known is None:
            computing = asyncio.get_running_loop().create_future()
            self._computing[key] = computing
        entry: _Alternatives | None = None
        try:
            row = await queries.conflict(
                conn,
                room_id,
                start,
                end,
                exclude=exclude,
                known_stamp=known.stamp if known is not None else None,
            )
            if row.alternatives is None and known is not None:
                entry = known
            else:
                entry = _Alternatives(
                    stamp=row.stamp,
                    intervals=_intervals(row.alternatives or [], row.timezone),
                    expires=time.monotonic() + self._ttl,
                )
                self._items[key] = entry
                self._items.move_to_end(key)
                if len(self._items) > self._size:
                    self._items.popitem(last=False)
        finally:
            if computing is not None:
                del self._computing[key]
                computing.set_result(entry)
        return self._answer(row.conflicts, row.timezone, row.fee, entry)

    @staticmethod
    def _answer(
        conflicts: list[asyncpg.Range[datetime]], timezone: str, fee: str, entry: _Alternatives
    ) -> tuple[list[Interval], list[Alternative], Quote]:
        taken = _intervals(conflicts, timezone)
        # Alternatives have the requested length, so booking_fee() quotes them the same.
        quote = _quote_json.decode(fee)
        alternatives = [Alternative(start=i.start, end=i.end, fee=quote) for i in entry.intervals]
        return taken, alternatives, quote


_alternatives = _AlternativesCache()


def _intervals(ranges: list[asyncpg.Range[datetime]], timezone: str) -> list[Interval]:
    """Ranges from Postgres as intervals in the institution's offset (bounds never infinite)."""
    out: list[Interval] = []
    for r in ranges:
        assert r.lower is not None and r.upper is not None
        out.append(Interval(start=to_local(r.lower, timezone), end=to_local(r.upper, timezone)))
    return out


async def _slot_taken(
    conn: Conn,
    room_id: uuid.UUID,
    start: datetime,
    end: datetime,
    *,
    exclude: uuid.UUID | None = None,
    taken: ConflictRow | None = None,
) -> Conflict:
    """409 naming the overlapping ranges (never who holds them) and up to three alternatives."""
    taken_ranges, free, quote = await _alternatives.explain(
        conn, room_id, start, end, exclude, taken
    )
    return Conflict(
        "This room is already booked for part of that time.",
        code="slot-taken",
        title="Slot taken",
        extra={"conflicts": taken_ranges, "alternatives": free, "fee": quote},
    )


def _check_range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise invalid("end", "must be after start", detail="end must be after start.")


async def create_booking(
    pool: asyncpg.Pool, citizen_id: uuid.UUID, body: BookingCreate, idempotency_key: str | None
) -> BookingAnswer:
    """Book in one statement; a conflict costs one more to explain itself."""
    key = check_key(idempotency_key)
    _check_range(body.start, body.end)
    async with pool.acquire() as conn:
        try:
            row = await queries.book(
                conn,
                citizen_id=citizen_id,
                room_id=body.room_id,
                start=body.start,
                end=body.end,
                purpose=body.purpose,
                purpose_public=body.purpose_public,
                attendees=body.attendees,
                idempotency_key=key,
                request_hash=request_fingerprint(body) if key is not None else None,
            )
        except asyncpg.PostgresError as exc:
            if exc.sqlstate in _SLOT_TAKEN:
                raise await _slot_taken(conn, body.room_id, body.start, body.end) from None
            problem = refusal_problem(exc)
            if problem is None:
                raise
            raise problem from None
        if row.status_code == HTTPStatus.CONFLICT:
            # Taken before this attempt: book() said so with what the 409 names, in one call.
            taken = queries.taken_row(row.body)
            raise await _slot_taken(conn, body.room_id, body.start, body.end, taken=taken)
    body_json = row.body.encode()
    # A replay carries no id of its own (the stored answer has it).
    booking_id = row.booking_id or _booking_json.decode(body_json).id
    return BookingAnswer(body=body_json, booking_id=booking_id, replayed=row.replayed)


def _to_booking(row: BookingRow, *, with_citizen: bool) -> Booking:
    """The answer for a booking, every instant in its institution's offset."""
    tz = row.timezone
    return Booking(
        id=row.id,
        status=row.status,
        room_id=row.room_id,
        start=to_local(row.start, tz),
        end=to_local(row.end, tz),
        purpose=row.purpose,
        purpose_public=row.purpose_public,
        attendees=row.attendees,
        sequence=row.sequence,
        created_at=to_local(row.created_at, tz),
        updated_at=to_local(row.updated_at, tz),
        fee=_quote_json.decode(row.fee),
        citizen_name=row.citizen_name if with_citizen else None,
    )


def _present(row: BookingRow, principal: Principal) -> Booking:
    return _to_booking(row, with_citizen=principal.manages(row.institution_id))


def _visible(row: BookingRow | None, principal: Principal) -> BookingRow:
    """The booking if the caller owns it or manages its room; otherwise it does not exist."""
    if row is None or not (row.citizen_id == principal.id or principal.manages(row.institution_id)):
        raise NotFound("No such booking.")
    return row


def _illegal(status: str, detail: str) -> Conflict:
    return Conflict(
        detail,
        code="illegal-transition",
        title="Not possible in this status",
        extra={"current_status": status},
    )


async def get_booking(pool: asyncpg.Pool, principal: Principal, booking_id: uuid.UUID) -> Booking:
    async with pool.acquire() as conn:
        row = _visible(await queries.fetch_booking(conn, booking_id), principal)
    return _present(row, principal)


async def transition(
    conn: Conn,
    booking_id: uuid.UUID,
    to_status: str,
    *,
    from_statuses: tuple[str, ...],
    actor_id: uuid.UUID | None,
    reason: str = "",
    topic: str | None,
) -> None:
    """A status change for any caller (workers too): history, sequence bump, outbox row.
    Raises a 409 :class:`Problem` naming the current status when the change is not allowed."""
    try:
        await queries.transition(
            conn,
            booking_id,
            to_status,
            from_statuses=from_statuses,
            actor_id=actor_id,
            reason=reason,
            topic=topic,
        )
    except asyncpg.PostgresError as exc:
        problem = refusal_problem(exc)
        if problem is None:
            raise
        raise problem from None


async def _decide(
    pool: asyncpg.Pool,
    principal: Principal,
    booking_id: uuid.UUID,
    *,
    to_status: str,
    topic: str,
    reason: str,
) -> Booking:
    """Approve or reject: the booking's managers only (never on their own booking: roles are
    capabilities, and nobody decides their own case), pending only, not after it ended."""
    async with pool.acquire() as conn, conn.transaction():
        row = _visible(await queries.lock_booking(conn, booking_id), principal)
        if not principal.manages(row.institution_id):
            raise Forbidden("Only the room's managers decide on bookings.")
        if row.citizen_id == principal.id:
            raise _own_booking("decide on")
        if row.status != "pending":
            raise _illegal(row.status, f"Only a pending booking can become {to_status}.")
        if to_status == "confirmed" and row.end <= datetime.now(UTC):
            raise _illegal(row.status, "This booking is already over.")
        await transition(
            conn,
            booking_id,
            to_status,
            from_statuses=("pending",),
            actor_id=principal.id,
            reason=reason,
            topic=topic,
        )
        fresh = await queries.fetch_booking(conn, booking_id)
    assert fresh is not None
    return _present(fresh, principal)


def _own_booking(act: str) -> Forbidden:
    return Forbidden(
        f"Nobody may {act} their own booking: another manager of the institution or an "
        "administrator does.",
        code="own-booking",
        title="Your own booking",
    )


async def approve_booking(
    pool: asyncpg.Pool, principal: Principal, booking_id: uuid.UUID
) -> Booking:
    return await _decide(
        pool, principal, booking_id, to_status="confirmed", topic="booking.approved", reason=""
    )


async def reject_booking(
    pool: asyncpg.Pool, principal: Principal, booking_id: uuid.UUID, reason: str
) -> Booking:
    return await _decide(
        pool, principal, booking_id, to_status="rejected", topic="booking.rejected", reason=reason
    )


async def cancel_booking(
    pool: asyncpg.Pool, principal: Principal, booking_id: uuid.UUID, reason: str | None
) -> Booking:
    """The owner before the start; the room's managers (with a reason) until the end. A
    manager who booked the room themself cancels it as its owner (before the start only)."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        row = _visible(await queries.lock_booking(conn, booking_id), principal)
        owner = row.citizen_id == principal.id
        manager = principal.manages(row.institution_id) and not owner
        if row.status not in ("pending", "confirmed"):
            raise _illegal(row.status, "Only a pending or confirmed booking can be cancelled.")
        if row.end <= now:
            raise _illegal(row.status, "A past booking cannot be cancelled.")
        if not manager and row.start <= now:
            raise _illegal(row.status, "A booking that has started cannot be cancelled.")
        if manager and not reason:
            raise invalid(
                "reason",
                "required for managers",
                detail="Managers must give a reason when they cancel a citizen's booking.",
            )
        await transition(
            conn,
            booking_id,
            "cancelled",
            from_statuses=("pending", "confirmed"),
            actor_id=principal.id,
            reason=reason or "",
            topic="booking.cancelled",
        )
        fresh = await queries.fetch_booking(conn, booking_id)
    assert fresh is not None
    return _present(fresh, principal)


async def reschedule_booking(
    pool: asyncpg.Pool,
    principal: Principal,
    booking_id: uuid.UUID,
    start: datetime,
    end: datetime,
) -> Booking:
    """Move the owner's booking atomically: on any refusal the old booking is untouched."""
    _check_range(start, end)
    room_id: uuid.UUID | None = None
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                row = _visible(await queries.lock_booking(conn, booking_id), principal)
                room_id = row.room_id
                if row.citizen_id != principal.id:
                    raise Forbidden("Only the citizen who booked can reschedule.")
                await queries.reschedule(conn, booking_id, principal.id, start, end)
                fresh = await queries.fetch_booking(conn, booking_id)
        except asyncpg.PostgresError as exc:
            if exc.sqlstate in _SLOT_TAKEN and room_id is not None:
                raise await _slot_taken(conn, room_id, start, end, exclude=booking_id) from None
            problem = refusal_problem(exc)
            if problem is None:
                raise
            raise problem from None
    assert fresh is not None
    return _present(fresh, principal)


def _encode_cursor(row: BookingRow) -> str:
    raw = f"{row.start.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        start, _, booking_id = raw.partition("|")
        at = datetime.fromisoformat(start)
        if at.tzinfo is None:
            raise ValueError(cursor)
        return check_instant(at, "cursor"), uuid.UUID(booking_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid(
            "cursor", "invalid cursor", detail="cursor is not one this API returned."
        ) from None


def _check_window(window_from: datetime | None, window_to: datetime | None) -> None:
    for name, value in (("from", window_from), ("to", window_to)):
        if value is not None and value.tzinfo is None:
            raise invalid(
                name, "needs an offset", detail=f"{name} must be an RFC 3339 time with an offset."
            )


def _page(
    rows: list[BookingRow], limit: int, present: Callable[[BookingRow], Booking]
) -> BookingPage:
    """One keyset page from ``limit + 1`` rows: the extra row only says another page exists."""
    more = len(rows) > limit
    rows = rows[:limit]
    return BookingPage(
        items=[present(r) for r in rows],
        next_cursor=_encode_cursor(rows[-1]) if more and rows else None,
    )


async def list_my_bookings(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    status: str | None,
    window_from: datetime | None,
    window_to: datetime | None,
    cursor: str | None,
    limit: int,
) -> BookingPage:
    _check_window(window_from, window_to)
    after = _decode_cursor(cursor)
    async with pool.acquire() as conn:
        rows = await queries.list_citizen_bookings(
            conn,
            principal.id,
            status=status,
            window_from=window_from,
            window_to=window_to,
            after=after,
            limit=limit + 1,
        )
    return _page(rows, limit, lambda r: _to_booking(r, with_citizen=False))


async def list_institution_bookings(
    pool: asyncpg.Pool,
    principal: Principal,
    institution_id: uuid.UUID,
    *,
    status: str | None,
    room_id: uuid.UUID | None,
    window_from: datetime | None,
    window_to: datetime | None,
    cursor: str | None,
    limit: int,
) -> BookingPage:
    """The institution's managers (and admins) only; an unknown institution is 404."""
    _check_window(window_from, window_to)
    after = _decode_cursor(cursor)
    async with pool.acquire() as conn:
        if not await queries.institution_exists(conn, institution_id):
            raise NotFound("No such institution.")
        if not principal.manages(institution_id):
            raise Forbidden("Only this institution's managers see its bookings.")
        rows = await queries.list_institution_bookings(
            conn,
            institution_id,
            status=status,
            room_id=room_id,
            window_from=window_from,
            window_to=window_to,
            after=after,
            limit=limit + 1,
        )
    return _page(rows, limit, lambda r: _present(r, principal))


async def forget_expired_idempotency_keys(pool: asyncpg.Pool) -> int:
    """Forget Idempotency-Keys older than the 24 h they are honoured for; returns how many."""
    async with pool.acquire() as conn:
        return await queries.delete_expired_idempotency_keys(conn)
