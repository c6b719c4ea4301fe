"""HTTP handlers of this feature (thin: parse, call the service, shape the answer)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, cast

from litestar import Controller, MediaType, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from booking.accounts.security import bearer_token, decode_token
from booking.deps import CurrentUser
from booking.errors import (
    PROBLEM_MEDIA_TYPE,
    Conflict,
    Unauthorized,
    problem_answer,
    problem_spec,
)
from booking.http import (
    SECURITY,
    parse_instant,
    pool_of,
    refuse_control_characters,
    settings_of,
)
from booking.reservations import lifecycle, service
from booking.reservations.idempotency import IDEMPOTENCY_HEADER
from schemas.jobs import CheckInResult
from schemas.reservations import (
    Booking,
    BookingCancel,
    BookingConflict,
    BookingCreate,
    BookingPage,
    BookingReject,
    BookingReschedule,
    BookingStatus,
)

__all__ = (
    "ROUTES",
    "BookingController",
    "CheckInController",
    "InstitutionBookingController",
    "MyBookingController",
)


_BOOKER_KEY = "nanum.booker"


async def resolve_booker(request: Request[Any, Any, State]) -> None:
    """The handler's ``before_request`` hook: the caller's user id from a valid token, kept in the
    scope for the handler, before the body is parsed (then the app's query-string check, which
    a handler's own hook replaces). Only the token's signature and claims: ``book()`` itself
    refuses (401) an account that is disabled or deleted, which saves a query on the hottest
    endpoint. A hook, not a guard or a dependency: Litestar copies the handler for every guard
    call and resolves dependencies in a task group, each costing more than this check."""
    token = bearer_token(request.headers.get("authorization", ""))
    claims = decode_token(settings_of(request), token) if token is not None else None
    if claims is None:
        raise Unauthorized(
            "Sign in and send a valid access token as `Authorization: Bearer <token>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    cast("dict[str, Any]", request.scope)[_BOOKER_KEY] = claims.user_id
    await refuse_control_characters(request)


_SLOT_TAKEN = ResponseSpec(
    data_container=BookingConflict,
    description=(
        "The slot is taken (`slot-taken`, with `conflicts` and up to three `alternatives`), "
        "the status does not allow it (`illegal-transition`, with `current_status`), or a request "
        "with the same Idempotency-Key is still in flight (`idempotency-in-flight`)"
    ),
    media_type=PROBLEM_MEDIA_TYPE,
    generate_examples=False,
    examples=[
        Example(
            summary="slot taken",
            value={
                "type": "https://nanum.example/problems/slot-taken",
                "title": "Slot taken",
                "status": 409,
                "detail": "This room is already booked for part of that time.",
                "conflicts": [
                    {"start": "2026-12-05T19:00:00+09:00", "end": "2026-12-05T20:00:00+09:00"}
                ],
                "alternatives": [
                    {"start": "2026-12-05T20:00:00+09:00", "end": "2026-12-05T21:00:00+09:00"},
                    {"start": "2026-12-05T18:00:00+09:00", "end": "2026-12-05T19:00:00+09:00"},
                ],
            },
        )
    ],
)

_ILLEGAL = problem_spec(
    "The booking's status (or the time) does not allow it (`illegal-transition`, with "
    "`current_status`)"
)

_DECIDERS_ONLY = problem_spec(
    "Only the room's managers decide, and never on their own booking",
    example=(
        403,
        "own-booking",
        "Your own booking",
        "Nobody may decide on their own booking: another manager of the institution "
        "or an administrator does.",
    ),
)

_BOOKING_EXAMPLE = Example(
    summary="a weeknight meeting",
    value={
        "room_id": "6f1c2a4e-8a53-4a39-9d0e-2b1f6c3d7e90",
        "start": "2026-12-07T19:00:00+09:00",
        "end": "2026-12-07T21:00:00+09:00",
        "purpose": "마을 독서모임",
        "attendees": 8,
    },
)


class BookingController(Controller):
    path = "/v1/bookings"
    tags = ["bookings"]

    @post(
        "/",
        operation_id="createBooking",
        summary="Book a room",
        description=(
            "Books `[start, end)` in one transaction: the range must lie inside the room's "
            "opening hours and outside closures, be aligned to its slots, respect its minimum "
            "and maximum duration, lead time, horizon, capacity and the per-citizen limit of "
            "upcoming bookings (422 naming the `rule`). Rooms that need approval answer "
            "`pending`, which already holds the slot. Send an `Idempotency-Key` to retry safely."
        ),
        status_code=201,
        security=SECURITY,
        before_request=resolve_booker,
        responses={
            401: problem_spec("No valid token, or the account can no longer sign in"),
            403: problem_spec(
                "The account's e-mail address is not verified yet, or booking is suspended",
                example=(
                    403,
                    "email-unverified",
                    "E-mail address not verified",
                    "Confirm your e-mail address first: open the link in the e-mail we sent.",
                ),
            ),
            404: problem_spec("No such room"),
            409: _SLOT_TAKEN,
            422: problem_spec("Invalid body, a booking rule refused it, or the key was reused"),
        },
    )
    async def create_booking(
        self,
        request: Request[Any, Any, State],
        data: Annotated[BookingCreate, Body(examples=[_BOOKING_EXAMPLE])],
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(
                name=IDEMPOTENCY_HEADER,
                required=False,
                description="Up to 255 characters, unique per intended booking; kept for 24 h",
            ),
        ] = None,
    ) -> Response[Booking]:
        # The hottest endpoint takes the caller from its hook rather than an injected
        # dependency (Litestar resolves a batch of two or more in a task group, which cost more
        # than the booking's own Python work).
        booker: uuid.UUID = cast("dict[str, Any]", request.scope)[_BOOKER_KEY]
        try:
            answer = await service.create_booking(pool_of(request), booker, data, idempotency_key)
        except Conflict as taken:
            # A lost slot is the refusal a busy slot sends by the hundred: answered here rather
            # than through the exception middleware (same body as raising it).
            return cast("Response[Booking]", problem_answer(request.url.path, taken))
        headers = {"Location": f"/v1/bookings/{answer.booking_id}"}
        if answer.replayed:
            headers["Idempotent-Replayed"] = "true"
        # The JSON book() wrote is sent as it is (a Booking; decoding and encoding it again
        # would only cost time on the hottest endpoint).
        sent = Response(answer.body, status_code=201, headers=headers, media_type=MediaType.JSON)
        return cast("Response[Booking]", sent)

    @get(
        "/{booking_id:uuid}",
        operation_id="getBooking",
        summary="Read a booking (its citizen, or its room's managers)",
        security=SECURITY,
        responses={
            401: problem_spec("Not signed in"),
            404: problem_spec("No such booking (for you)"),
        },
    )
    async def get_booking(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        booking_id: FromPath[uuid.UUID],
    ) -> Booking:
        return await service.get_booking(pool_of(request), principal, booking_id)

    @patch(
        "/{booking_id:uuid}",
        operation_id="rescheduleBooking",
        summary="Move a booking to another time in the same room (its citizen)",
        description=(
            "Atomic: if the new range conflicts (409) or breaks a rule (422) the booking keeps "
            "its old time. In rooms that need approval the booking becomes `pending` again."
        ),
        security=SECURITY,
        responses={
            401: problem_spec("Not signed in"),
            403: problem_spec("Only the citizen who booked can reschedule"),
            404: problem_spec("No such booking (for you)"),
            409: _SLOT_TAKEN,
            422: problem_spec("Invalid body or a booking rule refused it"),
        },
    )
    async def reschedule_booking(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        booking_id: FromPath[uuid.UUID],
        data: JSONBody[BookingReschedule],
    ) -> Booking:
        return await service.reschedule_booking(
            pool_of(request), principal, booking_id, data.start, data.end
        )

    @post(
        "/{booking_id:uuid}/cancel",
        operation_id="cancelBooking",
        summary="Cancel a booking (its citizen before the start, its managers with a reason)",
        status_code=200,
        security=SECURITY,
        responses={
            401: problem_spec("Not signed in"),
            404: problem_spec("No such booking (for you)"),
            409: _ILLEGAL,
            422: problem_spec("A manager gave no reason"),
        },
    )
    async def cancel_booking(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        booking_id: FromPath[uuid.UUID],
        data: JSONBody[BookingCancel | None] = None,
    ) -> Booking:
        reason = data.reason if data is not None else None
        return await service.cancel_booking(pool_of(request), principal, booking_id, reason)

    @post(
        "/{booking_id:uuid}/approve",
        operation_id="approveBooking",
        summary="Approve a pending booking (its room's managers)",
        status_code=200,
        security=SECURITY,
        responses={
            401: problem_spec("Not signed in"),
            403: _DECIDERS_ONLY,
            404: problem_spec("No such booking (for you)"),
            409: _ILLEGAL,
        },
    )
    async def approve_booking(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        booking_id: FromPath[uuid.UUID],
    ) -> Booking:
        return await service.approve_booking(pool_of(request), principal, booking_id)

    @post(
        "/{booking_id:uuid}/reject",
        operation_id="rejectBooking",
        summary="Reject a pending booking with a reason (its room's managers)",
        status_code=200,
        security=SECURITY,
        responses={
            401: problem_spec("Not signed in"),
            403: _DECIDERS_ONLY,
            404: problem_spec("No such booking (for you)"),
            409: _ILLEGAL,
            422: problem_spec("No reason given"),
        },
    )
    async def reject_booking(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        booking_id: FromPath[uuid.UUID],
        data: JSONBody[BookingReject],
    ) -> Booking:
        return await service.reject_booking(pool_of(request), principal, booking_id, data.reason)


Limit = Annotated[int, QueryParameter(ge=1, le=200, description="Page size")]
From = Annotated[
    str | None,
    QueryParameter(
        name="from", description="Only bookings ending after this RFC 3339 time (with an offset)"
    ),
]
To = Annotated[
    str | None,
    QueryParameter(
        name="to", description="Only bookings starting before this RFC 3339 time (with an offset)"
    ),
]
Cursor = Annotated[
    str | None, QueryParameter(description="`next_cursor` of the previous page", required=False)
]


class MyBookingController(Controller):
    path = "/v1/me/bookings"
    tags = ["bookings"]

    @get(
        "/",
        operation_id="listMyBookings",
        summary="My bookings, by start time (keyset pagination)",
        security=SECURITY,
        responses={401: problem_spec("Not signed in"), 422: problem_spec("Invalid filter")},
    )
    async def list_my_bookings(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        status: FromQuery[BookingStatus | None] = None,
        window_from: From = None,
        window_to: To = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> BookingPage:
        return await service.list_my_bookings(
            pool_of(request),
            principal,
            status=status,
            window_from=parse_instant(window_from, "from"),
            window_to=parse_instant(window_to, "to"),
            cursor=cursor,
            limit=limit,
        )


class InstitutionBookingController(Controller):
    path = "/v1/institutions/{institution_id:uuid}/bookings"
    tags = ["bookings"]

    @get(
        "/",
        operation_id="listInstitutionBookings",
        summary="An institution's bookings with citizens' names (its managers, admins)",
        security=SECURITY,
        responses={
            401: problem_spec("Not signed in"),
            403: problem_spec("Not a manager of this institution"),
            404: problem_spec("No such institution"),
            422: problem_spec("Invalid filter"),
        },
    )
    async def list_institution_bookings(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        institution_id: FromPath[uuid.UUID],
        status: FromQuery[BookingStatus | None] = None,
        room_id: FromQuery[uuid.UUID | None] = None,
        window_from: From = None,
        window_to: To = None,
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> BookingPage:
        return await service.list_institution_bookings(
            pool_of(request),
            principal,
            institution_id,
            status=status,
            room_id=room_id,
            window_from=parse_instant(window_from, "from"),
            window_to=parse_instant(window_to, "to"),
            cursor=cursor,
            limit=limit,
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
        "check_in_opens_at": "2026-12-05T18:45:00+09:00",
        "check_in_closes_at": "2026-12-05T19:15:00+09:00",
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
        return await lifecycle.check_in(pool_of(request), principal, booking_id, datetime.now(UTC))


ROUTES: list[ControllerRouterHandler] = [
    BookingController,
    MyBookingController,
    InstitutionBookingController,
    CheckInController,
]
