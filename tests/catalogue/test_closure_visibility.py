"""A closure is internal (citizens see only that the time is not available) or shown to citizens
(with its reason): the flag round-trips through the API, defaults to internal, and an internal
reason appears in no public answer or page while a shown one does."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Cast, auth

KST = timezone(timedelta(hours=9))
SHOWN = "엘리베이터 정기 점검 SHOWN-7f3a"
INTERNAL = "구청장 비공개 간담회 INTERNAL-9c1d"


def _next_monday() -> date:
    today = datetime.now(KST).date() + timedelta(days=7)
    return today - timedelta(days=today.weekday())


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=KST)


def _closure(day: date, reason: str, **extra: Any) -> dict[str, Any]:
    return {
        "start": _at(day, 10).isoformat(),
        "end": _at(day, 12).isoformat(),
        "reason": reason,
        **extra,
    }


async def _close(client: AsyncTestClient[Litestar], cast: Cast, body: dict[str, Any]) -> Any:
    answer = await client.post(
        f"/v1/rooms/{cast.room_x}/closures", json=body, headers=auth(cast.manager_x)
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_the_flag_round_trips_and_a_closure_that_does_not_say_is_internal(
    client: AsyncTestClient[Litestar], cast: Cast
) -> None:
    monday = _next_monday()
    shown = await _close(client, cast, _closure(monday, SHOWN, reason_public=True))
    internal = await _close(client, cast, _closure(monday + timedelta(days=1), INTERNAL))
    explicit = await _close(
        client, cast, _closure(monday + timedelta(days=2), "x", reason_public=False)
    )
    assert (shown["reason_public"], internal["reason_public"], explicit["reason_public"]) == (
        True,
        False,
        False,
    )
    listed = await client.get(f"/v1/rooms/{cast.room_x}/closures", headers=auth(cast.manager_x))
    assert listed.status_code == 200
    assert {c["id"]: c["reason_public"] for c in listed.json()} == {
        shown["id"]: True,
        internal["id"]: False,
        explicit["id"]: False,
    }


@pytest.mark.parametrize("value", ["yes", 1, None, "true", [True]])
async def test_a_flag_that_is_not_a_boolean_is_refused_and_nothing_is_written(
    client: AsyncTestClient[Litestar], db: asyncpg.Pool, cast: Cast, value: Any
) -> None:
    answer = await client.post(
        f"/v1/rooms/{cast.room_x}/closures",
        json=_closure(_next_monday(), SHOWN, reason_public=value),
        headers=auth(cast.manager_x),
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "reason_public" in answer.text
    assert await db.fetchval("SELECT count(*) FROM closures") == 0


async def _public_answers(
    client: AsyncTestClient[Litestar], cast: Cast, monday: date
) -> dict[str, str]:
    """Every public answer that could mention the room's closures, as text, by name."""
    tuesday, wednesday = monday + timedelta(days=1), monday + timedelta(days=2)
    window = urlencode(
        {"from": _at(monday, 0).isoformat(), "to": _at(monday + timedelta(days=7), 0).isoformat()}
    )
    paths = {
        "availability": f"/v1/rooms/{cast.room_x}/availability?{window}",
        "room": f"/v1/rooms/{cast.room_x}",
        "search": "/v1/rooms?" + urlencode({"district": "마포구"}),
        "room feed": f"/v1/rooms/{cast.room_x}/calendar.ics",
        "institution feed": f"/v1/institutions/{cast.institution_x}/calendar.ics",
        "open rooms": "/open/v1/rooms",
        "open availability": "/open/v1/availability?"
        + urlencode({"district": "마포구", "date": wednesday.isoformat()}),
        "room page": f"/rooms/{cast.room_x}?week={monday.isoformat()}",
        "room page (htmx week)": f"/rooms/{cast.room_x}?week={monday.isoformat()}",
        "find page": "/?"
        + urlencode({"district": "마포구", "date": tuesday.isoformat(), "start": "10:00"}),
    }
    answers: dict[str, str] = {}
    for who, headers in (("anonymous", {}), ("citizen", auth(cast.citizen_a))):
        for name, path in paths.items():
            extra = {"hx-request": "true", "hx-target": "week"} if "htmx" in name else {}
            answer = await client.get(path, headers={**headers, **extra})
            assert answer.status_code == 200, (name, answer.status_code, answer.text[:300])
            answers[f"{name} ({who})"] = answer.text
    return answers


async def test_an_internal_reason_is_in_no_public_answer_and_a_shown_one_is_on_the_room_page(
    client: AsyncTestClient[Litestar], cast: Cast
) -> None:
    monday = _next_monday()
    tuesday, wednesday = monday + timedelta(days=1), monday + timedelta(days=2)
    await _close(client, cast, _closure(tuesday, SHOWN, reason_public=True))
    await _close(client, cast, _closure(wednesday, INTERNAL))

    answers = await _public_answers(client, cast, monday)
    leaks = [name for name, text in answers.items() if "INTERNAL-9c1d" in text]
    assert not leaks, f"the internal reason leaked into: {leaks}"
    for name in ("availability", "room page", "room page (htmx week)"):
        for who in ("anonymous", "citizen"):
            assert SHOWN in answers[f"{name} ({who})"], (name, who)

    # The availability answer lists the shown closure alone; both times are not free.
    availability = await client.get(
        f"/v1/rooms/{cast.room_x}/availability",
        params={
            "from": _at(monday, 0).isoformat(),
            "to": _at(monday + timedelta(days=7), 0).isoformat(),
        },
    )
    body = availability.json()
    assert body["closures"] == [
        {
            "start": _at(tuesday, 10).isoformat(),
            "end": _at(tuesday, 12).isoformat(),
            "reason": SHOWN,
        }
    ]
    for day in (tuesday, wednesday):
        closed = (_at(day, 10), _at(day, 12))
        assert not any(
            datetime.fromisoformat(f["start"]) < closed[1]
            and datetime.fromisoformat(f["end"]) > closed[0]
            for f in body["free"]
        ), day

    # The room page shows the shown closure's time and reason on its day, in words.
    page = answers["room page (anonymous)"]
    assert "10:00–12:00 휴관: " + SHOWN in page


async def test_managers_still_read_every_reason(
    client: AsyncTestClient[Litestar], cast: Cast
) -> None:
    monday = _next_monday()
    await _close(client, cast, _closure(monday, INTERNAL))
    listed = await client.get(f"/v1/rooms/{cast.room_x}/closures", headers=auth(cast.manager_x))
    assert [c["reason"] for c in listed.json()] == [INTERNAL]
    other = await client.get(f"/v1/rooms/{cast.room_x}/closures", headers=auth(cast.manager_y))
    assert other.status_code in (403, 404)
    assert "INTERNAL-9c1d" not in other.text


def test_the_visibility_is_documented_with_an_example(app: Litestar) -> None:
    schema = app.openapi_schema.to_schema()
    create = schema["paths"]["/v1/rooms/{room_id}/closures"]["post"]
    examples = create["requestBody"]["content"]["application/json"]["schema"]["examples"]
    assert any(e.get("reason_public") is True for e in examples)
    components = schema["components"]["schemas"]
    assert "reason_public" in components["ClosureCreate"]["properties"]
    assert "reason_public" in components["Closure"]["required"]
    assert "closures" in components["RoomAvailability"]["properties"]
