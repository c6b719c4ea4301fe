"""HTTP handlers of free time (thin: parse, call the service, shape the answer)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get
from litestar.params import FromPath, QueryParameter
from litestar.types import ControllerRouterHandler

from booking.availability import service
from booking.catalogue.routes import parse_instant, problems
from booking.deps import DbPool, MaybeUser
from schemas.availability import RoomAvailability

__all__ = ("ROUTES", "AvailabilityController")


class AvailabilityController(Controller):
    path = "/v1/rooms/{room_id:uuid}/availability"
    tags = ["availability"]

    @get(
        "/",
        operation_id="getRoomAvailability",
        responses=problems(404, 422),
        summary="Free intervals of a room in [from, to) (at most 93 days)",
        description=(
            "Weekly windows in the institution's timezone, clipped to the booking lead time and "
            "horizon, minus closures, public holidays (when the room closes on them) and bookings "
            "that hold a slot. Times come back in the institution's local offset."
        ),
    )
    async def availability(
        self,
        pool: DbPool,
        maybe_principal: MaybeUser,
        room_id: FromPath[uuid.UUID],
        from_: Annotated[
            str | None,
            QueryParameter(
                name="from",
                description="RFC 3339 with an offset, e.g. 2026-12-05T00:00:00+09:00",
            ),
        ] = None,
        to: Annotated[
            str | None,
            QueryParameter(description="RFC 3339 with an offset; at most 93 days after `from`"),
        ] = None,
    ) -> RoomAvailability:
        start = parse_instant(from_, "from")
        end = parse_instant(to, "to")
        return await service.free_time(pool, maybe_principal, room_id, start, end)


ROUTES: list[ControllerRouterHandler] = [AvailabilityController]
