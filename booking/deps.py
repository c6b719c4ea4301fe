"""Names handlers use to receive the caller by dependency injection.

Handlers declare e.g. ``principal: CurrentUser``; the app provides it (see ``booking.app``).
The pool, settings and Redis client come from the app state through ``booking.http``
(``pool_of(request)``, ...), never constructed inside a handler.
"""

from __future__ import annotations

from litestar.di import NamedDependency

from booking.accounts.auth import Principal

__all__ = ("AdminUser", "CurrentUser", "MaybeUser")

CurrentUser = NamedDependency[Principal]
"""The signed-in caller; 401 without a valid token (dependency name ``principal``)."""
MaybeUser = NamedDependency[Principal | None]
"""The caller if signed in, else None (dependency name ``maybe_principal``)."""
AdminUser = NamedDependency[Principal]
"""An admin; 401 anonymous, 403 others (dependency name ``admin``)."""
