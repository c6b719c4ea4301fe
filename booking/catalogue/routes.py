"""HTTP handlers of this feature (thin: parse, call the service, shape the answer)."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

__all__ = ("ROUTES",)

ROUTES: list[ControllerRouterHandler] = []
