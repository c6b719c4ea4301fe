"""Page sessions: server-side in Redis (Litestar's server-side session middleware and
``RedisStore``), one HttpOnly ``SameSite=Lax`` cookie holding only a random id, ``Secure`` in
production. The id is replaced at sign-in (no session fixation) and sign-out deletes the data
on the server, not only the cookie."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.types import Message, ScopeSession
from litestar.utils.dataclass import extract_dataclass_items

from booking.accounts.auth import Principal
from booking.accounts.queries import fetch_active_principal

__all__ = (
    "SESSION_COOKIE",
    "SESSION_STORE",
    "RotatingSessionBackend",
    "RotatingSessionConfig",
    "page_principal",
    "sign_in",
    "sign_out",
)

SESSION_COOKIE = "nanum_session"
SESSION_STORE = "sessions"
_ROTATE = "_rotate"
_USER = "uid"


class RotatingSessionBackend(ServerSideSessionBackend):
    """Litestar's backend, plus: a session marked for rotation is saved under a new id and the
    old id's data is deleted, so an id known before sign-in is worthless after it."""

    async def store_in_message(
        self,
        scope_session: ScopeSession,
        message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        if not isinstance(scope_session, dict) or not scope_session.pop(_ROTATE, False):
            await super().store_in_message(scope_session, message, connection)
            return
        store = self.config.get_store_from_app(connection.scope["app"])
        old = connection.cookies.get(self.config.key)
        if old and old != "null":
            await self.delete(old, store=store)
        session_id = self.generate_session_id()
        await self.set(
            session_id=session_id,
            data=self.serialize_data(scope_session, connection.scope),
            store=store,
        )
        cookie_params = dict(
            extract_dataclass_items(self.config, exclude_none=True, include=Cookie.__dict__.keys())
        )
        MutableScopeHeaders.from_message(message).add(
            "Set-Cookie",
            Cookie(value=session_id, key=self.config.key, **cookie_params).to_header(header=""),
        )


class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend


def sign_in(session: dict[str, Any], user_id: str) -> None:
    """Start a signed-in session: whatever was in it is dropped and its id is replaced."""
    language = session.get("lang")
    session.clear()
    session[_USER] = user_id
    session[_ROTATE] = True
    if language:
        session["lang"] = language


def sign_out(request: Any) -> None:
    request.clear_session()


async def page_principal(pool: asyncpg.Pool, session: dict[str, Any]) -> Principal | None:
    """The signed-in account of this session, looked up afresh (a disabled or deleted account
    is signed out at once, as with API tokens)."""
    user_id = session.get(_USER)
    if not user_id:
        return None
    import uuid

    try:
        ident = uuid.UUID(str(user_id))
    except ValueError:
        return None
    async with pool.acquire() as conn:
        row = await fetch_active_principal(conn, ident)
    if row is None:
        return None
    return Principal(
        id=row.id,
        email=row.email,
        name=row.name,
        role=row.role,
        institutions=frozenset(row.institutions),
    )
