"""SQL of fair allocation; every function takes the connection it runs on (transactions belong
to the caller). The rules that must hold under concurrency live in sql/functions/
(booking_check_allocation, waitlist_offer_room, allocation_book_winners, the guards)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from booking.db import Conn

__all__ = (
    "ROUND_COLUMNS",
    "active_applications",
    "applications_of",
    "book_winners",
    "check_allocation",
    "count_active_applications",
    "draw_notice",
    "due_draws",
    "due_freezes",
    "due_offer_expiries",
    "fetch_round",
    "fetch_strike",
    "forgive_strike",
    "freeze_round",
    "ineligible_entries",
    "insert_application",
    "insert_draw_outbox",
    "insert_ineligible",
    "insert_results",
    "insert_round",
    "insert_waitlist",
    "join_waitlist",
    "leave_waitlist",
    "list_rounds",
    "lock_offer",
    "lock_round",
    "mark_drawn",
    "mark_published",
    "offer_room",
    "range_is_taken",
    "replace_slots",
    "room_of",
    "rooms_to_offer",
    "round_ineligible",
    "round_results",
    "round_slots",
    "set_entry_status",
    "set_institution_policy",
    "set_public_value",
    "set_room_policy",
    "strikes_of",
    "suspended_until",
    "update_round",
    "waitlist_of",
    "withdraw_application",
)

ROUND_COLUMNS = """
    ar.id, ar.room_id, ar.title, ar.opens_at, ar.closes_at, ar.draw_at,
    ar.max_applications_per_citizen, ar.institution_monthly_win_cap, ar.public_value_required,
    ar.algorithm, ar.seed, ar.seed_commitment, ar.pseudonym_salt, ar.public_value,
    ar.published_at, ar.frozen_at, ar.list_hash, ar.drawn_at,
    rm.institution_id, rm.requires_approval, rm.allocation_mode
"""


async def room_of(conn: Conn, room_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, institution_id, allocation_mode, requires_approval FROM rooms WHERE id = $1",
        room_id,
    )


async def set_room_policy(
    conn: Conn, room_id: uuid.UUID, mode: str, cap: int | None, late_hours: int | None
) -> None:
    await conn.execute(
        """
        UPDATE rooms SET allocation_mode = $2, monthly_cap_per_citizen = $3,
                         late_cancel_hours = $4, updated_at = now()
        WHERE id = $1
        """,
        room_id,
        mode,
        cap,
        late_hours,
    )


async def set_institution_policy(conn: Conn, institution_id: uuid.UUID, cap: int | None) -> bool:
    result = await conn.execute(
        "UPDATE institutions SET monthly_cap_per_citizen = $2, updated_at = now() WHERE id = $1",
        institution_id,
        cap,
    )
    return result.endswith(" 1")


# --- rounds ---------------------------------------------------------------------------------


async def insert_round(
    conn: Conn,
    *,
    room_id: uuid.UUID,
    title: str,
    opens_at: datetime,
    closes_at: datetime,
    draw_at: datetime,
    max_applications: int,
    win_cap: int | None,
    public_value_required: bool,
    seed: bytes,
    salt: bytes,
    created_by: uuid.UUID,
) -> uuid.UUID:
    round_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO allocation_rounds (room_id, title, opens_at, closes_at, draw_at,
            max_applications_per_citizen, institution_monthly_win_cap, public_value_required,
            seed, seed_commitment, pseudonym_salt, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, sha256($9), $10, $11)
        RETURNING id
        """,
        room_id,
        title,
        opens_at,
        closes_at,
        draw_at,
        max_applications,
        win_cap,
        public_value_required,
        seed,
        salt,
        created_by,
    )
    return round_id


