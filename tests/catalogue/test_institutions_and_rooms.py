"""Publishing the catalogue: institutions and rooms, with validation before any write."""

from __future__ import annotations

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Cast

Client = AsyncTestClient[Litestar]

INSTITUTION = {
    "name": "망원1동 주민센터",
    "kind": "community_center",
    "region": "서울특별시",
    "district": "마포구",
    "address": "서울특별시 마포구 월드컵로 1",
    "latitude": 37.5556,
    "longitude": 126.902,
}
ROOM = {
    "name": "3층 다목적회의실",
    "name_en": "Multipurpose room",
    "kind": "multipurpose_room",
    "capacity": 20,
    "area_m2": 56.5,
    "floor": "3",
    "amenities": ["projector", "whiteboard"],
    "accessibility": ["lift", "step_free"],
    "photos": ["https://example.org/room.jpg"],
}


def _problem_fields(response: object) -> list[str]:
    body = response.json()  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    return [e["field"] for e in body.get("errors") or []]


async def test_admin_creates_institution_with_default_timezone(client: Client, cast: Cast) -> None:
    response = await client.post(
        "/v1/institutions", json=INSTITUTION, headers=cast.headers("admin")
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["timezone"] == "Asia/Seoul"
    assert body["district"] == "마포구"
    read = await client.get(f"/v1/institutions/{body['id']}")
    assert read.status_code == 200
    assert read.json()["name"] == "망원1동 주민센터"


async def test_unknown_seoul_district_is_refused_listing_valid_ones(
    client: Client, cast: Cast, db: asyncpg.Pool
) -> None:
    before = await db.fetchval("SELECT count(*) FROM institutions")
    response = await client.post(
        "/v1/institutions",
        json={**INSTITUTION, "district": "해운대구"},
        headers=cast.headers("admin"),
    )
    assert response.status_code == 422
    assert _problem_fields(response) == ["district"]
    assert "마포구" in response.json()["detail"] and "강동구" in response.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM institutions") == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"latitude": 91.0}, "latitude"),
        ({"kind": "castle"}, "kind"),
        ({"latitude": None}, "latitude"),
        ({"id": "00000000-0000-0000-0000-000000000000"}, "id"),
    ],
)
async def test_bad_institution_is_refused_naming_the_field(
    client: Client, cast: Cast, db: asyncpg.Pool, change: dict[str, object], field: str
) -> None:
    before = await db.fetchval("SELECT count(*) FROM institutions")
    response = await client.post(
        "/v1/institutions", json={**INSTITUTION, **change}, headers=cast.headers("admin")
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM institutions") == before


async def test_institution_list_filters_and_pages(client: Client, cast: Cast) -> None:
    for n in range(5):
        await client.post(
            "/v1/institutions",
            json={**INSTITUTION, "name": f"연남동 주민센터 {n}"},
            headers=cast.headers("admin"),
        )
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {
            "district": "마포구",
            "kind": "community_center",
            "limit": 2,
        }
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/institutions", params=params)).json()
        seen += [i["name"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"연남동 주민센터 {n}" for n in range(5)]
    gu = (await client.get("/v1/institutions", params={"kind": "gu_office"})).json()
    assert {i["name"] for i in gu["items"]} == {"마포구청", "종로구청"}
    bad = await client.get("/v1/institutions", params={"cursor": "garbage!"})
    assert bad.status_code == 422


async def test_manager_edits_contact_but_not_placement(client: Client, cast: Cast) -> None:
    url = f"/v1/institutions/{cast.institution_x}"
    ok = await client.patch(url, json={"phone": "02-1234-5678"}, headers=cast.headers("manager_x"))
    assert ok.status_code == 200, ok.text
    assert ok.json()["phone"] == "02-1234-5678"
    refused = await client.patch(
        url, json={"district": "종로구"}, headers=cast.headers("manager_x")
    )
    assert refused.status_code == 422
    assert _problem_fields(refused) == ["district"]
    moved = await client.patch(url, json={"district": "종로구"}, headers=cast.headers("admin"))
    assert moved.status_code == 200
    assert moved.json()["district"] == "종로구"


async def test_manager_publishes_room_with_default_policy(client: Client, cast: Cast) -> None:
    response = await client.post(
        f"/v1/institutions/{cast.institution_x}/rooms", json=ROOM, headers=cast.headers("manager_x")
    )
    assert response.status_code == 201, response.text
    room = response.json()
    assert room["policy"] == {
        "slot_minutes": 30,
        "min_minutes": 60,
        "max_minutes": 240,
        "lead_minutes": 60,
        "horizon_days": 60,
        "requires_approval": False,
        "max_active_per_citizen": 4,
    }
    assert room["area_m2"] == 56.5
    assert room["fee"] is None
    assert room["institution_name"] == "마포구청"
    assert (await client.get(f"/v1/rooms/{room['id']}")).json()["name"] == "3층 다목적회의실"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"capacity": 0}, "capacity"),
        ({"amenities": ["jacuzzi"]}, "amenities"),
        ({"kind": "ballroom"}, "kind"),
        ({"policy": {"slot_minutes": 7}}, "policy.slot_minutes"),
        ({"policy": {"min_minutes": 120, "max_minutes": 60}}, "policy.max_minutes"),
        ({"institution_id": "00000000-0000-0000-0000-000000000000"}, "institution_id"),
        ({"fee": {"free": True}}, "fee"),
    ],
)
async def test_bad_room_is_refused_naming_the_field(
    client: Client, cast: Cast, db: asyncpg.Pool, change: dict[str, object], field: str
) -> None:
    response = await client.post(
        f"/v1/institutions/{cast.institution_x}/rooms",
        json={**ROOM, **change},
        headers=cast.headers("manager_x"),
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    assert await db.fetchval("SELECT count(*) FROM rooms WHERE name = $1", ROOM["name"]) == 0


async def test_fee_is_set_by_admin_only(client: Client, cast: Cast) -> None:
    url = f"/v1/rooms/{cast.room_x}"
    fee = {
        "free": False,
        "krw": 10000,
        "base_hours": 2,
        "overtime_unit_hours": 1,
        "overtime_krw": 5000,
    }
    refused = await client.patch(url, json={"fee": fee}, headers=cast.headers("manager_x"))
    assert refused.status_code == 422
    assert _problem_fields(refused) == ["fee"]
    ok = await client.patch(url, json={"fee": fee}, headers=cast.headers("admin"))
    assert ok.status_code == 200, ok.text
    assert ok.json()["fee"] == fee
    free = await client.patch(url, json={"fee": {"free": True}}, headers=cast.headers("admin"))
    assert free.json()["fee"]["free"] is True


async def test_patch_changes_only_what_is_sent(client: Client, cast: Cast) -> None:
    url = f"/v1/rooms/{cast.room_x}"
    response = await client.patch(
        url,
        json={"capacity": 35, "policy": {"max_minutes": 180}, "amenities": ["wifi"]},
        headers=cast.headers("manager_x"),
    )
    assert response.status_code == 200, response.text
    room = response.json()
    assert room["capacity"] == 35
    assert room["policy"]["max_minutes"] == 180
    assert room["policy"]["min_minutes"] == 60
    assert room["amenities"] == ["wifi"]
    assert room["name"] == "마포 회의실"


async def test_deactivated_room_is_hidden_from_the_public_but_not_its_manager(
    client: Client, cast: Cast
) -> None:
    url = f"/v1/rooms/{cast.room_x}"
    off = await client.patch(url, json={"active": False}, headers=cast.headers("manager_x"))
    assert off.status_code == 200
    assert off.json()["active"] is False
    assert (await client.get(url)).status_code == 404
    assert (await client.get(url, headers=cast.headers("manager_y"))).status_code == 404
    assert (await client.get(url, headers=cast.headers("manager_x"))).status_code == 200
    listed = (await client.get("/v1/rooms", params={"district": "마포구"})).json()["items"]
    assert cast.room_x not in [r["id"] for r in listed]
    assert str(cast.room_x) not in [r["id"] for r in listed]
