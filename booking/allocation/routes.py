"""HTTP handlers of fair allocation (thin: parse, call the service, shape the answer)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath
from litestar.status_codes import HTTP_204_NO_CONTENT
from litestar.types import ControllerRouterHandler

from booking.allocation import service
from booking.deps import CurrentUser, MaybeUser
from booking.errors import problem_spec
from booking.http import pool_of
from schemas.allocation import (
    AllocationPolicy,
    Application,
    ApplicationCreate,
    ForgiveStrike,
    InstitutionAllocationPolicy,
    MyStrikes,
    Offer,
    PublicValue,
    Round,
    RoundCreate,
    RoundResult,
    RoundUpdate,
    WaitlistEntry,
    WaitlistJoin,
)

__all__ = (
    "ROUTES",
    "AllocationPolicyController",
    "OfferController",
    "RoundController",
    "StrikeController",
    "WaitlistController",
)

_SECURITY: list[dict[str, list[str]]] = [{"BearerToken": []}]
_401 = problem_spec("Not signed in")
_404 = problem_spec("No such object (for you)")
_422 = problem_spec("Invalid body")
_SUSPENDED = problem_spec(
    "Booking is suspended after repeated no-shows (`booking-suspended`, with `suspended_until`)",
    example=(
        403,
        "booking-suspended",
        "Booking suspended",
        "Booking is suspended until 2026-12-31T10:00:00Z after repeated no-shows.",
    ),
)
_ROUND_EXAMPLE = Example(
    summary="December weekend afternoons of the hall",
    value={
        "title": "12월 주말 대강당 추첨",
        "opens_at": "2026-11-01T09:00:00+09:00",
        "closes_at": "2026-11-15T18:00:00+09:00",
        "draw_at": "2026-11-16T10:00:00+09:00",
        "slots": [
            {"start": "2026-12-05T13:00:00+09:00", "end": "2026-12-05T17:00:00+09:00"},
            {"start": "2026-12-06T13:00:00+09:00", "end": "2026-12-06T17:00:00+09:00"},
        ],
        "max_applications_per_citizen": 2,
        "institution_monthly_win_cap": 1,
    },
)


def _now() -> datetime:
    return datetime.now(UTC)


class AllocationPolicyController(Controller):
    path = "/v1"
    tags = ["allocation"]
    security = _SECURITY

    @put(
        "/rooms/{room_id:uuid}/allocation-policy",
        operation_id="setRoomAllocationPolicy",
        summary="Set a room's allocation mode, monthly cap and late-cancellation window",
        description=(
            "`mode`: `first_come` (default) or `lottery` (slots are given out in rounds). "
            "`monthly_cap_per_citizen`: at most this many bookings per citizen per calendar "
            "month (institution's timezone), counted in the booking transaction. "
            "`late_cancel_hours`: a citizen cancelling later than this before the start gets "
            "half a strike (null: never)."
        ),
        responses={401: _401, 404: _404, 422: _422},
    )
    async def set_room_policy(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        room_id: FromPath[uuid.UUID],
        data: Annotated[
            AllocationPolicy,
            Body(
                examples=[
                    Example(
                        summary="a popular hall by lottery, once a month",
                        value={"mode": "lottery", "monthly_cap_per_citizen": 1},
                    )
                ]
            ),
        ],
    ) -> AllocationPolicy:
        return await service.set_room_policy(pool_of(request), principal, room_id, data)

    @put(
        "/institutions/{institution_id:uuid}/allocation-policy",
        operation_id="setInstitutionAllocationPolicy",
        summary="Cap bookings per citizen per month across an institution's rooms",
        responses={401: _401, 404: _404, 422: _422},
    )
    async def set_institution_policy(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        institution_id: FromPath[uuid.UUID],
        data: Annotated[
            InstitutionAllocationPolicy,
            Body(examples=[Example(summary="two a month", value={"monthly_cap_per_citizen": 2})]),
        ],
    ) -> InstitutionAllocationPolicy:
        return await service.set_institution_policy(
            pool_of(request), principal, institution_id, data
        )


class RoundController(Controller):
    path = "/v1"
    tags = ["lottery"]

    @post(
        "/rooms/{room_id:uuid}/rounds",
        operation_id="createRound",
        summary="Create a draft lottery round (the room's managers)",
        description=(
            "A draft can be edited; publishing it publishes SHA-256 of its secret seed and "
            "freezes everything. Slots must not overlap and must start after the draw."
        ),
        status_code=201,
        security=_SECURITY,
        responses={
            401: _401,
            404: _404,
            409: problem_spec("The room is not in lottery mode (`room-not-lottery`)"),
            422: _422,
        },
    )
    async def create_round(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        room_id: FromPath[uuid.UUID],
        data: Annotated[RoundCreate, Body(examples=[_ROUND_EXAMPLE])],
    ) -> Round:
        return await service.create_round(pool_of(request), principal, room_id, data, _now())

    @patch(
        "/rounds/{round_id:uuid}",
        operation_id="updateRound",
        summary="Edit a draft round (the room's managers)",
        security=_SECURITY,
        responses={
            401: _401,
            404: _404,
            409: problem_spec("The round is published and immutable (`round-locked`)"),
            422: _422,
        },
    )
    async def update_round(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        round_id: FromPath[uuid.UUID],
        data: Annotated[
            RoundUpdate,
            Body(examples=[Example(summary="rename", value={"title": "12월 주말 추첨 (수정)"})]),
        ],
    ) -> Round:
        return await service.update_round(pool_of(request), principal, round_id, data, _now())

    @post(
        "/rounds/{round_id:uuid}/publish",
        operation_id="publishRound",
        summary="Publish a round: its seed commitment becomes public, the round immutable",
        status_code=200,
        security=_SECURITY,
        responses={
            401: _401,
            404: _404,
            409: problem_spec("Already published, or the period is over"),
        },
    )
    async def publish_round(
        self, request: Request[Any, Any, Any], principal: CurrentUser, round_id: FromPath[uuid.UUID]
    ) -> Round:
        return await service.publish_round(pool_of(request), principal, round_id, _now())

    @put(
        "/rounds/{round_id:uuid}/public-value",
        operation_id="setRoundPublicValue",
        summary="Enter the public value that joins the draw's randomness (after the close, once)",
        security=_SECURITY,
        responses={
            401: _401,
            404: _404,
            409: problem_spec("Not closed yet, already set, or already drawn"),
            422: _422,
        },
    )
    async def set_public_value(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        round_id: FromPath[uuid.UUID],
        data: Annotated[
            PublicValue,
            Body(
                examples=[
                    Example(summary="lotto numbers", value={"value": "1203: 3 11 19 24 38 45"})
                ]
            ),
        ],
    ) -> Round:
        return await service.set_public_value(
            pool_of(request), principal, round_id, data.value, _now()
        )

    @get(
        "/rooms/{room_id:uuid}/rounds",
        operation_id="listRounds",
        summary="A room's lottery rounds (drafts only for its managers)",
        responses={404: problem_spec("No such room")},
    )
    async def list_rounds(
        self,
        request: Request[Any, Any, Any],
        maybe_principal: MaybeUser,
        room_id: FromPath[uuid.UUID],
    ) -> list[Round]:
        return await service.list_rounds(pool_of(request), maybe_principal, room_id, _now())

    @get(
        "/rounds/{round_id:uuid}",
        operation_id="getRound",
        summary="Read a round: phase, slots, application counts, commitment and list hash",
        responses={404: problem_spec("No such round")},
    )
    async def get_round(
        self,
        request: Request[Any, Any, Any],
        maybe_principal: MaybeUser,
        round_id: FromPath[uuid.UUID],
    ) -> Round:
        return await service.get_round(pool_of(request), maybe_principal, round_id, _now())

    @get(
        "/rounds/{round_id:uuid}/result",
        operation_id="getRoundResult",
        summary="The public draw record (no personal data): verify it with scripts/verify_draw.py",
        description=(
            "Algorithm `nanum-draw-v1`. Before the close: the commitment only. After the close: "
            "the frozen pseudonymous application list and its hash. After the draw: the seed, "
            "each slot's draw order, winner and waitlist."
        ),
        responses={404: problem_spec("No such round")},
    )
    async def get_result(
        self, request: Request[Any, Any, Any], round_id: FromPath[uuid.UUID]
    ) -> RoundResult:
        return await service.round_result(pool_of(request), round_id)

    @post(
        "/rounds/{round_id:uuid}/applications",
        operation_id="applyForSlot",
        summary="Apply for one slot of an open round (citizens)",
        status_code=201,
        security=_SECURITY,
        responses={
            401: _401,
            403: _SUSPENDED,
            404: problem_spec("No such round"),
            409: problem_spec("Not open (`round-not-open`) or already applied"),
            422: problem_spec("Not a slot of this round, or too many applications"),
        },
    )
    async def apply(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        round_id: FromPath[uuid.UUID],
        data: Annotated[
            ApplicationCreate,
            Body(
                examples=[
                    Example(
                        summary="one slot",
                        value={"slot_id": "0b9d7f64-9e0c-4f7a-8c53-3f1f3d0e2a11"},
                    )
                ]
            ),
        ],
    ) -> Application:
        return await service.apply(pool_of(request), principal, round_id, data.slot_id, _now())

    @get(
        "/rounds/{round_id:uuid}/applications/mine",
        operation_id="listMyApplications",
        summary="My applications in a round, with their outcome after the draw",
        security=_SECURITY,
        responses={401: _401},
    )
    async def mine(
        self, request: Request[Any, Any, Any], principal: CurrentUser, round_id: FromPath[uuid.UUID]
    ) -> list[Application]:
        return await service.my_applications(pool_of(request), principal, round_id)

    @delete(
        "/rounds/{round_id:uuid}/applications/{application_id:uuid}",
        operation_id="withdrawApplication",
        summary="Withdraw an application while the round is open",
        status_code=HTTP_204_NO_CONTENT,
        security=_SECURITY,
        responses={401: _401, 404: _404, 409: problem_spec("The round is not open")},
    )
    async def withdraw(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        round_id: FromPath[uuid.UUID],
        application_id: FromPath[uuid.UUID],
    ) -> None:
        await service.withdraw(pool_of(request), principal, round_id, application_id, _now())


class WaitlistController(Controller):
    path = "/v1"
    tags = ["waitlist"]
    security = _SECURITY

    @post(
        "/waitlist",
        operation_id="joinWaitlist",
        summary="Wait for a taken time of a room; its first waiter gets an offer when it frees",
        status_code=201,
        responses={
            401: _401,
            403: _SUSPENDED,
            404: problem_spec("No such room"),
            409: problem_spec("The time is free (`slot-free`) or you already wait for it"),
            422: _422,
        },
    )
    async def join(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        data: Annotated[
            WaitlistJoin,
            Body(
                examples=[
                    Example(
                        summary="a taken Saturday afternoon",
                        value={
                            "room_id": "6f1c2a4e-8a53-4a39-9d0e-2b1f6c3d7e90",
                            "start": "2026-12-05T13:00:00+09:00",
                            "end": "2026-12-05T17:00:00+09:00",
                        },
                    )
                ]
            ),
        ],
    ) -> WaitlistEntry:
        return await service.join_waitlist(pool_of(request), principal, data, _now())

    @get(
        "/me/waitlist",
        operation_id="listMyWaitlist",
        summary="My waiting entries and live offers, with my place in line",
        responses={401: _401},
    )
    async def mine(
        self, request: Request[Any, Any, Any], principal: CurrentUser
    ) -> list[WaitlistEntry]:
        return await service.my_waitlist(pool_of(request), principal)

    @delete(
        "/waitlist/{entry_id:int}",
        operation_id="leaveWaitlist",
        summary="Leave a waitlist",
        status_code=HTTP_204_NO_CONTENT,
        responses={401: _401, 404: _404},
    )
    async def leave(
        self, request: Request[Any, Any, Any], principal: CurrentUser, entry_id: FromPath[int]
    ) -> None:
        await service.leave_waitlist(pool_of(request), principal, entry_id, _now())


class OfferController(Controller):
    path = "/v1/offers"
    tags = ["waitlist"]
    security = _SECURITY

    @post(
        "/{booking_id:uuid}/accept",
        operation_id="acceptOffer",
        summary="Accept a waitlist offer: the held slot becomes my booking",
        status_code=200,
        responses={
            401: _401,
            403: _SUSPENDED,
            404: _404,
            409: problem_spec("Expired (`offer-expired`) or already answered"),
            422: problem_spec("A monthly cap refuses it (`rule`)"),
        },
    )
    async def accept(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        booking_id: FromPath[uuid.UUID],
    ) -> Offer:
        return await service.accept_offer(pool_of(request), principal, booking_id, _now())

    @post(
        "/{booking_id:uuid}/decline",
        operation_id="declineOffer",
        summary="Decline a waitlist offer: the next in line is offered the slot",
        status_code=200,
        responses={401: _401, 404: _404, 409: problem_spec("Expired or already answered")},
    )
    async def decline(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        booking_id: FromPath[uuid.UUID],
    ) -> Offer:
        return await service.decline_offer(pool_of(request), principal, booking_id, _now())


class StrikeController(Controller):
    path = "/v1"
    tags = ["strikes"]
    security = _SECURITY

    @get(
        "/me/strikes",
        operation_id="getMyStrikes",
        summary="My strikes of the last 90 days and my suspension, if any",
        responses={401: _401},
    )
    async def mine(self, request: Request[Any, Any, Any], principal: CurrentUser) -> MyStrikes:
        return await service.my_strikes(pool_of(request), principal, _now())

    @post(
        "/strikes/{strike_id:uuid}/forgive",
        operation_id="forgiveStrike",
        summary="Forgive a strike with a reason (managers of its institution)",
        status_code=HTTP_204_NO_CONTENT,
        responses={
            401: _401,
            404: _404,
            409: problem_spec("Already forgiven"),
            422: _422,
        },
    )
    async def forgive(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        strike_id: FromPath[uuid.UUID],
        data: Annotated[
            ForgiveStrike,
            Body(examples=[Example(summary="a reason", value={"reason": "폭설로 인한 불참"})]),
        ],
    ) -> None:
        await service.forgive_strike(pool_of(request), principal, strike_id, data.reason, _now())


ROUTES: list[ControllerRouterHandler] = [
    AllocationPolicyController,
    RoundController,
    WaitlistController,
    OfferController,
    StrikeController,
]