async def update_round(
    conn: Conn,
    round_id: uuid.UUID,
    *,
    title: str,
    opens_at: datetime,
    closes_at: datetime,
    draw_at: datetime,
    max_applications: int,
    win_cap: int | None,
    public_value_required: bool,
) -> None:
    await conn.execute(
        """
        UPDATE allocation_rounds SET title = $2, opens_at = $3, closes_at = $4, draw_at = $5,
            max_applications_per_citizen = $6, institution_monthly_win_cap = $7,
            public_value_required = $8, updated_at = now()
        WHERE id = $1
        """,
        round_id,
        title,
        opens_at,
        closes_at,
        draw_at,
        max_applications,
        win_cap,
        public_value_required,
    )


async def replace_slots(
    conn: Conn,
    round_id: uuid.UUID,
    room_id: uuid.UUID,
    ranges: list[tuple[datetime, datetime]],
) -> None:
    """The round's slots, numbered by start (position 1 = earliest)."""
    await conn.execute("DELETE FROM allocation_slots WHERE round_id = $1", round_id)
    ordered = sorted(ranges)
    await conn.execute(
        """
        INSERT INTO allocation_slots (round_id, room_id, position, during)
        SELECT $1, $2, t.n, tstzrange(t.s, t.e, '[)')
        FROM unnest($3::timestamptz[], $4::timestamptz[]) WITH ORDINALITY AS t(s, e, n)
        """,
        round_id,
        room_id,
        [s for s, _ in ordered],
        [e for _, e in ordered],
    )


async def fetch_round(conn: Conn, round_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {ROUND_COLUMNS} FROM allocation_rounds ar JOIN rooms rm ON rm.id = ar.room_id"  # noqa: S608 - fixed column list
        " WHERE ar.id = $1",
        round_id,
    )


async def lock_round(
    conn: Conn, round_id: uuid.UUID, *, share: bool = False
) -> asyncpg.Record | None:
    """The round, locked: FOR UPDATE (freeze, draw, edits) or FOR SHARE (apply, withdraw), so
    no application slips in after the list is frozen."""
    mode = "SHARE" if share else "UPDATE"
    return await conn.fetchrow(
        f"SELECT {ROUND_COLUMNS} FROM allocation_rounds ar JOIN rooms rm ON rm.id = ar.room_id"  # noqa: S608 - fixed column list and lock mode
        f" WHERE ar.id = $1 FOR {mode} OF ar",
        round_id,
    )


async def list_rounds(conn: Conn, room_id: uuid.UUID, *, with_drafts: bool) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {ROUND_COLUMNS} FROM allocation_rounds ar JOIN rooms rm ON rm.id = ar.room_id"  # noqa: S608 - fixed column list
        " WHERE ar.room_id = $1 AND ($2 OR ar.published_at IS NOT NULL)"
        " ORDER BY ar.opens_at DESC, ar.id LIMIT 100",
        room_id,
        with_drafts,
    )


async def lottery_rooms(conn: Conn, institution_ids: list[uuid.UUID] | None) -> list[uuid.UUID]:
    """Lottery rooms of these institutions (every institution's for ``None``), by name."""
    rows = await conn.fetch(
        """
        SELECT id FROM rooms
        WHERE allocation_mode = 'lottery'
          AND ($1::uuid[] IS NULL OR institution_id = ANY($1::uuid[]))
        ORDER BY name, id LIMIT 200
        """,
        institution_ids,
    )
    return [r["id"] for r in rows]


async def rounds_applied_by(conn: Conn, citizen_id: uuid.UUID) -> list[uuid.UUID]:
    """Rounds a citizen holds applications in (withdrawn ones aside), the latest first."""
    rows = await conn.fetch(
        """
        SELECT ar.id FROM allocation_rounds ar
        WHERE EXISTS (SELECT 1 FROM allocation_applications a
                      WHERE a.round_id = ar.id AND a.citizen_id = $1 AND a.withdrawn_at IS NULL)
        ORDER BY ar.draw_at DESC, ar.id LIMIT 50
        """,
        citizen_id,
    )
    return [r["id"] for r in rows]


