"""Rules and transactions of fair allocation: who may do what to rounds, applications,
waitlists, offers and strikes, and the draw itself.

Postgres holds what must hold under concurrency: booking_no_overlap decides every slot (draw
winners and offers included), booking_check_allocation() the suspension and monthly caps, the
round guards the immutability of a published round. Every service takes ``now`` so tests can
drive the clock; the routes and jobs pass the real time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from booking.accounts.auth import Principal
from booking.allocation import draw as algorithm
from booking.allocation import queries
from booking.db import Conn
from booking.errors import Conflict, Forbidden, NotFound, Problem, refusal_problem
from booking.reservations.queries import transition
from schemas.allocation import (
    AllocationPolicy,
    Application,
    InstitutionAllocationPolicy,
    MyStrikes,
    Offer,
    Round,
    RoundCreate,
    RoundPhase,
    RoundResult,
    RoundSlot,
    RoundUpdate,
    SlotRange,
    SlotResult,
    Strike,
    WaitlistEntry,
    WaitlistJoin,
)
from schemas.common import FieldError

__all__ = (
    "DrawStatus",
    "accept_offer",
    "apply",
    "create_round",
    "decline_offer",
    "draw_due_rounds",
    "draw_round",
    "expire_offers",
    "forgive_strike",
    "freeze_due_rounds",
    "get_round",
    "join_waitlist",
    "leave_waitlist",
    "list_rounds",
    "lottery_rooms_managed",
    "my_applications",
    "my_rounds",
    "my_strikes",
    "my_waitlist",
    "offer_freed_slots",
    "pseudonym",
    "publish_round",
    "room_allocation_mode",
    "round_result",
    "set_institution_policy",
    "set_public_value",
    "set_room_policy",
    "update_round",
    "withdraw",
)

log = logging.getLogger("booking.allocation")

DrawStatus = Literal["drawn", "already_drawn", "not_due", "waiting_for_public_value", "unknown"]


def _invalid(field: str, message: str, detail: str | None = None) -> Problem:
    return Problem(
        detail or f"{field}: {message}",
        status=422,
        code="validation-error",
        title="Invalid request",
        errors=[FieldError(field=field, message=message)],
    )


def _refused(exc: asyncpg.PostgresError) -> Problem:
    problem = refusal_problem(exc)
    if problem is None:
        raise exc
    return problem


def pseudonym(salt: bytes, citizen_id: uuid.UUID) -> str:
    """A citizen's pseudonym in one round: HMAC-SHA256(round salt, citizen id), hex."""
    return hmac.new(salt, str(citizen_id).encode(), hashlib.sha256).hexdigest()


# --- policy ---------------------------------------------------------------------------------


async def set_room_policy(
    pool: asyncpg.Pool, principal: Principal, room_id: uuid.UUID, body: AllocationPolicy
) -> AllocationPolicy:
    async with pool.acquire() as conn, conn.transaction():
        room = await queries.room_of(conn, room_id)
        if room is None or not principal.manages(room["institution_id"]):
            raise NotFound("No such room (that you manage).")
        await queries.set_room_policy(
            conn, room_id, body.mode, body.monthly_cap_per_citizen, body.late_cancel_hours
        )
    return body


async def set_institution_policy(
    pool: asyncpg.Pool,
    principal: Principal,
    institution_id: uuid.UUID,
    body: InstitutionAllocationPolicy,
) -> InstitutionAllocationPolicy:
    if not principal.manages(institution_id):
        raise NotFound("No such institution (that you manage).")
    async with pool.acquire() as conn, conn.transaction():
        if not await queries.set_institution_policy(
            conn, institution_id, body.monthly_cap_per_citizen
        ):
            raise NotFound("No such institution (that you manage).")
    return body


# --- rounds ---------------------------------------------------------------------------------


