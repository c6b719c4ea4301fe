"""OpenAPI links: which answer gives the ids that other operations take, so clients (and the
stateful fuzzer in ``tests/hardening/test_fuzz.py``) can walk from a created or listed object to
everything that acts on it. One table, applied to the generated document at start-up."""

from __future__ import annotations

from litestar import Litestar
from litestar.openapi.spec import Link, OpenAPIResponse, Operation

__all__ = ("LINKS", "add_links")

_INSTITUTION = (
    "getInstitution",
    "updateInstitution",
    "createRoom",
    "listInstitutionBookings",
    "appointManager",
    "getInstitutionCalendar",
    "headInstitutionCalendar",
)
_ROOM = (
    "getRoom",
    "updateRoom",
    "getAvailabilityRules",
    "replaceAvailabilityRules",
    "listClosures",
    "createClosure",
    "getRoomAvailability",
    "getRoomCalendar",
    "headRoomCalendar",
)
_BOOKING = (
    "getBooking",
    "rescheduleBooking",
    "cancelBooking",
    "approveBooking",
    "rejectBooking",
    "checkInBooking",
    "getBookingEvent",
    "headBookingEvent",
)


def _to(
    targets: tuple[str, ...], parameter: str, pointer: str
) -> dict[str, tuple[str, dict[str, str]]]:
    return {target: (target, {parameter: f"$response.body#{pointer}"}) for target in targets}


# (source operation, status) -> {link name: (target operation, {parameter: runtime expression})}
LINKS: dict[tuple[str, str], dict[str, tuple[str, dict[str, str]]]] = {
    ("createInstitution", "201"): _to(_INSTITUTION, "institution_id", "/id"),
    ("listInstitutions", "200"): _to(_INSTITUTION, "institution_id", "/items/0/id"),
    ("createRoom", "201"): _to(_ROOM, "room_id", "/id")
    | _to(_INSTITUTION, "institution_id", "/institution_id"),
    ("searchRooms", "200"): _to(_ROOM, "room_id", "/items/0/id"),
    ("getRoom", "200"): _to(_ROOM, "room_id", "/id"),
    ("createClosure", "201"): {
        "deleteClosure": (
            "deleteClosure",
            {"room_id": "$response.body#/room_id", "closure_id": "$response.body#/id"},
        )
    },
    ("listClosures", "200"): {
        "deleteClosure": (
            "deleteClosure",
            {"room_id": "$response.body#/0/room_id", "closure_id": "$response.body#/0/id"},
        )
    },
    ("createBooking", "201"): _to(_BOOKING, "booking_id", "/id")
    | _to(_ROOM, "room_id", "/room_id"),
    ("getBooking", "200"): _to(_BOOKING, "booking_id", "/id"),
    ("rescheduleBooking", "200"): _to(_BOOKING, "booking_id", "/id"),
    ("listMyBookings", "200"): _to(_BOOKING, "booking_id", "/items/0/id"),
    ("listInstitutionBookings", "200"): _to(_BOOKING, "booking_id", "/items/0/id"),
    ("appointManager", "201"): {
        "removeManager": (
            "removeManager",
            {
                "institution_id": "$response.body#/institution_id",
                "user_id": "$response.body#/user_id",
            },
        )
    },
}


def add_links(app: Litestar) -> None:
    """Attach :data:`LINKS` to the app's OpenAPI document (generated here, once)."""
    document = app.openapi_schema
    operations: dict[str, Operation] = {}
    for item in (document.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch", "head"):
            operation = getattr(item, method, None)
            if operation is not None and operation.operation_id:
                operations[operation.operation_id] = operation
    for (source, status), links in LINKS.items():
        response = (operations[source].responses or {}).get(status)
        assert isinstance(response, OpenAPIResponse), (source, status)
        response.links = {
            name: Link(operation_id=target, parameters=dict(parameters))
            for name, (target, parameters) in links.items()
            if target in operations
        }