async def round_slots(conn: Conn, round_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT s.id, s.position, lower(s.during) AS start, upper(s.during) AS "end",
               (SELECT count(*) FROM allocation_applications a
                WHERE a.slot_id = s.id AND a.withdrawn_at IS NULL) AS applications
        FROM allocation_slots s WHERE s.round_id = $1 ORDER BY s.position
        """,
        round_id,
    )


async def mark_published(conn: Conn, round_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE allocation_rounds SET published_at = $2, updated_at = $2 WHERE id = $1",
        round_id,
        now,
    )


async def set_public_value(conn: Conn, round_id: uuid.UUID, value: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE allocation_rounds SET public_value = $2, updated_at = $3 WHERE id = $1",
        round_id,
        value,
        now,
    )


# --- applications ---------------------------------------------------------------------------


async def count_active_applications(conn: Conn, round_id: uuid.UUID, citizen_id: uuid.UUID) -> int:
    count: int = await conn.fetchval(
        """
        SELECT count(*) FROM allocation_applications
        WHERE round_id = $1 AND citizen_id = $2 AND withdrawn_at IS NULL
        """,
        round_id,
        citizen_id,
    )
    return count


async def insert_application(
    conn: Conn,
    round_id: uuid.UUID,
    slot_id: uuid.UUID,
    citizen_id: uuid.UUID,
    pseudonym: str,
    now: datetime,
) -> uuid.UUID | None:
    """The new application's id; None when the slot is not one of the round's."""
    application_id: uuid.UUID | None = await conn.fetchval(
        """
        INSERT INTO allocation_applications (round_id, slot_id, citizen_id, pseudonym, created_at)
        SELECT $1, s.id, $3, $4, $5 FROM allocation_slots s WHERE s.id = $2 AND s.round_id = $1
        RETURNING id
        """,
        round_id,
        slot_id,
        citizen_id,
        pseudonym,
        now,
    )
    return application_id


async def withdraw_application(
    conn: Conn, round_id: uuid.UUID, application_id: uuid.UUID, citizen_id: uuid.UUID, now: datetime
) -> bool:
    result = await conn.execute(
        """
        UPDATE allocation_applications SET withdrawn_at = $4
        WHERE id = $2 AND round_id = $1 AND citizen_id = $3 AND withdrawn_at IS NULL
        """,
        round_id,
        application_id,
        citizen_id,
        now,
    )
    return result.endswith(" 1")


async def applications_of(
    conn: Conn, round_id: uuid.UUID, citizen_id: uuid.UUID
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT a.id, a.round_id, a.slot_id, lower(s.during) AS start, upper(s.during) AS "end",
               a.pseudonym, a.created_at, res.outcome
        FROM allocation_applications a
        JOIN allocation_slots s ON s.id = a.slot_id
        LEFT JOIN allocation_results res ON res.slot_id = a.slot_id AND res.pseudonym = a.pseudonym
        WHERE a.round_id = $1 AND a.citizen_id = $2 AND a.withdrawn_at IS NULL
        ORDER BY s.position
        """,
        round_id,
        citizen_id,
    )


async def active_applications(conn: Conn, round_id: uuid.UUID) -> list[asyncpg.Record]:
    """The round's application list: slot, position, range, pseudonym, citizen."""
    return await conn.fetch(
        """
        SELECT a.slot_id, s.position, lower(s.during) AS start, upper(s.during) AS "end",
               a.pseudonym, a.citizen_id
        FROM allocation_applications a JOIN allocation_slots s ON s.id = a.slot_id
        WHERE a.round_id = $1 AND a.withdrawn_at IS NULL
        ORDER BY s.position, a.pseudonym
        """,
        round_id,
    )


# --- freeze and draw ------------------------------------------------------------------------


async def due_freezes(conn: Conn, now: datetime) -> list[uuid.UUID]:
    rows = await conn.fetch(
        """
        SELECT id FROM allocation_rounds
        WHERE published_at IS NOT NULL AND frozen_at IS NULL AND closes_at <= $1
        ORDER BY closes_at
        """,
        now,
    )
    return [r["id"] for r in rows]


