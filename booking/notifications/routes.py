"""HTTP handlers of this feature (thin: parse, call the service, shape the answer)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, post
from litestar.openapi.spec import Example
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from booking.deps import CurrentUser
from booking.errors import problem_spec
from booking.http import SECURITY, pool_of
from booking.notifications import service
from schemas.jobs import CheckInResult

__all__ = ("ROUTES", "CheckInController")


_NOT_NOW = Example(
    summary="check-in not open yet",
    value={
        "type": "https://nanum.example/problems/check-in-not-open",
        "title": "Check-in not possible now",
        "status": 409,
        "detail": "Check-in is open from 15 minutes before the start until the grace period ends.",
        "instance": "/v1/bookings/5b0c1a9e-8a0e-4d3c-9a55-0f3f7f0e2b11/check-in",
        "current_status": "confirmed",
        "check_in_opens_at": "2026-12-05T09:45:00+00:00",
        "check_in_closes_at": "2026-12-05T10:15:00+00:00",
    },
)


class CheckInController(Controller):
    """The citizen shows up: check-in keeps a booking of a room that requires it."""

    path = "/v1/bookings"
    tags = ["bookings"]
    security = SECURITY

    @post(
        "/{booking_id:uuid}/check-in",
        operation_id="checkInBooking",
        summary="Check in to your booking",
        description=(
            "The citizen who booked checks in, from 15 minutes before the start until the room's "
            "grace period (`check_in_grace_minutes` after the start) ends. In rooms that require "
            "check-in, a booking not checked in by then becomes `no_show` and its slot is "
            "released. Checking in again answers 200. Others get 404 (its managers 403); a "
            "booking in another status or outside the window is 409 with `current_status`."
        ),
        status_code=200,
        responses={
            401: problem_spec("No valid access token"),
            403: problem_spec("A manager of the institution: only the citizen checks in"),
            404: problem_spec("No such booking, or not yours"),
            409: problem_spec("Wrong status or outside the check-in window", examples=[_NOT_NOW]),
        },
    )
    async def check_in(
        self,
        booking_id: FromPath[uuid.UUID],
        request: Request[Any, Any, Any],
        principal: CurrentUser,
    ) -> CheckInResult:
        return await service.check_in(pool_of(request), principal, booking_id, datetime.now(UTC))


ROUTES: list[ControllerRouterHandler] = [CheckInController]
