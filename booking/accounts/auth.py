"""Who is calling: the bearer token, checked against the database on every request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from litestar import Request

from booking.accounts.queries import fetch_active_principal
from booking.accounts.security import bearer_token, decode_token
from booking.errors import Forbidden, Unauthorized
from booking.http import pool_of, settings_of

__all__ = (
    "Principal",
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


async def _principal(request: Request[Any, Any, Any]) -> Principal | None:
    token = bearer_token(request.headers.get("authorization", ""))
    if token is None:
        return None
    claims = decode_token(settings_of(request), token)
    if claims is None:
        raise Unauthorized(
            "The access token is invalid or expired; sign in again.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    async with pool_of(request).acquire() as conn:
        row = await fetch_active_principal(conn, claims.user_id)
    if row is None:
        raise Unauthorized(
            "This account can no longer sign in.", headers={"WWW-Authenticate": "Bearer"}
        )
    return Principal(
        id=row.id,
        email=row.email,
        name=row.name,
        role=row.role,
        institutions=frozenset(row.institutions),
    )


async def optional_principal(request: Request[Any, Any, Any]) -> Principal | None:
    """The caller if a token was sent (a bad token is still refused), else None."""
    return await _principal(request)


async def require_principal(request: Request[Any, Any, Any]) -> Principal:
    principal = await _principal(request)
    if principal is None:
        raise Unauthorized(
            "Sign in and send the access token as `Authorization: Bearer <token>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


async def require_admin(request: Request[Any, Any, Any]) -> Principal:
    """Admins only. A role-level refusal is 403 (the endpoint is public knowledge); objects a
    caller may not see answer 404 instead, in each feature's service."""
    principal = await require_principal(request)
    if not principal.is_admin:
        raise Forbidden("Only an administrator may do this.")
    return principal