async def due_draws(conn: Conn, now: datetime) -> list[uuid.UUID]:
    rows = await conn.fetch(
        """
        SELECT id FROM allocation_rounds
        WHERE published_at IS NOT NULL AND drawn_at IS NULL AND draw_at <= $1
          AND (NOT public_value_required OR public_value IS NOT NULL)
        ORDER BY draw_at
        """,
        now,
    )
    return [r["id"] for r in rows]


async def freeze_round(conn: Conn, round_id: uuid.UUID, list_hash: bytes, now: datetime) -> None:
    await conn.execute(
        "UPDATE allocation_rounds SET frozen_at = $2, list_hash = $3, updated_at = $2 WHERE id = $1",
        round_id,
        now,
        list_hash,
    )


async def ineligible_entries(
    conn: Conn, round_id: uuid.UUID, now: datetime
) -> list[asyncpg.Record]:
    """Applications that may not win at ``now``: the citizen is suspended, or has reached the
    room's or the institution's monthly cap (or the round's win cap) in the slot's local month."""
    return await conn.fetch(
        """
        WITH apps AS (
            SELECT a.slot_id, s.position, a.pseudonym, a.citizen_id, rm.id AS room_id,
                   rm.institution_id, i.timezone, rm.monthly_cap_per_citizen AS room_cap,
                   least(i.monthly_cap_per_citizen, ar.institution_monthly_win_cap) AS inst_cap,
                   date_trunc('month', lower(s.during) AT TIME ZONE i.timezone) AS month_local
            FROM allocation_applications a
            JOIN allocation_slots s ON s.id = a.slot_id
            JOIN allocation_rounds ar ON ar.id = a.round_id
            JOIN rooms rm ON rm.id = ar.room_id
            JOIN institutions i ON i.id = rm.institution_id
            WHERE a.round_id = $1 AND a.withdrawn_at IS NULL
        ), checked AS (
            SELECT apps.*, CASE
                WHEN citizen_suspended_until(citizen_id, $2) IS NOT NULL THEN 'suspended'
                WHEN room_cap IS NOT NULL AND (
                    SELECT count(*) FROM bookings b
                    WHERE b.citizen_id = apps.citizen_id AND b.room_id = apps.room_id
                      AND b.status NOT IN ('cancelled', 'rejected')
                      AND lower(b.during) >= month_local AT TIME ZONE timezone
                      AND lower(b.during) < (month_local + interval '1 month') AT TIME ZONE timezone
                ) >= room_cap THEN 'monthly_cap'
                WHEN inst_cap IS NOT NULL AND (
                    SELECT count(*) FROM bookings b JOIN rooms r2 ON r2.id = b.room_id
                    WHERE b.citizen_id = apps.citizen_id AND r2.institution_id = apps.institution_id
                      AND b.status NOT IN ('cancelled', 'rejected')
                      AND lower(b.during) >= month_local AT TIME ZONE timezone
                      AND lower(b.during) < (month_local + interval '1 month') AT TIME ZONE timezone
                ) >= inst_cap THEN 'institution_monthly_cap'
            END AS reason
            FROM apps
        )
        SELECT slot_id, position, pseudonym, reason FROM checked WHERE reason IS NOT NULL
        """,
        round_id,
        now,
    )


async def book_winners(
    conn: Conn,
    room_id: uuid.UUID,
    citizens: list[uuid.UUID],
    starts: list[datetime],
    ends: list[datetime],
    status: str,
    now: datetime,
) -> list[uuid.UUID | None]:
    """A booking id per winner (in order), None where the slot was held by someone else."""
    rows = await conn.fetch(
        "SELECT ordinal, booking_id FROM allocation_book_winners($1, $2, $3, $4, $5, $6)"
        " ORDER BY ordinal",
        room_id,
        citizens,
        starts,
        ends,
        status,
        now,
    )
    return [r["booking_id"] for r in rows]


