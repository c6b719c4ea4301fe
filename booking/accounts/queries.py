"""SQL of accounts; every function takes the connection it runs on."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from booking.db import Conn
from schemas.accounts import Role

__all__ = (
    "AccountRow",
    "ActiveAccount",
    "CredentialsRow",
    "PrincipalRow",
    "appoint_manager",
    "appoint_to_first_institution",
    "fetch_active_principal",
    "fetch_credentials",
    "fetch_profile",
    "find_active_account",
    "insert_account_token",
    "insert_user",
    "insert_user_if_missing",
    "lock_user",
    "promote_to_manager",
    "queue_account_mail",
    "remove_manager",
    "reset_password",
    "update_password_hash",
    "use_account_token",
)


class PrincipalRow(msgspec.Struct, frozen=True):
    """An active user with the institutions they manage (read on every authenticated request)."""

    id: uuid.UUID
    email: str
    name: str
    role: Role
    institutions: list[uuid.UUID]


class AccountRow(msgspec.Struct, frozen=True):
    """What the owner of an account sees of it; ``created_at`` in UTC (accounts belong to no
    institution, so they have no local offset). Institutions by appointment time."""

    id: uuid.UUID
    email: str
    name: str
    phone: str | None
    role: Role
    created_at: datetime
    institutions: list[uuid.UUID]
    email_verified: bool


class CredentialsRow(msgspec.Struct, frozen=True):
    id: uuid.UUID
    role: Role
    password_hash: str


async def fetch_active_principal(conn: Conn, user_id: uuid.UUID) -> PrincipalRow | None:
    """The user with the institutions they manage, or None if deleted, disabled or unknown."""
    row = await conn.fetchrow(
        """
        SELECT u.id, u.email, u.name, u.role,
               coalesce(array_agg(m.institution_id) FILTER (WHERE m.institution_id IS NOT NULL),
                        '{}') AS institutions
        FROM users u
        LEFT JOIN institution_managers m ON m.user_id = u.id
        WHERE u.id = $1 AND u.disabled_at IS NULL AND u.deleted_at IS NULL
        GROUP BY u.id
        """,
        user_id,
    )
    return None if row is None else PrincipalRow(*row)


async def fetch_profile(conn: Conn, user_id: uuid.UUID) -> AccountRow | None:
    """What the owner of an active account sees of it."""
    row = await conn.fetchrow(
        """
        SELECT u.id, u.email, u.name, u.phone, u.role, u.created_at,
               coalesce(array_agg(m.institution_id ORDER BY m.appointed_at)
                            FILTER (WHERE m.institution_id IS NOT NULL),
                        '{}') AS institutions,
               u.email_verified_at IS NOT NULL AS email_verified
        FROM users u
        LEFT JOIN institution_managers m ON m.user_id = u.id
        WHERE u.id = $1 AND u.disabled_at IS NULL AND u.deleted_at IS NULL
        GROUP BY u.id
        """,
        user_id,
    )
    return None if row is None else AccountRow(*row)


async def fetch_credentials(conn: Conn, email: str) -> CredentialsRow | None:
    """Id, role and password hash of the active account with this (normalised) e-mail."""
    row = await conn.fetchrow(
        """
        SELECT id, role, password_hash FROM users
        WHERE email = $1 AND disabled_at IS NULL AND deleted_at IS NULL
        """,
        email,
    )
    return None if row is None else CredentialsRow(*row)


async def insert_user(
    conn: Conn,
    *,
    email: str,
    password_hash: str,
    name: str,
    phone: str | None,
    role: str,
    verified: bool,
) -> AccountRow | None:
    """A new account (its e-mail verified now, or not yet); None when the e-mail is taken."""
    row = await conn.fetchrow(
        """
        INSERT INTO users (email, password_hash, name, phone, role, email_verified_at)
        VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN now() END)
        ON CONFLICT (email) DO NOTHING
        RETURNING id, email, name, phone, role, created_at, '{}'::uuid[] AS institutions,
                  email_verified_at IS NOT NULL AS email_verified
        """,
        email,
        password_hash,
        name,
        phone,
        role,
        verified,
    )
    return None if row is None else AccountRow(*row)


async def update_password_hash(conn: Conn, user_id: uuid.UUID, password_hash: str) -> None:
    await conn.execute(
        "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
        user_id,
        password_hash,
    )


async def lock_user(conn: Conn, user_id: uuid.UUID) -> bool:
    """Whether the user exists (not deleted); their row stays locked until the transaction ends."""
    found = await conn.fetchval(
        "SELECT true FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE", user_id
    )
    return bool(found)


async def appoint_manager(
    conn: Conn, institution_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[datetime, bool, str]:
    """When the appointment was made, whether it is new (re-appointing changes nothing) and
    the institution's timezone.

    An unknown institution raises the foreign-key violation of
    ``institution_managers_institution_id_fkey``.
    """
    row = await conn.fetchrow(
        """
        WITH inserted AS (
            INSERT INTO institution_managers (institution_id, user_id)
            VALUES ($1, $2)
            ON CONFLICT ON CONSTRAINT institution_managers_pkey DO NOTHING
            RETURNING appointed_at
        )
        SELECT a.appointed_at, a.created, i.timezone
        FROM (SELECT appointed_at, true AS created FROM inserted
              UNION ALL
              SELECT appointed_at, false FROM institution_managers
              WHERE institution_id = $1 AND user_id = $2 AND NOT EXISTS (SELECT FROM inserted)) a,
             institutions i
        WHERE i.id = $1
        """,
        institution_id,
        user_id,
    )
    assert row is not None
    appointed_at, created, timezone = row
    return appointed_at, created, timezone


async def promote_to_manager(conn: Conn, user_id: uuid.UUID) -> str:
    """Make a citizen a manager (managers and admins keep their role); the role afterwards."""
    role: str = await conn.fetchval(
        """
        UPDATE users
        SET role = CASE WHEN role = 'citizen' THEN 'manager' ELSE role END,
            updated_at = CASE WHEN role = 'citizen' THEN now() ELSE updated_at END
        WHERE id = $1
        RETURNING role
        """,
        user_id,
    )
    return role


async def remove_manager(conn: Conn, institution_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Whether an appointment existed and was removed."""
    removed = await conn.fetchval(
        """
        DELETE FROM institution_managers WHERE institution_id = $1 AND user_id = $2
        RETURNING true
        """,
        institution_id,
        user_id,
    )
    return bool(removed)


