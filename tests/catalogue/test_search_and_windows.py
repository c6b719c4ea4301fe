"""Search (district, size, equipment, free time, distance, names) and weekly windows."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Cast, create_institution, create_room, set_weekly_rules

Client = AsyncTestClient[Litestar]
SEOUL = ZoneInfo("Asia/Seoul")


def next_saturday() -> date:
    day = datetime.now(SEOUL).date() + timedelta(days=3)
    while day.isoweekday() != 6:
        day += timedelta(days=1)
    return day


def at(day: date, hour: int) -> str:
    return datetime.combine(day, time(hour), SEOUL).isoformat()


async def names(client: Client, **params: Any) -> list[str]:
    response = await client.get("/v1/rooms", params=params)
    assert response.status_code == 200, response.text
    return [r["name"] for r in response.json()["items"]]


async def test_district_search_for_a_free_saturday_afternoon(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    saturday = next_saturday()
    mangwon = await create_institution(db, name="망원1동 주민센터")
    weekend = await create_room(db, mangwon, name="주말 강의실", capacity=30, always_open=False)
    await set_weekly_rules(db, weekend, [([6, 7], "09:00", "18:00")])
    weekdays = await create_room(db, mangwon, name="평일 회의실", capacity=30, always_open=False)
    await set_weekly_rules(db, weekdays, [([1, 2, 3, 4, 5], "09:00", "18:00")])
    small = await create_room(db, mangwon, name="작은 방", capacity=4, always_open=False)
    await set_weekly_rules(db, small, [([6], "09:00", "18:00")])
    booked = await create_room(db, mangwon, name="예약된 강당", capacity=50, always_open=False)
    await set_weekly_rules(db, booked, [([6], "09:00", "18:00")])
    await db.execute(
        "INSERT INTO bookings (room_id, citizen_id, during, status, attendees)"
        " VALUES ($1, $2, tstzrange($3::timestamptz, $4::timestamptz), 'confirmed', 10)",
        booked,
        cast.citizen_a.id,
        datetime.combine(saturday, time(15), SEOUL),
        datetime.combine(saturday, time(16), SEOUL),
    )
    found = await names(
        client,
        district="마포구",
        free_from=at(saturday, 14),
        free_to=at(saturday, 17),
        min_capacity=25,
    )
    assert found == ["주말 강의실"]
    # cast.room_x (마포구청, capacity 20, open 24/7) is found once capacity allows it.
    assert "마포 회의실" in await names(
        client, district="마포구", free_from=at(saturday, 14), free_to=at(saturday, 17)
    )


async def test_filters_kind_amenity_and_korean_name(client: Client, db: asyncpg.Pool) -> None:
    inst = await create_institution(db, name="성산2동 주민센터")
    await create_room(
        db, inst, name="빔프로젝터 강의실", kind="lecture_room", amenities=["projector", "wifi"]
    )
    await create_room(db, inst, name="소회의실", kind="meeting_room", amenities=["whiteboard"])
    assert await names(client, kind="lecture_room") == ["빔프로젝터 강의실"]
    assert await names(client, amenity=["projector", "wifi"]) == ["빔프로젝터 강의실"]
    assert await names(client, q="소회의") == ["소회의실"]
    assert sorted(await names(client, q="성산2동")) == ["빔프로젝터 강의실", "소회의실"]
    assert await names(client, q="100%") == []


async def test_near_orders_by_distance_within_radius(client: Client, db: asyncpg.Pool) -> None:
    city_hall = (37.5663, 126.9779)
    for name, lat, lon in (
        ("먼 방", 37.5900, 126.9779),
        ("가까운 방", 37.5670, 126.9779),
        ("부산 방", 35.1796, 129.0756),
    ):
        inst = await create_institution(db, name=f"{name} 기관", latitude=lat, longitude=lon)
        await create_room(db, inst, name=name)
    response = await client.get(
        "/v1/rooms", params={"near": f"{city_hall[0]},{city_hall[1]}", "radius_km": 3}
    )
    items = response.json()["items"]
    assert [r["name"] for r in items] == ["가까운 방", "먼 방"]
    assert 0 < items[0]["distance_km"] < items[1]["distance_km"] < 3


async def test_keyset_pages_cover_every_room_once(client: Client, db: asyncpg.Pool) -> None:
    inst = await create_institution(db, name="가나다 센터", latitude=37.55, longitude=126.95)
    for n in range(7):
        await create_room(db, inst, name=f"방 {n}")
    for extra in ({}, {"near": "37.55,126.95"}):
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 3, **extra}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/v1/rooms", params=params)).json()
            seen += [r["id"] for r in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(set(seen)) == 7
    bad = await client.get("/v1/rooms", params={"cursor": cursor or "eyJ4Ijox"})
    assert bad.status_code == 422


async def test_bad_search_parameters_name_the_field(client: Client) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"amenity": "jacuzzi"}, "amenity"),
        ({"kind": "ballroom"}, "kind"),
        ({"min_capacity": 0}, "min_capacity"),
        ({"near": "91,127"}, "near"),
        ({"near": "abc"}, "near"),
        ({"district": "해운대구", "region": "서울특별시"}, "district"),
        ({"free_from": "2027-01-02T10:00:00"}, "free_from"),
        ({"free_from": "2027-01-02T10:00:00+09:00"}, "free_to"),
        (
            {"free_from": "2027-01-02T10:00:00+09:00", "free_to": "2027-01-02T09:00:00+09:00"},
            "free_to",
        ),
    ]
    for params, field in cases:
        response = await client.get("/v1/rooms", params=params)
        assert response.status_code == 422, (params, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field], params


async def test_put_windows_merges_overlaps_and_round_trips(client: Client, cast: Cast) -> None:
    url = f"/v1/rooms/{cast.room_x}/availability-rules"
    response = await client.put(
        url,
        json=[
            {"days": ["mon", "tue"], "start": "18:00", "end": "20:00"},
            {"days": ["mon"], "start": "19:00", "end": "22:00"},
            {"days": ["fri"], "start": "22:00", "end": "02:00"},
            {"days": ["sat", "sun"], "start": "00:00", "end": "24:00", "valid_from": "2027-01-01"},
        ],
        headers=cast.headers("manager_x"),
    )
    assert response.status_code == 200, response.text
    expected = [
        {
            "days": ["sat", "sun"],
            "start": "00:00",
            "end": "24:00",
            "valid_from": "2027-01-01",
            "valid_until": None,
        },
        {
            "days": ["tue"],
            "start": "18:00",
            "end": "20:00",
            "valid_from": None,
            "valid_until": None,
        },
        {
            "days": ["mon"],
            "start": "18:00",
            "end": "22:00",
            "valid_from": None,
            "valid_until": None,
        },
        {
            "days": ["fri"],
            "start": "22:00",
            "end": "02:00",
            "valid_from": None,
            "valid_until": None,
        },
    ]
    assert response.json() == expected
    assert (await client.get(url)).json() == expected


async def test_bad_windows_are_refused_and_nothing_changes(
    client: Client, cast: Cast, db: asyncpg.Pool
) -> None:
    url = f"/v1/rooms/{cast.room_x}/availability-rules"
    before = (await client.get(url)).json()
    for body, field in (
        ([{"days": ["mon"], "start": "19:00", "end": "19:00"}], "[0].end"),
        (
            [
                {"days": ["mon"], "start": "10:00", "end": "12:00"},
                {"days": ["funday"], "start": "10:00", "end": "12:00"},
            ],
            "[1].days",
        ),
        ([{"days": ["mon"], "start": "25:00", "end": "12:00"}], "start"),
        ([{"days": [], "start": "10:00", "end": "12:00"}], "[0].days"),
        (
            [
                {
                    "days": ["mon"],
                    "start": "10:00",
                    "end": "12:00",
                    "valid_from": "2027-02-01",
                    "valid_until": "2027-01-01",
                }
            ],
            "valid_until",
        ),
    ):
        response = await client.put(url, json=body, headers=cast.headers("manager_x"))
        assert response.status_code == 422, (body, response.text)
        assert field in response.json()["detail"], (field, response.json())
    assert (await client.get(url)).json() == before


async def test_closures_round_trip_in_local_offset(client: Client, cast: Cast) -> None:
    url = f"/v1/rooms/{cast.room_x}/closures"
    created = await client.post(
        url,
        json={"start": "2027-01-01T00:00:00Z", "end": "2027-01-02T00:00:00Z", "reason": "공사"},
        headers=cast.headers("manager_x"),
    )
    assert created.status_code == 201, created.text
    assert created.json()["start"] == "2027-01-01T09:00:00+09:00"
    listed = (await client.get(url, headers=cast.headers("manager_x"))).json()
    assert [c["reason"] for c in listed] == ["공사"]
    inverted = await client.post(
        url,
        json={"start": "2027-01-02T00:00:00Z", "end": "2027-01-01T00:00:00Z"},
        headers=cast.headers("manager_x"),
    )
    assert inverted.status_code == 422
    assert inverted.json()["errors"][0]["field"] == "end"
    naive = await client.post(
        url,
        json={"start": "2027-01-01T00:00:00", "end": "2027-01-02T00:00:00+09:00"},
        headers=cast.headers("manager_x"),
    )
    assert naive.status_code == 422
    other = await client.delete(f"{url}/{uuid.uuid4()}", headers=cast.headers("manager_x"))
    assert other.status_code == 404


async def test_search_free_filter_agrees_with_room_free_time(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    """The search's inlined free check and the SQL function the bookings use never disagree."""
    inst = await create_institution(db, name="일치 센터")
    berlin = await create_institution(
        db, name="Berlin Mitte", region="Berlin", district="Mitte", timezone="Europe/Berlin"
    )
    rooms = {
        "evening": ([1, 2, 3, 4, 5], "18:00", "22:00"),
        "late": ([5, 6], "22:00", "02:00"),
        "weekend": ([6, 7], "09:00", "18:00"),
        "always": ([1, 2, 3, 4, 5, 6, 7], "00:00", "24:00"),
    }
    ids: list[uuid.UUID] = []
    for name, rule in rooms.items():
        for institution in (inst, berlin):
            room = await create_room(
                db, institution, name=name, always_open=False, horizon_days=400
            )
            await set_weekly_rules(db, room, [rule])
            ids.append(room)
    saturday = next_saturday()
    holiday: date = await db.fetchval(
        "SELECT min(day) FROM public_holidays WHERE country = 'KR' AND day > current_date + 3"
    )
    await db.execute("UPDATE rooms SET closed_on_holidays = true WHERE id = ANY($1)", ids[::3])
    await db.execute(
        "INSERT INTO closures (room_id, during) VALUES ($1, tstzrange($2::timestamptz, $3::timestamptz))",
        ids[1],
        datetime.combine(saturday, time(1), SEOUL),
        datetime.combine(saturday, time(3), SEOUL),
    )
    await db.execute(
        "INSERT INTO bookings (room_id, citizen_id, during, status, attendees)"
        " VALUES ($1, $2, tstzrange($3::timestamptz, $4::timestamptz), 'confirmed', 2)",
        ids[5],
        cast.citizen_a.id,
        datetime.combine(saturday, time(10), SEOUL),
        datetime.combine(saturday, time(11), SEOUL),
    )
    windows = [
        (
            datetime.combine(day, time(h), tz),
            datetime.combine(day, time(h), tz) + timedelta(hours=n),
        )
        for day in (saturday - timedelta(days=1), saturday, holiday)
        for h, n in ((1, 1), (9, 3), (19, 2), (23, 2), (0, 24))
        for tz in (SEOUL, ZoneInfo("Europe/Berlin"))
    ]
    outcomes: set[frozenset[str]] = set()
    for start, end in windows:
        expected = {
            str(r["id"])
            for r in await db.fetch(
                "SELECT r.id FROM rooms r WHERE r.id = ANY($1)"
                " AND $2 >= now() + r.lead_minutes * interval '1 minute'"
                " AND $3 <= now() + r.horizon_days * interval '1 day'"
                " AND room_free_time(r.id, tstzrange($2, $3)) @> tstzrange($2, $3)",
                ids,
                start,
                end,
            )
        }
        response = await client.get(
            "/v1/rooms",
            params={"free_from": start.isoformat(), "free_to": end.isoformat(), "limit": 100},
        )
        found = {r["id"] for r in response.json()["items"]} & {str(i) for i in ids}
        assert found == expected, (start, end)
        outcomes.add(frozenset(expected))
    assert len(outcomes) > 5  # the cases really tell rooms apart
