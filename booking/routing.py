"""Every feature's route handlers, mounted in one place."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

__all__ = ("route_handlers",)


def route_handlers() -> list[ControllerRouterHandler]:
    from booking.health.routes import HealthController

    return [HealthController]
