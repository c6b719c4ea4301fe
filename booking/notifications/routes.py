"""HTTP handlers of this feature (thin: parse, call the service, shape the answer)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from litestar import Controller, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from booking.deps import CurrentUser, DbPool
from booking.errors import PROBLEM_MEDIA_TYPE
from booking.notifications import service
from schemas.common import ProblemDetails
from schemas.jobs import CheckInResult

__all__ = ("ROUTES", "CheckInController")


def _problem(description: str, examples: list[Example] | None = None) -> ResponseSpec:
    return ResponseSpec(
        data_container=ProblemDetails,
        description=description,
        media_type=PROBLEM_MEDIA_TYPE,
        generate_examples=False,
        examples=examples,
    )


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
    security = [{"BearerToken": []}]

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
            401: _problem("No valid access token"),
            403: _problem("A manager of the institution: only the citizen checks in"),
            404: _problem("No such booking, or not yours"),
            409: _problem("Wrong status or outside the check-in window", [_NOT_NOW]),
        },
    )
    async def check_in(
        self, booking_id: FromPath[uuid.UUID], pool: DbPool, principal: CurrentUser
    ) -> CheckInResult:
        return await service.check_in(pool, principal, booking_id, datetime.now(UTC))


ROUTES: list[ControllerRouterHandler] = [CheckInController]
