"""What the hardening tests derive from the OpenAPI document, so a new endpoint is covered
without editing them: every operation, its time parameters, its string parameters, its body."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from booking.app import create_app
from tests.conftest import make_settings
from tests.factories import Cast

__all__ = (
    "BASE_BODIES",
    "DOCUMENT",
    "Operation",
    "Target",
    "audit_counts",
    "operations",
    "prepare_target",
)

# The document of the real app; building it touches neither Postgres nor Redis.
DOCUMENT: dict[str, Any] = create_app(
    make_settings("postgresql://unused@127.0.0.1:1/unused", "redis://127.0.0.1:1/0")
).openapi_schema.to_schema()


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    query: tuple[str, ...]
    """Names of the query parameters."""
    times: tuple[str, ...]
    """Query parameters that take an RFC 3339 instant."""
    body: dict[str, Any] | None = field(default=None, hash=False)
    """The JSON schema of the request body (references resolved one level), if any."""

    def __str__(self) -> str:
        return self.operation_id


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema or len(schema.get("allOf", [])) == 1:
        if "$ref" not in schema:
            schema = schema["allOf"][0]
            continue
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = DOCUMENT["components"]["schemas"][name]
    return schema


def _is_time(parameter: dict[str, Any]) -> bool:
    text = f"{parameter.get('description', '')}"
    return "RFC 3339" in text


def operations() -> list[Operation]:
    out: list[Operation] = []
    for path, item in DOCUMENT["paths"].items():
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete", "head"}:
                continue
            params = [p for p in op.get("parameters", []) if p["in"] == "query"]
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            out.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    operation_id=op["operationId"],
                    query=tuple(p["name"] for p in params),
                    times=tuple(p["name"] for p in params if _is_time(p)),
                    body=_resolve(body["schema"]) if body else None,
                )
            )
    return out


# A valid body for every operation that takes one; the tests spoil one field at a time. A new
# operation with a body fails `test_every_body_operation_has_a_base_body` until added here.
BASE_BODIES: dict[str, Any] = {
    "register": {
        "email": "new@example.org",
        "password": "correct horse battery",
        "name": "새 시민",
    },
    "login": {"email": "new@example.org", "password": "correct horse battery"},
    "verifyEmail": {"token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
    "requestPasswordReset": {"email": "new@example.org"},
    "resetPassword": {
        "token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "password": "correct horse battery",
    },
    "createInstitution": {
        "name": "새 주민센터",
        "kind": "community_center",
        "region": "서울특별시",
        "district": "마포구",
        "address": "서울특별시 마포구 월드컵로 1",
        "phone": "02-3153-6600",
        "homepage": "https://example.org/",
        "timezone": "Asia/Seoul",
    },
    "updateInstitution": {"name": "새 이름", "address": "새 주소"},
    "appointManager": {"user_id": "{user_id}"},
    "createRoom": {
        "name": "새 회의실",
        "capacity": 10,
        "name_en": "New room",
        "floor": "3",
        "photos": ["https://example.org/a.jpg"],
        "note": "메모",
    },
    "updateRoom": {"name": "새 이름", "note": "메모", "floor": "2"},
    "replaceAvailabilityRules": [{"days": ["mon"], "start": "19:00", "end": "22:00"}],
    "createClosure": {
        "start": "2026-12-24T00:00:00+09:00",
        "end": "2026-12-26T00:00:00+09:00",
        "reason": "공사",
    },
    "createBooking": {
        "room_id": "{room_id}",
        "start": "{start}",
        "end": "{end}",
        "attendees": 2,
        "purpose": "독서모임",
    },
    "rescheduleBooking": {"start": "{start}", "end": "{end}"},
    "cancelBooking": {"reason": "사정이 생겼습니다"},
    "rejectBooking": {"reason": "사용 불가"},
    "setInstitutionAllocationPolicy": {"monthly_cap_per_citizen": 3},
    "setRoomAllocationPolicy": {
        "mode": "lottery",
        "monthly_cap_per_citizen": 2,
        "late_cancel_hours": 24,
    },
    "createRound": {
        "title": "토요일 추첨",
        "opens_at": "{start}",
        "closes_at": "{end}",
        "draw_at": "{end}",
        "slots": [{"start": "{start}", "end": "{end}"}],
        "max_applications_per_citizen": 2,
    },
    "updateRound": {"title": "새 제목", "draw_at": "{end}"},
    "setRoundPublicValue": {"value": "3 12 25 31 38 44"},
    "applyForSlot": {"slot_id": "{slot_id}"},
    "joinWaitlist": {"room_id": "{room_id}", "start": "{start}", "end": "{end}"},
    "forgiveStrike": {"reason": "병원 진단서 제출"},
}


@dataclass
class Target:
    """Real objects to aim requests at, and who sends them."""

    ids: dict[str, str]
    headers: dict[str, str]

    def url(self, op: Operation) -> str:
        path = op.path
        for name, value in self.ids.items():
            path = path.replace("{" + name + "}", value)
        return path

    def body(self, op: Operation) -> Any:
        return _fill(BASE_BODIES[op.operation_id], self.ids)


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


async def prepare_target(client: httpx.AsyncClient, cast: Cast, db: asyncpg.Pool) -> Target:
    """A booking of citizen A in room X, a closure of room X; every id the paths use."""
    # Far enough ahead for the lead time, inside the horizon of a fresh room.
    day = (datetime.now(UTC) + timedelta(days=3)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    start, end = day.isoformat(), (day + timedelta(hours=2)).isoformat()
    booking = await client.post(
        "/v1/bookings",
        json={"room_id": str(cast.room_x), "start": start, "end": end, "attendees": 2},
        headers=cast.headers("citizen_a"),
    )
    assert booking.status_code == 201, booking.text
    closure = await client.post(
        f"/v1/rooms/{cast.room_x}/closures",
        json={"start": "2027-06-01T00:00:00+09:00", "end": "2027-06-02T00:00:00+09:00"},
        headers=cast.headers("manager_x"),
    )
    assert closure.status_code == 201, closure.text
    later = day + timedelta(days=1)
    return Target(
        ids={
            "room_id": str(cast.room_x),
            "institution_id": str(cast.institution_x),
            "booking_id": booking.json()["id"],
            "closure_id": closure.json()["id"],
            "user_id": str(cast.citizen_b.id),
            "feed": f"{uuid.uuid4().hex}.ics",
            # Ids of objects that need not exist: a refused body never reaches the lookup.
            "round_id": str(uuid.uuid4()),
            "slot_id": str(uuid.uuid4()),
            "application_id": str(uuid.uuid4()),
            "strike_id": str(uuid.uuid4()),
            "entry_id": "1",
            "start": later.isoformat(),
            "end": (later + timedelta(hours=2)).isoformat(),
        },
        headers={},
    )


_AUDITED = ("users", "institutions", "rooms", "closures", "bookings", "booking_history", "outbox")


async def audit_counts(db: asyncpg.Pool) -> dict[str, int]:
    """Row counts of every table a refused request could have written."""
    return {t: await db.fetchval(f"SELECT count(*) FROM {t}") for t in _AUDITED}
