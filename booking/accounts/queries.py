"""SQL of accounts; every function takes the connection it runs on."""

from __future__ import annotations

import uuid

import asyncpg

from booking.db import Conn

__all__ = ("fetch_active_principal",)


async def fetch_active_principal(conn: Conn, user_id: uuid.UUID) -> asyncpg.Record | None:
    """The user with the institutions they manage, or None if deleted, disabled or unknown."""
    return await conn.fetchrow(
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
