"""Who is calling: the bearer token, checked against the database on every request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from litestar import Request
from litestar.di import NamedDependency

from booking.accounts.queries import fetch_active_principal
from booking.accounts.security import decode_token
from booking.errors import Forbidden, Unauthorized
from booking.settings import Settings

__all__ = (
    "Principal",
    "bearer_token",
    "optional_principal",
    "require_admin",
    "require_principal",
)


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in caller. ``institutions`` are the ones a manager was appointed to."""

    id: uuid.UUID
    email: str
    name: str
    role: str
    institutions: frozenset[uuid.UUID]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def manages(self, institution_id: uuid.UUID) -> bool:
        """Admins manage everything; managers only the institutions they were appointed to."""
        return self.is_admin or institution_id in self.institutions


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def _principal(
    request: Request[Any, Any, Any], pool: asyncpg.Pool, settings: Settings
) -> Principal | None:
    token = bearer_token(request)
    if token is None:
        return None
    claims = decode_token(settings, token)
    if claims is None:
        raise Unauthorized(
            "The access token is invalid or expired; sign in again.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    async with pool.acquire() as conn:
        row = await fetch_active_principal(conn, claims.user_id)
    if row is None:
        raise Unauthorized(
            "This account can no longer sign in.", headers={"WWW-Authenticate": "Bearer"}
        )
    return Principal(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        role=row["role"],
        institutions=frozenset(row["institutions"]),
    )


async def optional_principal(
    request: Request[Any, Any, Any],
    pool: NamedDependency[asyncpg.Pool],
    settings: NamedDependency[Settings],
) -> Principal | None:
    """The caller if a token was sent (a bad token is still refused), else None."""
    return await _principal(request, pool, settings)


async def require_principal(
    request: Request[Any, Any, Any],
    pool: NamedDependency[asyncpg.Pool],
    settings: NamedDependency[Settings],
) -> Principal:
    principal = await _principal(request, pool, settings)
    if principal is None:
        raise Unauthorized(
            "Sign in and send the access token as `Authorization: Bearer <token>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


async def require_admin(
    request: Request[Any, Any, Any],
    pool: NamedDependency[asyncpg.Pool],
    settings: NamedDependency[Settings],
) -> Principal:
    """Admins only. A role-level refusal is 403 (the endpoint is public knowledge); objects a
    caller may not see answer 404 instead, in each feature's service."""
    principal = await require_principal(request, pool, settings)
    if not principal.is_admin:
        raise Forbidden("Only an administrator may do this.")
    return principal