def _phase(row: asyncpg.Record, now: datetime) -> RoundPhase:
    if row["published_at"] is None:
        return "draft"
    if row["drawn_at"] is not None:
        return "drawn"
    if now < row["opens_at"]:
        return "scheduled"
    if now < row["closes_at"]:
        return "open"
    return "closed"


async def _present(conn: Conn, row: asyncpg.Record, now: datetime) -> Round:
    slots = await queries.round_slots(conn, row["id"])
    published = row["published_at"] is not None
    return Round(
        id=row["id"],
        room_id=row["room_id"],
        title=row["title"],
        phase=_phase(row, now),
        opens_at=row["opens_at"],
        closes_at=row["closes_at"],
        draw_at=row["draw_at"],
        max_applications_per_citizen=row["max_applications_per_citizen"],
        institution_monthly_win_cap=row["institution_monthly_win_cap"],
        public_value_required=row["public_value_required"],
        algorithm=row["algorithm"],
        seed_commitment=row["seed_commitment"].hex() if published else None,
        list_hash=row["list_hash"].hex() if row["list_hash"] is not None else None,
        public_value=row["public_value"],
        published_at=row["published_at"],
        drawn_at=row["drawn_at"],
        slots=[
            RoundSlot(
                id=s["id"],
                position=s["position"],
                start=s["start"],
                end=s["end"],
                applications=s["applications"],
            )
            for s in slots
        ],
    )


def _check_round_times(
    opens_at: datetime, closes_at: datetime, draw_at: datetime, slots: list[SlotRange]
) -> None:
    if closes_at <= opens_at:
        raise _invalid("closes_at", "must be after opens_at")
    if draw_at < closes_at:
        raise _invalid("draw_at", "must not be before closes_at")
    ordered = sorted((s.start, s.end) for s in slots)
    for i, (start, end) in enumerate(ordered):
        if end <= start:
            raise _invalid("slots", "every slot must end after it starts")
        if start <= draw_at:
            raise _invalid("slots", "every slot must start after the draw")
        if i and start < ordered[i - 1][1]:
            raise _invalid("slots", "slots of a round must not overlap")


async def _managed_round(conn: Conn, principal: Principal, round_id: uuid.UUID) -> asyncpg.Record:
    row = await queries.lock_round(conn, round_id)
    if row is None or not principal.manages(row["institution_id"]):
        raise NotFound("No such round (that you manage).")
    return row


async def create_round(
    pool: asyncpg.Pool, principal: Principal, room_id: uuid.UUID, body: RoundCreate, now: datetime
) -> Round:
    _check_round_times(body.opens_at, body.closes_at, body.draw_at, body.slots)
    async with pool.acquire() as conn, conn.transaction():
        room = await queries.room_of(conn, room_id)
        if room is None or not principal.manages(room["institution_id"]):
            raise NotFound("No such room (that you manage).")
        if room["allocation_mode"] != "lottery":
            raise Conflict(
                "This room allocates first come, first served; set its allocation mode to "
                "lottery first (PUT /v1/rooms/{id}/allocation-policy).",
                code="room-not-lottery",
                title="Not a lottery room",
            )
        round_id = await queries.insert_round(
            conn,
            room_id=room_id,
            title=body.title,
            opens_at=body.opens_at,
            closes_at=body.closes_at,
            draw_at=body.draw_at,
            max_applications=body.max_applications_per_citizen,
            win_cap=body.institution_monthly_win_cap,
            public_value_required=body.public_value_required,
            seed=secrets.token_bytes(32),
            salt=secrets.token_bytes(32),
            created_by=principal.id,
        )
        await queries.replace_slots(conn, round_id, room_id, [(s.start, s.end) for s in body.slots])
        row = await queries.fetch_round(conn, round_id)
        assert row is not None
        return await _present(conn, row, now)


def _published(row: asyncpg.Record) -> Conflict:
    return Conflict(
        "A published round cannot change: its seed is committed and citizens may have applied.",
        code="round-locked",
        title="Round locked",
        extra={"rule": "round_published"},
    )