async def insert_user_if_missing(
    conn: Conn, *, email: str, password_hash: str, name: str, role: str
) -> None:
    """Create the account (e-mail verified) unless one with this e-mail exists (used by the
    demo data)."""
    await conn.execute(
        """
        INSERT INTO users (email, password_hash, name, role, email_verified_at)
        VALUES ($1, $2, $3, $4, now())
        ON CONFLICT (email) DO NOTHING
        """,
        email,
        password_hash,
        name,
        role,
    )


async def appoint_to_first_institution(conn: Conn, email: str) -> None:
    """Appoint the user to the first institution (by name), unless they manage one already
    or no institution exists."""
    await conn.execute(
        """
        INSERT INTO institution_managers (institution_id, user_id)
        SELECT i.id, u.id
        FROM users u, LATERAL (SELECT id FROM institutions ORDER BY name, id LIMIT 1) i
        WHERE u.email = $1
          AND NOT EXISTS (SELECT FROM institution_managers m WHERE m.user_id = u.id)
        ON CONFLICT ON CONSTRAINT institution_managers_pkey DO NOTHING
        """,
        email,
    )


# --- e-mail verification and password reset -------------------------------------------------


class ActiveAccount(msgspec.Struct, frozen=True):
    id: uuid.UUID
    email_verified: bool


async def find_active_account(conn: Conn, email: str) -> ActiveAccount | None:
    row = await conn.fetchrow(
        """
        SELECT id, email_verified_at IS NOT NULL FROM users
        WHERE email = $1 AND disabled_at IS NULL AND deleted_at IS NULL
        """,
        email,
    )
    return None if row is None else ActiveAccount(*row)


async def queue_account_mail(
    conn: Conn, topic: str, user_id: uuid.UUID, cooldown_seconds: int
) -> int | None:
    """An outbox row for account mail ``topic`` to the user, or None when one was queued in
    the last ``cooldown_seconds`` (nobody can make us mail someone in a loop). The user's row
    is locked so that concurrent requests queue one mail."""
    await conn.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id)
    outbox_id: int | None = await conn.fetchval(
        """
        INSERT INTO outbox (topic, payload)
        SELECT $1, jsonb_build_object('user_id', $2::uuid)
        WHERE NOT EXISTS (
            SELECT FROM outbox o
            WHERE o.booking_id IS NULL AND o.topic = $1 AND o.payload ->> 'user_id' = $2::text
              AND o.created_at > now() - make_interval(secs => $3)
        )
        RETURNING id
        """,
        topic,
        user_id,
        cooldown_seconds,
    )
    return outbox_id


async def insert_account_token(
    conn: Conn, token_hash: bytes, user_id: uuid.UUID, purpose: str, ttl_seconds: int
) -> None:
    await conn.execute(
        """
        INSERT INTO account_tokens (token_hash, user_id, purpose, expires_at)
        VALUES ($1, $2, $3, now() + make_interval(secs => $4))
        """,
        token_hash,
        user_id,
        purpose,
        ttl_seconds,
    )


async def use_account_token(conn: Conn, token_hash: bytes, purpose: str) -> uuid.UUID | None:
    """Spend a valid token (unused, unexpired, of an active account): its user, else None.
    Spending it verifies the e-mail address (the owner read the mail)."""
    user_id: uuid.UUID | None = await conn.fetchval(
        """
        WITH spent AS (
            UPDATE account_tokens t SET used_at = now()
            FROM users u
            WHERE t.token_hash = $1 AND t.purpose = $2 AND t.used_at IS NULL
              AND t.expires_at > now()
              AND u.id = t.user_id AND u.disabled_at IS NULL AND u.deleted_at IS NULL
            RETURNING t.user_id
        )
        UPDATE users u SET email_verified_at = coalesce(u.email_verified_at, now()),
                           updated_at = now()
        FROM spent WHERE u.id = spent.user_id
        RETURNING u.id
        """,
        token_hash,
        purpose,
    )
    return user_id


async def reset_password(conn: Conn, user_id: uuid.UUID, password_hash: str) -> None:
    """The new password; every other unused reset link of the user stops working."""
    await conn.execute(
        "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
        user_id,
        password_hash,
    )
    await conn.execute(
        """
        UPDATE account_tokens SET used_at = now()
        WHERE user_id = $1 AND purpose = 'reset' AND used_at IS NULL
        """,
        user_id,
    )
