"""Private feeds behind secret URLs, their rotation, and the one-booking download."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Cast, auth, create_user
from tests.feeds.helpers import create_booking
from tests.feeds.ics_reader import Component, parse_ics

Client = AsyncTestClient[Litestar]


def _soon(days: int) -> datetime:
    day = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    return day + timedelta(days=days)


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


async def _my_feed_path(client: Client, headers: dict[str, str]) -> str:
    response = await client.get("/v1/me/calendar", headers=headers)
    assert response.status_code == 200, response.text
    return _path(response.json()["https_url"])


def _by_uid(cal: Component) -> dict[str, Component]:
    return {e.get("UID").value: e for e in cal.components("VEVENT")}


async def test_me_calendar_returns_the_same_https_and_webcal_url_each_time(
    client: Client, cast: Cast
) -> None:
    first = await client.get("/v1/me/calendar", headers=auth(cast.citizen_a))
    second = await client.get("/v1/me/calendar", headers=auth(cast.citizen_a))
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    urls = first.json()
    assert urls["https_url"].startswith("http")
    assert urls["https_url"].endswith(".ics")
    assert urls["webcal_url"] == "webcal://" + urls["https_url"].split("://", 1)[1]
    token = urls["https_url"].rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= 43, "a long random secret"
    other = await client.get("/v1/me/calendar", headers=auth(cast.citizen_b))
    assert other.json()["https_url"] != urls["https_url"]
    assert first.headers["cache-control"] == "no-store"


async def test_tokens_are_stored_hashed(client: Client, db: asyncpg.Pool, cast: Cast) -> None:
    response = await client.get("/v1/me/calendar", headers=auth(cast.citizen_a))
    token = response.json()["https_url"].rsplit("/", 1)[1].removesuffix(".ics")
    rows = await db.fetch("SELECT * FROM calendar_tokens WHERE user_id = $1", cast.citizen_a.id)
    assert len(rows) == 1
    assert bytes(rows[0]["token_hash"]) == hashlib.sha256(token.encode()).digest()
    for value in rows[0].values():
        assert token not in str(value) and token.encode() != value


async def test_citizen_feed_shows_own_bookings_in_full_and_nobody_elses(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    mine = await create_booking(
        db, cast.room_x, cast.citizen_a.id, _soon(2), purpose="동아리 모임", attendees=6
    )
    theirs = await create_booking(db, cast.room_x, cast.citizen_b.id, _soon(3))
    path = await _my_feed_path(client, auth(cast.citizen_a))

    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, max-age=300"
    assert response.headers["referrer-policy"] == "no-referrer"
    events = _by_uid(parse_ics(response.content))
    assert set(events) == {f"{mine}@nanum"}
    event = events[f"{mine}@nanum"]
    assert "동아리 모임" in event.get("DESCRIPTION").text
    assert "마포 회의실" in event.get("SUMMARY").text
    assert event.get("URL").value.endswith(f"/v1/bookings/{mine}")
    assert f"{theirs}" not in response.content.decode()


async def test_manager_feed_includes_pending_bookings_with_booker_name_and_attendees(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    pending = await create_booking(
        db, cast.room_x, cast.citizen_a.id, _soon(2), status="pending", attendees=12
    )
    confirmed = await create_booking(db, cast.room_x, cast.citizen_b.id, _soon(3))
    elsewhere = await create_booking(db, cast.room_y, cast.citizen_a.id, _soon(2))
    path = await _my_feed_path(client, auth(cast.manager_x))

    events = _by_uid(parse_ics((await client.get(path)).content))

    assert set(events) == {f"{pending}@nanum", f"{confirmed}@nanum"}
    assert f"{elsewhere}@nanum" not in events
    event = events[f"{pending}@nanum"]
    assert event.get("STATUS").value == "TENTATIVE"
    assert "시민 A" in event.get("SUMMARY").text
    assert "12" in event.get("SUMMARY").text
    assert "Booked by: 시민 A" in event.get("DESCRIPTION").text
    assert "Attendees: 12" in event.get("DESCRIPTION").text


async def test_private_feed_etag_changes_with_a_booking_and_revalidates_to_304(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    booking = await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(2))
    path = await _my_feed_path(client, auth(cast.citizen_a))
    first = await client.get(path)
    again = await client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    await db.execute(
        "UPDATE bookings SET status = 'cancelled', sequence = sequence + 1, updated_at = now() "
        "WHERE id = $1",
        booking,
    )
    changed = await client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200
    assert changed.headers["etag"] != first.headers["etag"]
    assert _by_uid(parse_ics(changed.content))[f"{booking}@nanum"].get("STATUS").value == (
        "CANCELLED"
    )


async def test_rotated_token_old_url_answers_404_at_once(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(2))
    old_path = await _my_feed_path(client, auth(cast.citizen_a))
    assert (await client.get(old_path)).status_code == 200

    rotated = await client.post("/v1/me/calendar/rotate", headers=auth(cast.citizen_a))
    assert rotated.status_code == 200
    new_path = _path(rotated.json()["https_url"])

    assert new_path != old_path
    gone = await client.get(old_path)
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"
    assert (await client.head(old_path)).status_code == 404
    assert (await client.get(new_path)).status_code == 200
    assert await _my_feed_path(client, auth(cast.citizen_a)) == new_path


async def test_unknown_token_and_disabled_user_get_404(
    client: Client, db: asyncpg.Pool, cast: Cast, settings: object
) -> None:
    assert (await client.get("/v1/calendars/not-a-token.ics")).status_code == 404
    assert (await client.get("/v1/calendars/no-suffix")).status_code == 404
    path = await _my_feed_path(client, auth(cast.citizen_b))
    await db.execute("UPDATE users SET disabled_at = now() WHERE id = $1", cast.citizen_b.id)
    assert (await client.get(path)).status_code == 404


async def test_event_download_for_owner_and_its_managers_only(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    booking = await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(2), purpose="회의")
    path = f"/v1/bookings/{booking}/event.ics"

    owner = await client.get(path, headers=auth(cast.citizen_a))
    assert owner.status_code == 200
    cal = parse_ics(owner.content)
    assert cal.get("METHOD").value == "PUBLISH"
    [event] = cal.components("VEVENT")
    assert event.get("UID").value == f"{booking}@nanum"
    assert "attachment" in owner.headers["content-disposition"]
    revalidated = await client.get(
        path, headers={**auth(cast.citizen_a), "If-None-Match": owner.headers["etag"]}
    )
    assert revalidated.status_code == 304

    manager = await client.get(path, headers=auth(cast.manager_x))
    assert manager.status_code == 200
    assert "시민 A" in parse_ics(manager.content).components("VEVENT")[0].get("SUMMARY").text
    assert (await client.get(path, headers=auth(cast.admin))).status_code == 200
    assert (await client.get(path, headers=auth(cast.citizen_b))).status_code == 404
    assert (await client.get(path, headers=auth(cast.manager_y))).status_code == 404
    assert (await client.get(path)).status_code == 401
    unknown = await client.get(f"/v1/bookings/{uuid.uuid4()}/event.ics", headers=auth(cast.admin))
    assert unknown.status_code == 404


async def test_concurrent_first_calls_agree_on_one_token(
    client: Client, db: asyncpg.Pool, settings: object, cast: Cast
) -> None:
    import asyncio

    responses = await asyncio.gather(
        *(client.get("/v1/me/calendar", headers=auth(cast.citizen_a)) for _ in range(5))
    )
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["https_url"] for r in responses}) == 1
    active = await db.fetchval(
        "SELECT count(*) FROM calendar_tokens WHERE user_id = $1 AND revoked_at IS NULL",
        cast.citizen_a.id,
    )
    assert active == 1


async def test_new_user_without_bookings_gets_an_empty_valid_feed(
    client: Client, db: asyncpg.Pool, cast: Cast, settings: object
) -> None:
    from booking.settings import Settings

    assert isinstance(settings, Settings)
    newcomer = await create_user(db, settings, name="새내기")
    path = await _my_feed_path(client, auth(newcomer))
    cal = parse_ics((await client.get(path)).content)
    assert cal.components("VEVENT") == []
    assert "새내기" in cal.get("X-WR-CALNAME").text