async def update_round(
    pool: asyncpg.Pool, principal: Principal, round_id: uuid.UUID, body: RoundUpdate, now: datetime
) -> Round:
    async with pool.acquire() as conn, conn.transaction():
        row = await _managed_round(conn, principal, round_id)
        if row["published_at"] is not None:
            raise _published(row)
        opens_at = body.opens_at or row["opens_at"]
        closes_at = body.closes_at or row["closes_at"]
        draw_at = body.draw_at or row["draw_at"]
        slots = body.slots
        if slots is None:
            slots = [
                SlotRange(start=s["start"], end=s["end"])
                for s in await queries.round_slots(conn, round_id)
            ]
        _check_round_times(opens_at, closes_at, draw_at, slots)
        await queries.update_round(
            conn,
            round_id,
            title=body.title or row["title"],
            opens_at=opens_at,
            closes_at=closes_at,
            draw_at=draw_at,
            max_applications=body.max_applications_per_citizen
            or row["max_applications_per_citizen"],
            win_cap=body.institution_monthly_win_cap
            if body.institution_monthly_win_cap is not None
            else row["institution_monthly_win_cap"],
            public_value_required=body.public_value_required
            if body.public_value_required is not None
            else row["public_value_required"],
        )
        if body.slots is not None:
            await queries.replace_slots(
                conn, round_id, row["room_id"], [(s.start, s.end) for s in body.slots]
            )
        fresh = await queries.fetch_round(conn, round_id)
        assert fresh is not None
        return await _present(conn, fresh, now)