async def insert_results(
    conn: Conn,
    round_id: uuid.UUID,
    rows: list[tuple[uuid.UUID, int, str, uuid.UUID, str, uuid.UUID | None]],
) -> None:
    """(slot, rank, pseudonym, citizen, outcome, booking) rows, in one statement."""
    await conn.execute(
        """
        INSERT INTO allocation_results (round_id, slot_id, rank, pseudonym, citizen_id, outcome,
                                        booking_id)
        SELECT $1, t.slot, t.rank, t.pseudonym, t.citizen, t.outcome, t.booking
        FROM unnest($2::uuid[], $3::int[], $4::text[], $5::uuid[], $6::text[], $7::uuid[])
             AS t(slot, rank, pseudonym, citizen, outcome, booking)
        """,
        round_id,
        *[list(column) for column in zip(*rows, strict=True)] if rows else [[], [], [], [], [], []],
    )


async def insert_ineligible(
    conn: Conn, round_id: uuid.UUID, rows: list[tuple[uuid.UUID, str, str]]
) -> None:
    await conn.execute(
        """
        INSERT INTO allocation_ineligible (round_id, slot_id, pseudonym, reason)
        SELECT $1, t.slot, t.pseudonym, t.reason
        FROM unnest($2::uuid[], $3::text[], $4::text[]) AS t(slot, pseudonym, reason)
        """,
        round_id,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
    )


async def insert_waitlist(
    conn: Conn,
    room_id: uuid.UUID,
    round_id: uuid.UUID | None,
    rows: list[tuple[uuid.UUID, datetime, datetime]],
    now: datetime,
) -> None:
    """(citizen, start, end) waitlist entries, queued in the order given."""
    await conn.execute(
        """
        INSERT INTO waitlist_entries (room_id, during, citizen_id, round_id, created_at, updated_at)
        SELECT $1, tstzrange(t.s, t.e, '[)'), t.c, $2, $6, $6
        FROM unnest($3::uuid[], $4::timestamptz[], $5::timestamptz[]) WITH ORDINALITY AS t(c, s, e, n)
        ORDER BY t.n
        ON CONFLICT (room_id, during, citizen_id) WHERE status IN ('waiting', 'offered') DO NOTHING
        """,
        room_id,
        round_id,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        now,
    )


async def insert_draw_outbox(
    conn: Conn,
    round_id: uuid.UUID,
    citizens: list[uuid.UUID],
    bookings: list[uuid.UUID | None],
    now: datetime,
) -> None:
    """One ``allocation.drawn`` row per applicant: each gets exactly one result e-mail."""
    await conn.execute(
        """
        INSERT INTO outbox (topic, booking_id, payload, created_at)
        SELECT 'allocation.drawn', t.b,
               jsonb_build_object('round_id', $1::uuid::text, 'citizen_id', t.c::text), $4
        FROM unnest($2::uuid[], $3::uuid[]) AS t(c, b)
        """,
        round_id,
        citizens,
        bookings,
        now,
    )


async def mark_drawn(conn: Conn, round_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE allocation_rounds SET drawn_at = $2, updated_at = $2 WHERE id = $1", round_id, now
    )


