"""Every feature's route handlers, mounted in one place."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from booking.accounts import routes as accounts
from booking.allocation import routes as allocation
from booking.catalogue import routes as catalogue
from booking.feeds import routes as feeds
from booking.health import routes as health
from booking.opendata import routes as opendata
from booking.reservations import routes as reservations

__all__ = ("route_handlers",)

_FEATURES = (health, accounts, catalogue, reservations, feeds, allocation, opendata)


def route_handlers() -> list[ControllerRouterHandler]:
    return [handler for feature in _FEATURES for handler in feature.ROUTES]
