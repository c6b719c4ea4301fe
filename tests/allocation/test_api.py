"""The allocation API end to end over HTTP: managers create and publish rounds, citizens apply
and withdraw; refusals are 4xx problems that write nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Cast, auth


def _round_body(slots: int = 3) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    first = (now + timedelta(days=10)).replace(minute=0, second=0)
    return {
        "title": "주말 대강당 추첨",
        "opens_at": (now - timedelta(minutes=5)).isoformat(),
        "closes_at": (now + timedelta(days=2)).isoformat(),
        "draw_at": (now + timedelta(days=3)).isoformat(),
        "slots": [
            {
                "start": (first + timedelta(hours=2 * i)).isoformat(),
                "end": (first + timedelta(hours=2 * i + 2)).isoformat(),
            }
            for i in range(slots)
        ],
        "max_applications_per_citizen": 2,
    }


async def _lottery_room(client: AsyncTestClient[Litestar], cast: Cast) -> None:
    response = await client.put(
        f"/v1/rooms/{cast.room_x}/allocation-policy",
        json={"mode": "lottery", "monthly_cap_per_citizen": 2},
        headers=auth(cast.manager_x),
    )
    assert response.status_code == 200, response.text


async def test_a_round_from_draft_to_application_over_http(
    db: asyncpg.Pool, cast: Cast, client: AsyncTestClient[Litestar]
) -> None:
    manager, citizen = auth(cast.manager_x), auth(cast.citizen_a)
    refused = await client.post(
        f"/v1/rooms/{cast.room_x}/rounds", json=_round_body(), headers=manager
    )
    assert (refused.status_code, refused.json()["type"].rsplit("/", 1)[1]) == (
        409,
        "room-not-lottery",
    )
    await _lottery_room(client, cast)
    created = await client.post(
        f"/v1/rooms/{cast.room_x}/rounds", json=_round_body(), headers=manager
    )
    assert created.status_code == 201, created.text
    draft = created.json()
    assert draft["phase"] == "draft" and "seed_commitment" not in draft
    assert (await client.get(f"/v1/rounds/{draft['id']}")).status_code == 404  # drafts are private
    renamed = await client.patch(
        f"/v1/rounds/{draft['id']}", json={"title": "새 이름"}, headers=manager
    )
    assert renamed.json()["title"] == "새 이름"

    other_manager = await client.post(
        f"/v1/rounds/{draft['id']}/publish", headers=auth(cast.manager_y)
    )
    assert other_manager.status_code == 404
    published = await client.post(f"/v1/rounds/{draft['id']}/publish", headers=manager)
    assert published.status_code == 200
    opened = published.json()
    assert opened["phase"] == "open" and len(opened["seed_commitment"]) == 64
    locked = await client.patch(f"/v1/rounds/{draft['id']}", json={"title": "x"}, headers=manager)
    assert locked.status_code == 409

    slot = opened["slots"][0]["id"]
    applied = await client.post(
        f"/v1/rounds/{draft['id']}/applications", json={"slot_id": slot}, headers=citizen
    )
    assert applied.status_code == 201, applied.text
    again = await client.post(
        f"/v1/rounds/{draft['id']}/applications", json={"slot_id": slot}, headers=citizen
    )
    assert again.status_code == 409
    second_slot = await client.post(
        f"/v1/rounds/{draft['id']}/applications",
        json={"slot_id": opened["slots"][1]["id"]},
        headers=citizen,
    )
    assert second_slot.status_code == 201
    third_slot = await client.post(
        f"/v1/rounds/{draft['id']}/applications",
        json={"slot_id": opened["slots"][2]["id"]},
        headers=citizen,
    )
    assert (third_slot.status_code, third_slot.json()["rule"]) == (422, "max_applications")
    by_manager = await client.post(
        f"/v1/rounds/{draft['id']}/applications", json={"slot_id": slot}, headers=manager
    )
    assert by_manager.status_code == 403
    # While the round is undrawn its slots cannot be booked first-come.
    first_come = await client.post(
        "/v1/bookings",
        json={
            "room_id": str(cast.room_x),
            "start": _round_body()["slots"][0]["start"],
            "end": _round_body()["slots"][0]["end"],
            "attendees": 3,
        },
        headers=auth(cast.citizen_b),
    )
    assert (first_come.status_code, first_come.json().get("rule")) == (422, "lottery_slot")

    result = (await client.get(f"/v1/rounds/{draft['id']}/result")).json()
    assert result["seed"] is None and result["list_hash"] is None
    assert result["seed_commitment"] == opened["seed_commitment"]

    withdrawn = await client.delete(
        f"/v1/rounds/{draft['id']}/applications/{applied.json()['id']}", headers=citizen
    )
    assert withdrawn.status_code == 204
    listed = await client.get(f"/v1/rounds/{draft['id']}/applications/mine", headers=citizen)
    assert [a["slot_id"] for a in listed.json()] == [opened["slots"][1]["id"]]
    assert await db.fetchval("SELECT count(*) FROM bookings") == 0


async def test_hostile_input_gets_4xx_and_writes_nothing(
    db: asyncpg.Pool, cast: Cast, client: AsyncTestClient[Litestar]
) -> None:
    await _lottery_room(client, cast)
    manager = auth(cast.manager_x)
    bodies: list[Any] = [
        {**_round_body(), "slots": []},
        {**_round_body(), "opens_at": "2026-12-01T10:00:00"},  # no offset
        {**_round_body(), "closes_at": _round_body()["opens_at"]},
        {**_round_body(), "slots": [_round_body()["slots"][0]] * 2},  # overlapping
        {**_round_body(), "title": "x" * 5000},
        {**_round_body(), "seed": "00" * 32},  # unknown field: the seed is never chosen
        {**_round_body(), "max_applications_per_citizen": -1},
        {**_round_body(), "slots": [{"start": "nonsense", "end": 3}]},
        [1, 2, 3],
        "null",
    ]
    for body in bodies:
        response = await client.post(f"/v1/rooms/{cast.room_x}/rounds", json=body, headers=manager)
        assert 400 <= response.status_code < 500, (body, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    for path, body in [
        ("/v1/waitlist", {"room_id": "not-a-uuid", "start": "x", "end": "y"}),
        ("/v1/waitlist", {"room_id": str(cast.room_x), "start": "2026-12-05T10:00:00+09:00"}),
        ("/v1/offers/00000000-0000-0000-0000-000000000000/accept", None),
        ("/v1/strikes/00000000-0000-0000-0000-000000000000/forgive", {"reason": "x"}),
        ("/v1/rounds/00000000-0000-0000-0000-000000000000/applications", {"slot_id": 7}),
    ]:
        response = await client.post(path, json=body, headers=auth(cast.citizen_a))
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
    anonymous = await client.post(f"/v1/rooms/{cast.room_x}/rounds", json=_round_body())
    assert anonymous.status_code == 401
    for table in ("allocation_rounds", "allocation_slots", "waitlist_entries", "strikes"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0, table


async def test_every_allocation_operation_is_documented(client: AsyncTestClient[Litestar]) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    operations = {
        op["operationId"]: op
        for path, methods in spec["paths"].items()
        if path.startswith(("/v1/rounds", "/v1/waitlist", "/v1/offers", "/v1/strikes", "/v1/me/"))
        or "allocation-policy" in path
        or path.endswith("/rounds")
        for op in methods.values()
    }
    for name in (
        "createRound",
        "updateRound",
        "publishRound",
        "setRoundPublicValue",
        "listRounds",
        "getRound",
        "getRoundResult",
        "applyForSlot",
        "withdrawApplication",
        "listMyApplications",
        "joinWaitlist",
        "leaveWaitlist",
        "listMyWaitlist",
        "acceptOffer",
        "declineOffer",
        "getMyStrikes",
        "forgiveStrike",
        "setRoomAllocationPolicy",
        "setInstitutionAllocationPolicy",
    ):
        assert name in operations and operations[name]["summary"], name


async def test_the_demo_data_has_a_lottery_room_with_an_open_round(
    db: asyncpg.Pool, cast: Cast, client: AsyncTestClient[Litestar]
) -> None:
    from booking.allocation.demo import load_demo_lottery

    async with db.acquire() as conn:
        await load_demo_lottery(conn, cast.manager_x.email)
        await load_demo_lottery(conn, cast.manager_x.email)  # idempotent
    room_id = await db.fetchval("SELECT id FROM rooms WHERE allocation_mode = 'lottery'")
    rounds = (await client.get(f"/v1/rooms/{room_id}/rounds")).json()
    assert [r["phase"] for r in rounds] == ["open"]
    assert len(rounds[0]["slots"]) == 8