async def round_results(conn: Conn, round_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT res.slot_id, res.rank, res.pseudonym, res.outcome, res.booking_id IS NOT NULL AS booked
        FROM allocation_results res WHERE res.round_id = $1 ORDER BY res.slot_id, res.rank
        """,
        round_id,
    )


async def round_ineligible(conn: Conn, round_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT slot_id, pseudonym FROM allocation_ineligible WHERE round_id = $1"
        " ORDER BY slot_id, pseudonym",
        round_id,
    )


async def draw_notice(conn: Conn, outbox_id: int) -> list[asyncpg.Record]:
    """What the result e-mail of one ``allocation.drawn`` row says: one row per application of
    the citizen, with the round, room, citizen and their outcome and waitlist place."""
    return await conn.fetch(
        """
        SELECT o.id AS outbox_id, ar.id AS round_id, ar.title, rm.name AS room_name,
               i.name AS institution_name, i.timezone, u.id AS citizen_id, u.email, u.name,
               (u.deleted_at IS NULL AND u.disabled_at IS NULL) AS citizen_active,
               s.position, lower(s.during) AS start, upper(s.during) AS "end", res.outcome,
               res.booking_id,
               (SELECT count(*) FROM allocation_results r2
                WHERE r2.slot_id = res.slot_id AND r2.outcome = 'waitlisted'
                  AND r2.rank <= res.rank) AS waitlist_place
        FROM outbox o
        JOIN allocation_rounds ar ON ar.id = (o.payload ->> 'round_id')::uuid
        JOIN users u ON u.id = (o.payload ->> 'citizen_id')::uuid
        JOIN rooms rm ON rm.id = ar.room_id
        JOIN institutions i ON i.id = rm.institution_id
        JOIN allocation_results res ON res.round_id = ar.id AND res.citizen_id = u.id
        JOIN allocation_slots s ON s.id = res.slot_id
        WHERE o.id = $1 AND o.topic = 'allocation.drawn'
        ORDER BY s.position
        """,
        outbox_id,
    )


# --- waitlists and offers -------------------------------------------------------------------


async def range_is_taken(conn: Conn, room_id: uuid.UUID, start: datetime, end: datetime) -> bool:
    taken: bool = await conn.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM bookings
                       WHERE room_id = $1 AND during && tstzrange($2, $3, '[)') AND holds_slot)
        """,
        room_id,
        start,
        end,
    )
    return taken


async def join_waitlist(
    conn: Conn,
    room_id: uuid.UUID,
    citizen_id: uuid.UUID,
    start: datetime,
    end: datetime,
    now: datetime,
) -> int:
    entry_id: int = await conn.fetchval(
        """
        INSERT INTO waitlist_entries (room_id, during, citizen_id, created_at, updated_at)
        VALUES ($1, tstzrange($3, $4, '[)'), $2, $5, $5) RETURNING id
        """,
        room_id,
        citizen_id,
        start,
        end,
        now,
    )
    return entry_id


async def leave_waitlist(conn: Conn, entry_id: int, citizen_id: uuid.UUID, now: datetime) -> bool:
    result = await conn.execute(
        """
        UPDATE waitlist_entries SET status = 'left', updated_at = $3
        WHERE id = $1 AND citizen_id = $2 AND status = 'waiting'
        """,
        entry_id,
        citizen_id,
        now,
    )
    return result.endswith(" 1")


