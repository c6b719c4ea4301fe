"""Names handlers use to receive shared resources by dependency injection.

Handlers declare e.g. ``pool: DbPool`` or ``principal: CurrentUser``; the app provides them
(see ``booking.app``). Never construct pools, clients or services inside a handler.
"""

from __future__ import annotations

import asyncpg
from litestar.di import NamedDependency
from redis.asyncio import Redis

from booking.accounts.auth import Principal
from booking.settings import Settings

__all__ = ("AdminUser", "AppSettings", "CurrentUser", "DbPool", "MaybeUser", "RedisClient")

DbPool = NamedDependency[asyncpg.Pool]
"""The asyncpg pool (dependency name ``pool``)."""
RedisClient = NamedDependency[Redis]
"""The redis.asyncio client (dependency name ``redis``)."""
AppSettings = NamedDependency[Settings]
"""The settings object (dependency name ``settings``)."""
CurrentUser = NamedDependency[Principal]
"""The signed-in caller; 401 without a valid token (dependency name ``principal``)."""
MaybeUser = NamedDependency[Principal | None]
"""The caller if signed in, else None (dependency name ``maybe_principal``)."""
AdminUser = NamedDependency[Principal]
"""An admin; 401 anonymous, 403 others (dependency name ``admin``)."""
