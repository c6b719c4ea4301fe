"""Calendar feeds as calendar apps see them, parsed by an independent strict reader."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from booking.feeds.service import FINGERPRINT_TTL
from tests.factories import Cast, create_room
from tests.feeds.helpers import cancel_booking, create_booking, reschedule_booking, set_status
from tests.feeds.ics_reader import Component, parse_duration, parse_ics, parse_utc

Client = AsyncTestClient[Litestar]


def _soon(days: int, hour: int = 10) -> datetime:
    day = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return day + timedelta(days=days)


def _count(metric: str) -> float:
    """A counter of this process, as /metrics shows it."""
    return REGISTRY.get_sample_value(metric) or 0.0


async def _changes_propagate() -> None:
    """A public feed's fingerprint is reused for up to FINGERPRINT_TTL by each process: a change
    made straight in the database shows once that second has passed."""
    await asyncio.sleep(FINGERPRINT_TTL + 0.05)


def _events(cal: Component) -> dict[str, Component]:
    events = cal.components("VEVENT")
    uids = [e.get("UID").value for e in events]
    assert len(uids) == len(set(uids)), "every booking appears once"
    return dict(zip(uids, events, strict=True))


async def _feed(client: Client, path: str, **headers: str) -> Component:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    return parse_ics(response.content)


async def test_room_feed_lists_each_booking_once_with_times_status_and_uid(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    confirmed = await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(3))
    pending = await create_booking(
        db, cast.room_x, cast.citizen_b.id, _soon(4), status="pending", minutes=60
    )
    cancelled = await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(5))
    await cancel_booking(db, cancelled)
    rejected = await create_booking(db, cast.room_x, cast.citizen_b.id, _soon(6), status="pending")
    await set_status(db, rejected, "rejected")
    await create_booking(db, cast.room_y, cast.citizen_a.id, _soon(3))  # another room

    cal = await _feed(client, f"/v1/rooms/{cast.room_x}/calendar.ics")

    assert cal.get("VERSION").value == "2.0"
    assert cal.get("PRODID").value
    assert "마포 회의실" in cal.get("X-WR-CALNAME").text
    assert cal.get("NAME").text == cal.get("X-WR-CALNAME").text
    refresh = cal.get("REFRESH-INTERVAL")
    assert refresh.params["VALUE"] == "DURATION"
    assert parse_duration(refresh.value) == timedelta(minutes=15)
    assert parse_duration(cal.get("X-PUBLISHED-TTL").value) == timedelta(minutes=15)
    assert not cal.has("METHOD"), "subscription feeds carry no METHOD"
    assert not cal.components("VTIMEZONE"), "all times are UTC"

    events = _events(cal)
    assert set(events) == {f"{b}@nanum" for b in (confirmed, pending, cancelled, rejected)}
    first = events[f"{confirmed}@nanum"]
    assert parse_utc(first.get("DTSTART").value) == _soon(3)
    assert parse_utc(first.get("DTEND").value) == _soon(3) + timedelta(minutes=90)
    assert first.get("STATUS").value == "CONFIRMED"
    assert events[f"{pending}@nanum"].get("STATUS").value == "TENTATIVE"
    assert parse_utc(events[f"{pending}@nanum"].get("DTEND").value) == _soon(4) + timedelta(hours=1)
    assert events[f"{cancelled}@nanum"].get("STATUS").value == "CANCELLED"
    assert events[f"{rejected}@nanum"].get("STATUS").value == "CANCELLED"
    assert first.get("SUMMARY").text == "Reserved / 예약됨"
    assert "서울특별시 마포구 월드컵로 1" in first.get("LOCATION").text
    assert first.get("GEO").value == "37.5556;126.902"
    assert first.get("URL").value.endswith(f"/v1/rooms/{cast.room_x}")
    for event in events.values():
        assert event.get("DTSTAMP").value == event.get("LAST-MODIFIED").value


async def test_institution_feed_covers_every_room_with_the_room_as_location(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    hall = await create_room(db, cast.institution_x, name="대강당")
    in_room = await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(2))
    in_hall = await create_booking(db, hall, cast.citizen_b.id, _soon(2))
    await create_booking(db, cast.room_y, cast.citizen_a.id, _soon(2))

    events = _events(await _feed(client, f"/v1/institutions/{cast.institution_x}/calendar.ics"))

    assert set(events) == {f"{in_room}@nanum", f"{in_hall}@nanum"}
    assert events[f"{in_room}@nanum"].get("LOCATION").text.startswith("마포 회의실, 마포구청")
    assert events[f"{in_hall}@nanum"].get("LOCATION").text.startswith("대강당, 마포구청")


async def test_uid_stays_and_sequence_rises_across_reschedule_and_cancel(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    booking = await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(3))
    path = f"/v1/rooms/{cast.room_x}/calendar.ics"
    uid = f"{booking}@nanum"

    before = _events(await _feed(client, path))[uid]
    await reschedule_booking(db, booking, _soon(4))
    await _changes_propagate()
    moved = _events(await _feed(client, path))[uid]
    await cancel_booking(db, booking)
    await _changes_propagate()
    gone = _events(await _feed(client, path))[uid]

    sequences = [int(e.get("SEQUENCE").value) for e in (before, moved, gone)]
    assert sequences == sorted(set(sequences)), "SEQUENCE strictly increases"
    assert parse_utc(moved.get("DTSTART").value) == _soon(4)
    assert [e.get("STATUS").value for e in (before, moved, gone)] == [
        "CONFIRMED",
        "CONFIRMED",
        "CANCELLED",
    ]
    assert parse_utc(gone.get("LAST-MODIFIED").value) >= parse_utc(
        before.get("LAST-MODIFIED").value
    )


async def test_cancelled_booking_shows_for_30_days_then_drops_out(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    now = datetime.now(UTC)
    recent = await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(-3))
    await cancel_booking(db, recent, at=now - timedelta(days=29))
    old = await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(-2))
    await cancel_booking(db, old, at=now - timedelta(days=32))
    old_rejection = await create_booking(
        db, cast.room_x, cast.citizen_b.id, _soon(8), status="pending"
    )
    await set_status(db, old_rejection, "rejected", at=now - timedelta(days=40))

    events = _events(await _feed(client, f"/v1/rooms/{cast.room_x}/calendar.ics"))

    assert set(events) == {f"{recent}@nanum"}
    assert events[f"{recent}@nanum"].get("STATUS").value == "CANCELLED"


async def test_window_defaults_and_narrows_and_refuses_more_than_two_years(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    too_old = await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(-40))
    last_month = await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(-20))
    next_week = await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(7))
    far = await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(370))
    path = f"/v1/rooms/{cast.room_x}/calendar.ics"

    default = _events(await _feed(client, path))
    assert set(default) == {f"{last_month}@nanum", f"{next_week}@nanum"}

    start = _soon(0, hour=0).isoformat().replace("+00:00", "Z")
    end = _soon(400, hour=0).isoformat().replace("+00:00", "Z")
    narrowed = _events(await _feed(client, f"{path}?from={start}&to={end}"))
    assert set(narrowed) == {f"{next_week}@nanum", f"{far}@nanum"}
    assert f"{too_old}@nanum" not in narrowed

    too_long = await client.get(path, params={"from": start, "to": _soon(733).isoformat()})
    assert too_long.status_code == 422
    assert too_long.headers["content-type"] == "application/problem+json"
    reversed_ = await client.get(path, params={"from": end, "to": start})
    assert reversed_.status_code == 422
    naive = await client.get(path, params={"from": "2030-01-01T00:00:00"})
    assert naive.status_code == 422


async def test_unchanged_data_gives_same_bytes_and_etag_and_304_on_revalidation(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    booking = await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(3))
    path = f"/v1/rooms/{cast.room_x}/calendar.ics"

    first = await client.get(path)
    second = await client.get(path)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    etag = first.headers["etag"]
    assert etag == second.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["cache-control"] == "public, max-age=300"
    assert first.headers["last-modified"]

    revalidated = await client.get(path, headers={"If-None-Match": etag})
    assert revalidated.status_code == 304
    assert revalidated.content == b""
    assert revalidated.headers["etag"] == etag

    # If-None-Match takes precedence: a stale ETag gets the body even with a fresh date.
    stale = await client.get(
        path,
        headers={
            "If-None-Match": '"stale"',
            "If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT",
        },
    )
    assert stale.status_code == 200
    by_date = await client.get(path, headers={"If-Modified-Since": first.headers["last-modified"]})
    assert by_date.status_code == 304

    await reschedule_booking(db, booking, _soon(4))
    await _changes_propagate()
    changed = await client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.content != first.content

    await create_booking(db, cast.room_x, cast.citizen_b.id, _soon(9))
    await _changes_propagate()
    added = await client.get(path, headers={"If-None-Match": changed.headers["etag"]})
    assert added.status_code == 200


async def test_institution_feed_etag_follows_any_room(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    path = f"/v1/institutions/{cast.institution_x}/calendar.ics"
    first = await client.get(path)
    assert first.status_code == 200
    await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(3))
    await _changes_propagate()
    second = await client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert second.status_code == 200
    third = await client.get(path, headers={"If-None-Match": second.headers["etag"]})
    assert third.status_code == 304


async def test_head_answers_headers_without_a_body(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(3))
    path = f"/v1/rooms/{cast.room_x}/calendar.ics"
    get = await client.get(path)
    head = await client.head(path)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-type"] == "text/calendar; charset=utf-8"
    assert head.headers["content-length"] == str(len(get.content))
    not_modified = await client.head(path, headers={"If-None-Match": get.headers["etag"]})
    assert not_modified.status_code == 304


async def test_feeds_answer_without_an_accept_header(client: Client, cast: Cast) -> None:
    response = await client.get(
        f"/v1/rooms/{cast.room_x}/calendar.ics", headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"


async def test_unknown_room_or_institution_is_404(client: Client) -> None:
    for path in (
        f"/v1/rooms/{uuid.uuid4()}/calendar.ics",
        f"/v1/institutions/{uuid.uuid4()}/calendar.ics",
    ):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


async def test_public_feeds_leak_no_name_email_phone_or_private_purpose(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    await db.execute("UPDATE users SET phone = '010-1234-5678' WHERE id = $1", cast.citizen_a.id)
    await create_booking(
        db, cast.room_x, cast.citizen_a.id, _soon(3), purpose="비밀 회의 secret", attendees=11
    )
    await create_booking(
        db,
        cast.room_x,
        cast.citizen_a.id,
        _soon(4),
        purpose="주민 합창단 연습",
        purpose_public=True,
        status="pending",
    )
    for path in (
        f"/v1/rooms/{cast.room_x}/calendar.ics",
        f"/v1/institutions/{cast.institution_x}/calendar.ics",
    ):
        response = await client.get(path)
        body = response.content.decode()
        # Unfold before searching, so a folded line cannot hide a leak.
        flat = body.replace("\r\n ", "")
        for secret in ("시민 A", cast.citizen_a.email, "010-1234-5678", "비밀 회의", "secret"):
            assert secret not in flat, f"{secret!r} leaked into {path}"
        assert str(cast.citizen_a.id) not in flat
        assert "ATTENDEE" not in flat and "ORGANIZER" not in flat and "DESCRIPTION" not in flat
        summaries = sorted(e.get("SUMMARY").text for e in parse_ics(response.content).children)
        assert summaries == ["Reserved / 예약됨", "주민 합창단 연습"]


async def test_korean_text_survives_folding_intact(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    purpose = "마포구 주민 자치회 정기 총회 및 한마당 잔치 준비 회의 — 모두 환영합니다! " * 3
    booking = await create_booking(
        db, cast.room_x, cast.citizen_a.id, _soon(3), purpose=purpose.strip(), purpose_public=True
    )
    response = await client.get(f"/v1/rooms/{cast.room_x}/calendar.ics")
    # parse_ics checks CRLF, 75-octet lines and that no fold splits a UTF-8 sequence.
    event = _events(parse_ics(response.content))[f"{booking}@nanum"]
    assert event.get("SUMMARY").text == purpose.strip()
    assert max(len(line) for line in response.content.split(b"\r\n")) <= 75


async def test_a_waitlist_offer_shows_as_a_tentative_busy_block(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    """An offer holds its slot for the person it was made to, so the room is busy then."""
    offered = await create_booking(
        db, cast.room_x, cast.citizen_a.id, _soon(3), status="offered", minutes=60
    )

    events = _events(await _feed(client, f"/v1/rooms/{cast.room_x}/calendar.ics"))

    event = events[f"{offered}@nanum"]
    assert event.get("STATUS").value == "TENTATIVE"
    assert event.get("SUMMARY").text == "Reserved / 예약됨"


async def test_a_change_reaches_the_etag_within_one_second_and_revalidations_before_need_no_read(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    """Revalidations inside the fingerprint's second are answered from what the process holds;
    the first one after that second sees the change."""
    await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(3))
    path = f"/v1/rooms/{cast.room_x}/calendar.ics"
    first = await client.get(path)
    etag = first.headers["etag"]
    changed_at = asyncio.get_running_loop().time()
    await create_booking(db, cast.room_x, cast.citizen_b.id, _soon(5))

    soon = await client.get(path, headers={"If-None-Match": etag})
    if asyncio.get_running_loop().time() - changed_at < FINGERPRINT_TTL:
        assert soon.status_code == 304  # answered from the fingerprint this process holds

    await _changes_propagate()
    later = await client.get(path, headers={"If-None-Match": etag})
    assert later.status_code == 200
    assert later.headers["etag"] != etag
    assert len(_events(parse_ics(later.content))) == 2


async def test_after_one_change_only_that_event_is_rendered_again(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    bookings = [
        await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(day)) for day in range(2, 30)
    ]
    path = f"/v1/rooms/{cast.room_x}/calendar.ics"
    first = await client.get(path)
    await reschedule_booking(db, bookings[5], _soon(40))
    await _changes_propagate()

    events_before = _count("nanum_feed_event_renders_total")
    second = await client.get(path)

    assert second.headers["etag"] != first.headers["etag"]
    assert _count("nanum_feed_event_renders_total") - events_before == 1
    moved = _events(parse_ics(second.content))[f"{bookings[5]}@nanum"]
    assert parse_utc(moved.get("DTSTART").value) == _soon(40)
    # Assembled from cached events, the body is what a full render writes.
    assert parse_ics(second.content).components("VEVENT")
    assert len(_events(parse_ics(second.content))) == len(bookings)


async def test_concurrent_first_requests_for_a_changed_feed_share_one_render(
    client: Client, db: asyncpg.Pool, cast: Cast
) -> None:
    for day in range(2, 12):
        await create_booking(db, cast.room_x, cast.citizen_a.id, _soon(day))
    path = f"/v1/rooms/{cast.room_x}/calendar.ics"

    renders_before = _count("nanum_feed_renders_total")
    answers = await asyncio.gather(*(client.get(path) for _ in range(100)))

    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert _count("nanum_feed_renders_total") - renders_before == 1