async def waitlist_of(
    conn: Conn, citizen_id: uuid.UUID, entry_id: int | None = None
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT e.id, e.room_id, lower(e.during) AS start, upper(e.during) AS "end", e.status,
               e.offer_booking_id, e.offer_expires_at, e.round_id,
               CASE WHEN e.status = 'waiting' THEN
                   (SELECT count(*) FROM waitlist_entries o
                    WHERE o.room_id = e.room_id AND o.during && e.during
                      AND o.status = 'waiting' AND o.id <= e.id) END AS position
        FROM waitlist_entries e
        WHERE e.citizen_id = $1 AND ($2::bigint IS NULL OR e.id = $2)
          AND ($2::bigint IS NOT NULL OR e.status IN ('waiting', 'offered'))
        ORDER BY lower(e.during), e.id
        LIMIT 200
        """,
        citizen_id,
        entry_id,
    )


async def rooms_to_offer(conn: Conn, now: datetime) -> list[uuid.UUID]:
    """Rooms with a wakeup, and rooms where a waiting entry's range is free (a safety net for
    a wakeup that raced with the join)."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT room_id FROM waitlist_wakeups
        UNION
        SELECT DISTINCT e.room_id FROM waitlist_entries e
        WHERE e.status = 'waiting' AND lower(e.during) > $1::timestamptz + interval '10 minutes'
          AND NOT EXISTS (SELECT 1 FROM bookings b
                          WHERE b.room_id = e.room_id AND b.during && e.during AND b.holds_slot)
        """,
        now,
    )
    return [r["room_id"] for r in rows]


async def offer_room(conn: Conn, room_id: uuid.UUID, now: datetime) -> list[uuid.UUID]:
    rows = await conn.fetch("SELECT id FROM waitlist_offer_room($1, $2) AS id", room_id, now)
    return [r["id"] for r in rows]


async def due_offer_expiries(conn: Conn, now: datetime) -> list[uuid.UUID]:
    rows = await conn.fetch(
        """
        SELECT offer_booking_id FROM waitlist_entries
        WHERE status = 'offered' AND offer_expires_at <= $1
        ORDER BY offer_expires_at LIMIT 500
        """,
        now,
    )
    return [r["offer_booking_id"] for r in rows]


async def lock_offer(conn: Conn, booking_id: uuid.UUID) -> asyncpg.Record | None:
    """The waitlist entry of an offer and its booking, both locked."""
    return await conn.fetchrow(
        """
        SELECT e.id AS entry_id, e.status AS entry_status, e.offer_expires_at, e.citizen_id,
               b.status, b.room_id, lower(b.during) AS start, upper(b.during) AS "end",
               rm.requires_approval, rm.institution_id
        FROM waitlist_entries e
        JOIN bookings b ON b.id = e.offer_booking_id
        JOIN rooms rm ON rm.id = b.room_id
        WHERE e.offer_booking_id = $1
        FOR UPDATE OF e, b
        """,
        booking_id,
    )


async def set_entry_status(conn: Conn, entry_id: int, status: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE waitlist_entries SET status = $2, updated_at = $3 WHERE id = $1",
        entry_id,
        status,
        now,
    )


async def check_allocation(
    conn: Conn,
    citizen_id: uuid.UUID,
    room_id: uuid.UUID,
    start: datetime,
    end: datetime,
    now: datetime,
    exclude: uuid.UUID | None,
) -> None:
    """Raises NBSUS / NBPOL like book() does (suspension, lottery slots, monthly caps)."""
    # The citizen's bookings queue on the same lock in book(), so caps are counted once.
    await conn.execute("SELECT pg_advisory_xact_lock(30, hashtext($1::text))", str(citizen_id))
    await conn.execute(
        "SELECT booking_check_allocation($1, $2, $3, $4, $5, $6)",
        citizen_id,
        room_id,
        start,
        end,
        now,
        exclude,
    )


# --- strikes --------------------------------------------------------------------------------


async def suspended_until(conn: Conn, citizen_id: uuid.UUID, now: datetime) -> datetime | None:
    until: datetime | None = await conn.fetchval(
        "SELECT citizen_suspended_until($1, $2)", citizen_id, now
    )
    return until


async def strikes_of(conn: Conn, citizen_id: uuid.UUID, now: datetime) -> list[asyncpg.Record]:
    """The citizen's strikes of the last 90 days (forgiven ones included, for the history)."""
    return await conn.fetch(
        """
        SELECT id, kind, weight, at, at + interval '90 days' AS expires_at, institution_id,
               booking_id, forgiven_at, forgiven_reason
        FROM strikes
        WHERE citizen_id = $1 AND at <= $2 AND at > $2 - interval '90 days'
        ORDER BY at DESC, id
        """,
        citizen_id,
        now,
    )


async def fetch_strike(conn: Conn, strike_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, citizen_id, institution_id, forgiven_at FROM strikes WHERE id = $1 FOR UPDATE",
        strike_id,
    )


async def forgive_strike(
    conn: Conn, strike_id: uuid.UUID, manager_id: uuid.UUID, reason: str, now: datetime
) -> None:
    await conn.execute(
        """
        UPDATE strikes SET forgiven_at = $3, forgiven_by = $2, forgiven_reason = $4
        WHERE id = $1 AND forgiven_at IS NULL
        """,
        strike_id,
        manager_id,
        now,
        reason,
    )
