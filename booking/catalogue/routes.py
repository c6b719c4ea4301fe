"""HTTP handlers of the catalogue (thin: parse, call the service, shape the answer)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath, FromQuery, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from litestar.types import ControllerRouterHandler

from booking.catalogue import availability, closures, institutions, rooms, search, windows
from booking.deps import AdminUser, CurrentUser, MaybeUser
from booking.errors import problem_spec
from booking.http import SECURITY, PageLimit, choice, parse_instant, pool_of, problems
from schemas.availability import RoomAvailability
from schemas.catalogue import (
    ACCESSIBILITY,
    AMENITIES,
    INSTITUTION_KINDS,
    ROOM_KINDS,
    Closure,
    ClosureCreate,
    Institution,
    InstitutionCreate,
    InstitutionPage,
    InstitutionPatch,
    Room,
    RoomCreate,
    RoomPage,
    RoomPatch,
    WeeklyWindow,
    WeeklyWindowIn,
)

__all__ = (
    "ROUTES",
    "AvailabilityController",
    "ClosureController",
    "InstitutionController",
    "RoomController",
)

_INSTITUTION_EXAMPLE = {
    "name": "망원1동 주민센터",
    "kind": "community_center",
    "region": "서울특별시",
    "district": "마포구",
    "address": "서울특별시 마포구 월드컵로 1",
    "latitude": 37.5556,
    "longitude": 126.902,
    "phone": "02-3153-6600",
    "timezone": "Asia/Seoul",
}
_ROOM_EXAMPLE = {
    "name": "3층 다목적회의실",
    "name_en": "Multipurpose room, 3F",
    "kind": "multipurpose_room",
    "capacity": 20,
    "area_m2": 56,
    "floor": "3",
    "amenities": ["projector", "whiteboard", "desks", "chairs"],
    "accessibility": ["step_free", "lift", "accessible_toilet"],
    "policy": {"slot_minutes": 30, "min_minutes": 60, "max_minutes": 180},
}


class InstitutionController(Controller):
    """Public bodies that manage rooms. Appointing managers lives in the accounts feature."""

    path = "/v1/institutions"
    tags = ["catalogue"]

    @post(
        "/",
        operation_id="createInstitution",
        responses=problems(401, 403, 422),
        summary="Create an institution (admin)",
        status_code=HTTP_201_CREATED,
        security=SECURITY,
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        admin: AdminUser,
        data: Annotated[
            InstitutionCreate,
            Body(examples=[Example(summary="a dong community centre", value=_INSTITUTION_EXAMPLE)]),
        ],
    ) -> Institution:
        return await institutions.create_institution(pool_of(request), data)

    @get(
        "/",
        operation_id="listInstitutions",
        responses=problems(422),
        summary="List institutions, filtered by region, district and kind (keyset pages)",
    )
    async def list_(
        self,
        request: Request[Any, Any, Any],
        region: FromQuery[str | None] = None,
        district: FromQuery[str | None] = None,
        kind: Annotated[
            str | None, QueryParameter(description=f"one of {', '.join(INSTITUTION_KINDS)}")
        ] = None,
        limit: PageLimit = 20,
        cursor: Annotated[
            str | None, QueryParameter(description="next_cursor of the previous page")
        ] = None,
    ) -> InstitutionPage:
        return await institutions.list_institutions(
            pool_of(request),
            region=region,
            district=district,
            kind=choice(kind, "kind", INSTITUTION_KINDS),
            cursor=cursor,
            limit=limit,
        )

    @get(
        "/{institution_id:uuid}",
        operation_id="getInstitution",
        responses=problems(404),
        summary="Read an institution",
    )
    async def read(
        self, request: Request[Any, Any, Any], institution_id: FromPath[uuid.UUID]
    ) -> Institution:
        return await institutions.get_institution(pool_of(request), institution_id)

    @patch(
        "/{institution_id:uuid}",
        operation_id="updateInstitution",
        responses=problems(401, 403, 404, 422),
        summary="Edit an institution (its managers, admin; kind/region/district/timezone admin only)",
        security=SECURITY,
    )
    async def update(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        institution_id: FromPath[uuid.UUID],
        data: Annotated[
            InstitutionPatch,
            Body(examples=[Example(summary="new phone", value={"phone": "02-3153-6601"})]),
        ],
    ) -> Institution:
        return await institutions.patch_institution(
            pool_of(request), principal, institution_id, data
        )

    @post(
        "/{institution_id:uuid}/rooms",
        operation_id="createRoom",
        responses=problems(401, 403, 404, 422),
        summary="Publish a room of this institution (its managers, admin; fee admin only)",
        status_code=HTTP_201_CREATED,
        security=SECURITY,
    )
    async def create_room(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        institution_id: FromPath[uuid.UUID],
        data: Annotated[
            RoomCreate, Body(examples=[Example(summary="a meeting room", value=_ROOM_EXAMPLE)])
        ],
    ) -> Room:
        return await rooms.create_room(pool_of(request), principal, institution_id, data)

    @get(
        "/{institution_id:uuid}/rooms-to-complete",
        operation_id="listRoomsToComplete",
        responses=problems(401, 403, 404),
        summary="Rooms of this institution whose published data lacks a capacity (its managers, admin)",
        description=(
            "Rooms imported from open data without a capacity (`capacity: null`, shown as "
            '"capacity not published"), inactive ones included, for the managers to complete '
            "with `PATCH /v1/rooms/{id}`."
        ),
        security=SECURITY,
    )
    async def rooms_to_complete(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        institution_id: FromPath[uuid.UUID],
    ) -> list[Room]:
        return await rooms.rooms_to_complete(pool_of(request), principal, institution_id)


class RoomController(Controller):
    """Rooms: search, read, edit, and their weekly windows."""

    path = "/v1/rooms"
    tags = ["catalogue"]

    @get(
        "/",
        operation_id="searchRooms",
        responses=problems(422),
        summary="Search rooms by place, size, equipment, free time and distance (keyset pages)",
        description=(
            "With `free_from`/`free_to`, only rooms whose free time contains the whole range (and "
            "that can be booked then: after the lead time, within the horizon). With `near`, "
            "results are ordered by distance and carry `distance_km`."
        ),
    )
    async def search(
        self,
        request: Request[Any, Any, Any],
        region: FromQuery[str | None] = None,
        district: FromQuery[str | None] = None,
        kind: Annotated[
            str | None, QueryParameter(description=f"one of {', '.join(ROOM_KINDS)}")
        ] = None,
        min_capacity: FromQuery[int | None] = None,
        amenity: Annotated[
            list[str] | None,
            QueryParameter(description=f"repeatable; all must be present: {', '.join(AMENITIES)}"),
        ] = None,
        accessible: Annotated[
            list[str] | None,
            QueryParameter(
                description=(
                    f"comma-separated or repeated; all must be present: {', '.join(ACCESSIBILITY)}"
                ),
                examples=[Example(summary="step-free with a lift", value="step_free,lift")],
            ),
        ] = None,
        free_from: Annotated[str | None, QueryParameter(description="RFC 3339 with offset")] = None,
        free_to: Annotated[str | None, QueryParameter(description="RFC 3339 with offset")] = None,
        near: Annotated[str | None, QueryParameter(description="`<lat>,<lon>`")] = None,
        radius_km: Annotated[
            float | None, QueryParameter(description="default 5 km with `near`")
        ] = None,
        q: Annotated[
            str | None, QueryParameter(description="matches room and institution names")
        ] = None,
        limit: PageLimit = 20,
        cursor: Annotated[
            str | None, QueryParameter(description="next_cursor of the previous page")
        ] = None,
    ) -> RoomPage:
        wanted = search.parse_search(
            region=region,
            district=district,
            kind=kind,
            min_capacity=min_capacity,
            amenity=amenity or [],
            accessible=accessible or [],
            free_from=free_from,
            free_to=free_to,
            near=near,
            radius_km=radius_km,
            q=q,
            limit=limit,
        )
        return await search.search_rooms(pool_of(request), wanted, cursor)

    @get("/{room_id:uuid}", operation_id="getRoom", responses=problems(404), summary="Read a room")
    async def read(
        self,
        request: Request[Any, Any, Any],
        maybe_principal: MaybeUser,
        room_id: FromPath[uuid.UUID],
    ) -> Room:
        return await rooms.get_room(pool_of(request), maybe_principal, room_id)

    @patch(
        "/{room_id:uuid}",
        operation_id="updateRoom",
        responses=problems(401, 403, 404, 422),
        summary="Edit or deactivate a room (its managers, admin; fee admin only)",
        security=SECURITY,
    )
    async def update(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        room_id: FromPath[uuid.UUID],
        data: Annotated[
            RoomPatch,
            Body(
                examples=[
                    Example(summary="deactivate", value={"active": False}),
                    Example(
                        summary="bigger", value={"capacity": 30, "policy": {"max_minutes": 180}}
                    ),
                ]
            ),
        ],
    ) -> Room:
        return await rooms.patch_room(pool_of(request), principal, room_id, data)

    @put(
        "/{room_id:uuid}/availability-rules",
        operation_id="replaceAvailabilityRules",
        responses=problems(401, 403, 404, 422),
        summary="Replace the room's weekly windows (local time; overlapping windows merge)",
        security=SECURITY,
    )
    async def replace_rules(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        room_id: FromPath[uuid.UUID],
        data: Annotated[
            list[WeeklyWindowIn],
            Body(
                examples=[
                    Example(
                        summary="weeknights and weekend days",
                        value=[
                            {
                                "days": ["mon", "tue", "wed", "thu", "fri"],
                                "start": "19:00",
                                "end": "22:00",
                            },
                            {"days": ["sat", "sun"], "start": "09:00", "end": "18:00"},
                        ],
                    )
                ]
            ),
        ],
    ) -> list[WeeklyWindow]:
        return await windows.replace_rules(pool_of(request), principal, room_id, data)

    @get(
        "/{room_id:uuid}/availability-rules",
        operation_id="getAvailabilityRules",
        responses=problems(404),
        summary="The room's weekly windows",
    )
    async def rules(
        self,
        request: Request[Any, Any, Any],
        maybe_principal: MaybeUser,
        room_id: FromPath[uuid.UUID],
    ) -> list[WeeklyWindow]:
        return await windows.get_rules(pool_of(request), maybe_principal, room_id)


class ClosureController(Controller):
    """One-off closures of a room (its managers and admins)."""

    path = "/v1/rooms/{room_id:uuid}/closures"
    tags = ["catalogue"]
    security = SECURITY

    @post(
        "/",
        operation_id="createClosure",
        responses={
            **problems(401, 403, 404, 422),
            409: problem_spec(
                "Slot-holding bookings lie in the range (`closure-over-bookings`, listing them "
                "in `bookings`: id, status, start, end); send `cancel_bookings: true` and a "
                "`cancellation_reason` to cancel them with the closure",
                example=(
                    409,
                    "closure-over-bookings",
                    "Bookings in the way",
                    "1 booking(s) hold a slot in this range. Cancel them with the closure "
                    "(cancel_bookings: true and a cancellation_reason), or close another range.",
                ),
            ),
        },
        summary="Close the room for a range",
        status_code=HTTP_201_CREATED,
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        room_id: FromPath[uuid.UUID],
        data: Annotated[
            ClosureCreate,
            Body(
                examples=[
                    Example(
                        summary="maintenance, its reason shown to citizens",
                        value={
                            "start": "2026-12-24T00:00:00+09:00",
                            "end": "2026-12-26T00:00:00+09:00",
                            "reason": "바닥 공사",
                            "reason_public": True,
                        },
                    ),
                    Example(
                        summary="cancelling the bookings in the way",
                        value={
                            "start": "2026-12-24T00:00:00+09:00",
                            "end": "2026-12-26T00:00:00+09:00",
                            "reason": "누수 공사",
                            "reason_public": False,
                            "cancel_bookings": True,
                            "cancellation_reason": "긴급 누수 공사로 시설을 닫습니다.",
                        },
                    ),
                ]
            ),
        ],
    ) -> Closure:
        return await closures.create_closure(pool_of(request), principal, room_id, data)

    @get(
        "/",
        operation_id="listClosures",
        responses=problems(401, 403, 404),
        summary="The room's closures",
    )
    async def list_(
        self, request: Request[Any, Any, Any], principal: CurrentUser, room_id: FromPath[uuid.UUID]
    ) -> list[Closure]:
        return await closures.list_closures(pool_of(request), principal, room_id)

    @delete(
        "/{closure_id:uuid}",
        operation_id="deleteClosure",
        responses=problems(401, 403, 404),
        summary="Reopen: remove a closure",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def remove(
        self,
        request: Request[Any, Any, Any],
        principal: CurrentUser,
        room_id: FromPath[uuid.UUID],
        closure_id: FromPath[uuid.UUID],
    ) -> None:
        await closures.delete_closure(pool_of(request), principal, room_id, closure_id)


class AvailabilityController(Controller):
    """Free time of a room (``/v1/rooms/{id}/availability``, tagged ``availability``)."""

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
            "that hold a slot. Times come back in the institution's local offset. `closures` "
            "lists the closures in [from, to) whose managers chose to show them to citizens "
            "(`reason_public`), with their reason; an internal closure is only time missing "
            "from `free`."
        ),
    )
    async def free_time(
        self,
        request: Request[Any, Any, Any],
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
        return await availability.free_time(pool_of(request), maybe_principal, room_id, start, end)


ROUTES: list[ControllerRouterHandler] = [
    InstitutionController,
    RoomController,
    ClosureController,
    AvailabilityController,
]