async def publish_round(
    pool: asyncpg.Pool, principal: Principal, round_id: uuid.UUID, now: datetime
) -> Round:
    """Publish the commitment SHA-256(seed); from now on the round is immutable."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _managed_round(conn, principal, round_id)
        if row["published_at"] is not None:
            raise _published(row)
        if now >= row["closes_at"]:
            raise Conflict(
                "The application period has already ended; move it before publishing.",
                code="round-period-over",
                title="Period over",
            )
        await queries.mark_published(conn, round_id, now)
        fresh = await queries.fetch_round(conn, round_id)
        assert fresh is not None
        return await _present(conn, fresh, now)


async def set_public_value(
    pool: asyncpg.Pool, principal: Principal, round_id: uuid.UUID, value: str, now: datetime
) -> Round:
    """The public value (e.g. next lottery numbers) enters the draw; it is accepted only after
    the close, so nobody knew it while the list could still change, and only once."""
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                row = await _managed_round(conn, principal, round_id)
                if row["published_at"] is None or now < row["closes_at"]:
                    raise Conflict(
                        "The public value is entered after the application period closes.",
                        code="round-not-closed",
                        title="Round not closed",
                    )
                await queries.set_public_value(conn, round_id, value, now)
                fresh = await queries.fetch_round(conn, round_id)
                assert fresh is not None
                return await _present(conn, fresh, now)
        except asyncpg.PostgresError as exc:
            raise _refused(exc) from None


async def list_rounds(
    pool: asyncpg.Pool, principal: Principal | None, room_id: uuid.UUID, now: datetime
) -> list[Round]:
    async with pool.acquire() as conn:
        room = await queries.room_of(conn, room_id)
        if room is None:
            raise NotFound("No such room.")
        managed = principal is not None and principal.manages(room["institution_id"])
        rows = await queries.list_rounds(conn, room_id, with_drafts=managed)
        return [await _present(conn, r, now) for r in rows]


async def room_allocation_mode(pool: asyncpg.Pool, room_id: uuid.UUID) -> str | None:
    """``first_come`` or ``lottery``; None for no such room."""
    async with pool.acquire() as conn:
        room = await queries.room_of(conn, room_id)
    return None if room is None else str(room["allocation_mode"])


async def lottery_rooms_managed(pool: asyncpg.Pool, principal: Principal) -> list[uuid.UUID]:
    """The lottery rooms whose rounds this account manages (every one for an admin)."""
    async with pool.acquire() as conn:
        return await queries.lottery_rooms(
            conn, None if principal.is_admin else sorted(principal.institutions)
        )


async def get_round(
    pool: asyncpg.Pool, principal: Principal | None, round_id: uuid.UUID, now: datetime
) -> Round:
    async with pool.acquire() as conn:
        row = await queries.fetch_round(conn, round_id)
        if row is None or (
            row["published_at"] is None
            and not (principal is not None and principal.manages(row["institution_id"]))
        ):
            raise NotFound("No such round.")
        return await _present(conn, row, now)


# --- applications ---------------------------------------------------------------------------


def _not_open(row: asyncpg.Record, now: datetime) -> Conflict:
    return Conflict(
        "Applications are taken only while the round's application period is open.",
        code="round-not-open",
        title="Round not open",
        extra={"phase": _phase(row, now)},
    )


async def apply(
    pool: asyncpg.Pool, principal: Principal, round_id: uuid.UUID, slot_id: uuid.UUID, now: datetime
) -> Application:
    if principal.role != "citizen":
        raise Forbidden("Only citizen accounts apply for rooms.")
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                row = await queries.lock_round(conn, round_id, share=True)
                if row is None or row["published_at"] is None:
                    raise NotFound("No such round.")
                if not (row["opens_at"] <= now < row["closes_at"]) or row["frozen_at"]:
                    raise _not_open(row, now)
                until = await queries.suspended_until(conn, principal.id, now)
                if until is not None:
                    raise Forbidden(
                        f"Booking and applying are suspended until {until.isoformat()} after "
                        "repeated no-shows.",
                        code="booking-suspended",
                        title="Booking suspended",
                        extra={"suspended_until": until.isoformat()},
                    )
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(32, hashtext($1))", f"{round_id}:{principal.id}"
                )
                used = await queries.count_active_applications(conn, round_id, principal.id)
                if used >= row["max_applications_per_citizen"]:
                    raise Problem(
                        f"You may apply for at most {row['max_applications_per_citizen']} slots "
                        "in this round.",
                        status=422,
                        code="policy-violation",
                        title="Booking policy violated",
                        extra={"rule": "max_applications"},
                    )
                name = pseudonym(row["pseudonym_salt"], principal.id)
                application_id = await queries.insert_application(
                    conn, round_id, slot_id, principal.id, name, now
                )
                if application_id is None:
                    raise _invalid("slot_id", "not a slot of this round")
                mine = await queries.applications_of(conn, round_id, principal.id)
        except asyncpg.UniqueViolationError:
            raise Conflict(
                "You already applied for this slot.",
                code="already-applied",
                title="Already applied",
            ) from None
    return next(_application(a) for a in mine if a["id"] == application_id)


def _application(row: asyncpg.Record) -> Application:
    return Application(
        id=row["id"],
        round_id=row["round_id"],
        slot_id=row["slot_id"],
        start=row["start"],
        end=row["end"],
        pseudonym=row["pseudonym"],
        created_at=row["created_at"],
        outcome=row["outcome"],
    )


async def withdraw(
    pool: asyncpg.Pool,
    principal: Principal,
    round_id: uuid.UUID,
    application_id: uuid.UUID,
    now: datetime,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        row = await queries.lock_round(conn, round_id, share=True)
        if row is None or row["published_at"] is None:
            raise NotFound("No such round.")
        if not (row["opens_at"] <= now < row["closes_at"]) or row["frozen_at"]:
            raise _not_open(row, now)
        if not await queries.withdraw_application(
            conn, round_id, application_id, principal.id, now
        ):
            raise NotFound("No such application (of yours).")


async def my_applications(
    pool: asyncpg.Pool, principal: Principal, round_id: uuid.UUID
) -> list[Application]:
    async with pool.acquire() as conn:
        return [
            _application(r) for r in await queries.applications_of(conn, round_id, principal.id)
        ]


async def my_rounds(pool: asyncpg.Pool, principal: Principal) -> list[uuid.UUID]:
    """The rounds where I hold applications, the latest draw first."""
    async with pool.acquire() as conn:
        return await queries.rounds_applied_by(conn, principal.id)


# --- freeze, draw, result -------------------------------------------------------------------


async def _freeze(conn: Conn, row: asyncpg.Record, now: datetime) -> bytes:
    entries = await queries.active_applications(conn, row["id"])
    digest = algorithm.list_hash((e["position"], e["pseudonym"]) for e in entries)
    await queries.freeze_round(conn, row["id"], digest, now)
    return digest


async def freeze_due_rounds(pool: asyncpg.Pool, now: datetime) -> int:
    """Freeze the application list of every round whose period closed; publishes its hash."""
    async with pool.acquire() as conn:
        due = await queries.due_freezes(conn, now)
    for round_id in due:
        async with pool.acquire() as conn, conn.transaction():
            row = await queries.lock_round(conn, round_id)
            if row is not None and row["frozen_at"] is None:
                await _freeze(conn, row, now)
    return len(due)


@dataclass(frozen=True, slots=True)
class _Entry:
    slot_id: uuid.UUID
    position: int
    start: datetime
    end: datetime
    pseudonym: str
    citizen_id: uuid.UUID


async def draw_round(pool: asyncpg.Pool, round_id: uuid.UUID, now: datetime) -> DrawStatus:
    """Draw one round, exactly once: everything (freeze, result rows, winners' bookings,
    waitlists, one outbox row per applicant, drawn_at) commits in one transaction under the
    round's row lock, so a run killed mid-way leaves nothing and a re-run draws the same
    result (the algorithm is deterministic in the published data); a second run finds
    ``drawn_at`` set and does nothing."""
    async with pool.acquire() as conn, conn.transaction():
        row = await queries.lock_round(conn, round_id)
        if row is None or row["published_at"] is None:
            return "unknown"
        if row["drawn_at"] is not None:
            return "already_drawn"
        if now < row["draw_at"]:
            return "not_due"
        if row["public_value_required"] and row["public_value"] is None:
            return "waiting_for_public_value"
        frozen = row["list_hash"] or await _freeze(conn, row, now)
        entries = [_Entry(**dict(r)) for r in await queries.active_applications(conn, round_id)]
        if algorithm.list_hash((e.position, e.pseudonym) for e in entries) != frozen:
            raise RuntimeError(f"round {round_id}: applications changed after the freeze")
        ineligible = await queries.ineligible_entries(conn, round_id, now)
        key = algorithm.draw_key(row["seed"], frozen, row["public_value"])
        by_position: dict[int, list[str]] = defaultdict(list)
        slot_of: dict[int, _Entry] = {}
        citizen_of: dict[str, uuid.UUID] = {}
        for e in entries:
            by_position[e.position].append(e.pseudonym)
            slot_of[e.position] = e
            citizen_of[e.pseudonym] = e.citizen_id
        results = algorithm.draw(
            key, by_position, {(r["position"], r["pseudonym"]) for r in ineligible}
        )
        winners = [r for r in results if r.winner is not None]
        booked = await queries.book_winners(
            conn,
            row["room_id"],
            [citizen_of[r.winner] for r in winners if r.winner is not None],
            [slot_of[r.position].start for r in winners],
            [slot_of[r.position].end for r in winners],
            "pending" if row["requires_approval"] else "confirmed",
            now,
        )
        booking_of = {r.position: b for r, b in zip(winners, booked, strict=True)}
        result_rows: list[tuple[uuid.UUID, int, str, uuid.UUID, str, uuid.UUID | None]] = []
        waitlist: list[tuple[uuid.UUID, datetime, datetime]] = []
        won_booking: dict[uuid.UUID, uuid.UUID | None] = {}
        for r in results:
            slot = slot_of[r.position]
            for rank, name in enumerate(r.order, start=1):
                outcome = r.outcomes[name]
                booking_id = booking_of.get(r.position) if outcome == "won" else None
                if outcome == "won" and booking_id is None:
                    outcome = "slot_taken"
                result_rows.append(
                    (slot.slot_id, rank, name, citizen_of[name], outcome, booking_id)
                )
                if outcome == "waitlisted":
                    waitlist.append((citizen_of[name], slot.start, slot.end))
                if outcome == "won":
                    won_booking[citizen_of[name]] = booking_id
        await queries.insert_results(conn, round_id, result_rows)
        await queries.insert_ineligible(
            conn, round_id, [(r["slot_id"], r["pseudonym"], r["reason"]) for r in ineligible]
        )
        await queries.insert_waitlist(conn, row["room_id"], round_id, waitlist, now)
        citizens = sorted(set(citizen_of.values()))
        await queries.insert_draw_outbox(
            conn, round_id, citizens, [won_booking.get(c) for c in citizens], now
        )
        await queries.mark_drawn(conn, round_id, now)
    log.info("drew round %s: %d applications, %d winners", round_id, len(entries), len(winners))
    return "drawn"


async def draw_due_rounds(pool: asyncpg.Pool, now: datetime) -> list[uuid.UUID]:
    async with pool.acquire() as conn:
        due = await queries.due_draws(conn, now)
    return [r for r in due if await draw_round(pool, r, now) == "drawn"]


async def round_result(pool: asyncpg.Pool, round_id: uuid.UUID) -> RoundResult:
    """The public record of a draw: pseudonymous list, hashes, seed (after the draw), order,
    winners, waitlists. No names, e-mails or account ids."""
    async with pool.acquire() as conn:
        row = await queries.fetch_round(conn, round_id)
        if row is None or row["published_at"] is None:
            raise NotFound("No such round.")
        slots = await queries.round_slots(conn, round_id)
        frozen = row["frozen_at"] is not None
        entries = await queries.active_applications(conn, round_id) if frozen else []
        results = await queries.round_results(conn, round_id)
        ineligible = await queries.round_ineligible(conn, round_id)
    applications: dict[uuid.UUID, list[str]] = defaultdict(list)
    for e in entries:
        applications[e["slot_id"]].append(e["pseudonym"])
    by_slot: dict[uuid.UUID, list[asyncpg.Record]] = defaultdict(list)
    for r in results:
        by_slot[r["slot_id"]].append(r)
    excluded: dict[uuid.UUID, list[str]] = defaultdict(list)
    for r in ineligible:
        excluded[r["slot_id"]].append(r["pseudonym"])
    out: list[SlotResult] = []
    for s in slots:
        ranked = sorted(by_slot[s["id"]], key=lambda r: r["rank"])
        winner = next((r for r in ranked if r["outcome"] in ("won", "slot_taken")), None)
        out.append(
            SlotResult(
                position=s["position"],
                start=s["start"],
                end=s["end"],
                applications=sorted(applications[s["id"]]),
                ineligible=excluded[s["id"]],
                order=[r["pseudonym"] for r in ranked],
                winner=winner["pseudonym"] if winner is not None else None,
                waitlist=[r["pseudonym"] for r in ranked if r["outcome"] == "waitlisted"],
                booked=winner is not None and winner["booked"],
            )
        )
    drawn = row["drawn_at"] is not None
    return RoundResult(
        round_id=row["id"],
        room_id=row["room_id"],
        algorithm=row["algorithm"],
        seed_commitment=row["seed_commitment"].hex(),
        seed=row["seed"].hex() if drawn else None,
        list_hash=row["list_hash"].hex() if frozen else None,
        public_value=row["public_value"],
        frozen_at=row["frozen_at"],
        drawn_at=row["drawn_at"],
        slots=out,
    )


# --- waitlists and offers -------------------------------------------------------------------


def _entry(row: asyncpg.Record) -> WaitlistEntry:
    return WaitlistEntry(
        id=row["id"],
        room_id=row["room_id"],
        start=row["start"],
        end=row["end"],
        status=row["status"],
        position=row["position"],
        offer_booking_id=row["offer_booking_id"],
        offer_expires_at=row["offer_expires_at"],
        round_id=row["round_id"],
    )


async def join_waitlist(
    pool: asyncpg.Pool, principal: Principal, body: WaitlistJoin, now: datetime
) -> WaitlistEntry:
    if principal.role != "citizen":
        raise Forbidden("Only citizen accounts join waitlists.")
    if body.end <= body.start:
        raise _invalid("end", "must be after start")
    if body.start <= now:
        raise _invalid("start", "must be in the future")
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                room = await queries.room_of(conn, body.room_id)
                if room is None:
                    raise NotFound("No such room.")
                until = await queries.suspended_until(conn, principal.id, now)
                if until is not None:
                    raise Forbidden(
                        f"Booking is suspended until {until.isoformat()}.",
                        code="booking-suspended",
                        title="Booking suspended",
                        extra={"suspended_until": until.isoformat()},
                    )
                if not await queries.range_is_taken(conn, body.room_id, body.start, body.end):
                    raise Conflict(
                        "This time is free: book it instead of waiting.",
                        code="slot-free",
                        title="Slot free",
                    )
                entry_id = await queries.join_waitlist(
                    conn, body.room_id, principal.id, body.start, body.end, now
                )
                rows = await queries.waitlist_of(conn, principal.id, entry_id)
        except asyncpg.UniqueViolationError:
            raise Conflict(
                "You are already waiting for this time.",
                code="already-waiting",
                title="Already waiting",
            ) from None
    return _entry(rows[0])


async def leave_waitlist(
    pool: asyncpg.Pool, principal: Principal, entry_id: int, now: datetime
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if not await queries.leave_waitlist(conn, entry_id, principal.id, now):
            raise NotFound("No such waiting entry (of yours).")


async def my_waitlist(pool: asyncpg.Pool, principal: Principal) -> list[WaitlistEntry]:
    async with pool.acquire() as conn:
        return [_entry(r) for r in await queries.waitlist_of(conn, principal.id)]


async def offer_freed_slots(pool: asyncpg.Pool, now: datetime) -> list[uuid.UUID]:
    """Offers for every room with freed slots; each room in its own transaction."""
    async with pool.acquire() as conn:
        rooms = await queries.rooms_to_offer(conn, now)
    offered: list[uuid.UUID] = []
    for room_id in rooms:
        async with pool.acquire() as conn, conn.transaction():
            offered += await queries.offer_room(conn, room_id, now)
    return offered


async def expire_offers(pool: asyncpg.Pool, now: datetime) -> int:
    """Offers past their hold become cancelled (the next in line is offered right after)."""
    async with pool.acquire() as conn:
        due = await queries.due_offer_expiries(conn, now)
    expired = 0
    for booking_id in due:
        async with pool.acquire() as conn, conn.transaction():
            row = await queries.lock_offer(conn, booking_id)
            if row is None or row["entry_status"] != "offered" or row["offer_expires_at"] > now:
                continue
            await transition(
                conn,
                booking_id,
                "cancelled",
                from_statuses=("offered",),
                actor_id=None,
                reason="offer expired",
                topic="booking.offer_expired",
            )
            await queries.set_entry_status(conn, row["entry_id"], "expired", now)
            expired += 1
    if expired:
        await offer_freed_slots(pool, now)
    return expired


async def _own_offer(
    conn: Conn, principal: Principal, booking_id: uuid.UUID, now: datetime
) -> asyncpg.Record:
    row = await queries.lock_offer(conn, booking_id)
    if row is None or row["citizen_id"] != principal.id:
        raise NotFound("No such offer (for you).")
    if row["entry_status"] != "offered" or row["status"] != "offered":
        raise Conflict(
            "This offer was already answered or has expired.",
            code="illegal-transition",
            title="Not possible in this status",
            extra={"current_status": row["status"]},
        )
    if now >= row["offer_expires_at"]:
        raise Conflict(
            "This offer has expired.",
            code="offer-expired",
            title="Offer expired",
            extra={"current_status": row["status"]},
        )
    return row


async def accept_offer(
    pool: asyncpg.Pool, principal: Principal, booking_id: uuid.UUID, now: datetime
) -> Offer:
    """The held slot becomes the citizen's booking: confirmed, or pending in approval rooms.
    Suspension and monthly caps are checked in the same transaction (the offer itself aside)."""
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                row = await _own_offer(conn, principal, booking_id, now)
                await queries.check_allocation(
                    conn, principal.id, row["room_id"], row["start"], row["end"], now, booking_id
                )
                status = "pending" if row["requires_approval"] else "confirmed"
                await transition(
                    conn,
                    booking_id,
                    status,
                    from_statuses=("offered",),
                    actor_id=principal.id,
                    reason="waitlist offer accepted",
                    topic="booking.created",
                )
                await queries.set_entry_status(conn, row["entry_id"], "accepted", now)
        except asyncpg.PostgresError as exc:
            raise _refused(exc) from None
    return Offer(booking_id=booking_id, status=status)


async def decline_offer(
    pool: asyncpg.Pool, principal: Principal, booking_id: uuid.UUID, now: datetime
) -> Offer:
    async with pool.acquire() as conn, conn.transaction():
        row = await _own_offer(conn, principal, booking_id, now)
        await transition(
            conn,
            booking_id,
            "cancelled",
            from_statuses=("offered",),
            actor_id=principal.id,
            reason="waitlist offer declined",
            topic="booking.offer_declined",
        )
        await queries.set_entry_status(conn, row["entry_id"], "declined", now)
    # The next in line now, rather than at the job's next tick (which would also do it).
    await offer_freed_slots(pool, now)
    return Offer(booking_id=booking_id, status="cancelled")


# --- strikes --------------------------------------------------------------------------------


async def my_strikes(pool: asyncpg.Pool, principal: Principal, now: datetime) -> MyStrikes:
    async with pool.acquire() as conn:
        rows = await queries.strikes_of(conn, principal.id, now)
        until = await queries.suspended_until(conn, principal.id, now)
    strikes = [
        Strike(
            id=r["id"],
            kind=r["kind"],
            weight=float(r["weight"]),
            at=r["at"],
            expires_at=r["expires_at"],
            institution_id=r["institution_id"],
            booking_id=r["booking_id"],
            forgiven_at=r["forgiven_at"],
            forgiven_reason=r["forgiven_reason"],
        )
        for r in rows
    ]
    active = sum(s.weight for s in strikes if s.forgiven_at is None)
    return MyStrikes(active_weight=active, suspended_until=until, strikes=strikes)


async def forgive_strike(
    pool: asyncpg.Pool, principal: Principal, strike_id: uuid.UUID, reason: str, now: datetime
) -> None:
    """A manager of the institution where the strike arose forgives it; the strike stays in
    the history with who, when and why, and no longer counts (a suspension it caused ends)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await queries.fetch_strike(conn, strike_id)
        if row is None or not principal.manages(row["institution_id"]):
            raise NotFound("No such strike (at an institution you manage).")
        if row["forgiven_at"] is not None:
            raise Conflict(
                "This strike was already forgiven.",
                code="already-forgiven",
                title="Already forgiven",
            )
        await queries.forgive_strike(conn, strike_id, principal.id, reason, now)
