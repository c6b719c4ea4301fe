"""Headers and exposure: nosniff and a restrictive CSP on every answer, no-store on personal
answers, /metrics behind a token, private feed tokens kept out of logs, a deactivated room's
feeds gone like the room."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.app import create_app
from booking.feeds.service import FINGERPRINT_TTL
from booking.settings import Settings
from tests.accounts.helpers import captured_logs
from tests.conftest import make_settings
from tests.factories import Cast
from tests.hardening.api import operations, prepare_target

CSP = "default-src 'none'; frame-ancestors 'none'"


async def test_every_operation_answers_with_nosniff_and_a_restrictive_csp(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    target = await prepare_target(client, cast, db)
    for op in operations():
        for role in ("anonymous", "citizen_a", "manager_x"):
            response = await client.request(op.method, target.url(op), headers=cast.headers(role))
            assert response.headers["x-content-type-options"] == "nosniff", str(op)
            assert response.headers["content-security-policy"] == CSP, str(op)
    for path in ("/nowhere", "/v1/rooms/not-a-uuid"):
        response = await client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"] == CSP


async def test_html_pages_set_their_own_policy(client: AsyncTestClient[Litestar]) -> None:
    """HTML (the API docs here, the web pages elsewhere) is left alone: their routes set a CSP
    that lets their own scripts and styles load."""
    docs = await client.get("/schema")
    assert docs.headers["content-type"].startswith("text/html")
    assert docs.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in docs.headers


async def test_personal_answers_are_never_stored(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    target = await prepare_target(client, cast, db)
    booking_id = target.ids["booking_id"]
    personal = [
        ("GET", "/v1/me", "citizen_a"),
        ("GET", "/v1/me/bookings", "citizen_a"),
        ("GET", "/v1/me/calendar", "citizen_a"),
        ("GET", f"/v1/bookings/{booking_id}", "citizen_a"),
        ("GET", f"/v1/bookings/{booking_id}", "manager_x"),
        ("GET", f"/v1/institutions/{cast.institution_x}/bookings", "manager_x"),
        ("GET", f"/v1/bookings/{uuid.uuid4()}", "citizen_b"),
        ("GET", "/v1/me", "anonymous"),
        ("GET", f"/v1/rooms/{cast.room_x}", "manager_x"),
    ]
    for method, path, role in personal:
        response = await client.request(method, path, headers=cast.headers(role))
        assert response.headers["cache-control"] == "no-store", (path, role)
    public = await client.get(f"/v1/rooms/{cast.room_x}/calendar.ics")
    assert public.headers["cache-control"] == "public, max-age=300"


async def test_metrics_need_the_metrics_token(database_url: str, redis_url: str) -> None:
    token = "m-" + uuid.uuid4().hex
    guarded = create_app(make_settings(database_url, redis_url, metrics_token=token))
    async with AsyncTestClient(app=guarded) as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope-nope-nope"})
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"] == "Bearer"
        right = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert right.status_code == 200
        assert "nanum_http_requests_total" in right.text
    closed = create_app(make_settings(database_url, redis_url))
    async with AsyncTestClient(app=closed) as client:
        assert (await client.get("/metrics")).status_code == 404
        anything = await client.get("/metrics", headers={"Authorization": "Bearer "})
        assert anything.status_code == 404


async def test_private_feed_tokens_never_appear_in_logs(
    database_url: str, redis_url: str, settings: Settings, cast: Cast
) -> None:
    app = create_app(
        make_settings(database_url, redis_url, access_log="true", secret_key=settings.secret_key)
    )
    async with AsyncTestClient(app=app) as client:
        urls = await client.get("/v1/me/calendar", headers=cast.headers("citizen_a"))
        path = "/v1/calendars/" + urls.json()["https_url"].rsplit("/", 1)[1]
        token = path.rsplit("/", 1)[1].removesuffix(".ics")
        with captured_logs() as lines:
            assert (await client.get(path)).status_code == 200
            assert (await client.get(path + "?from=bad")).status_code == 422
            assert (await client.get("/v1/calendars/" + "x" * 43 + ".ics")).status_code == 404
    access = [json.loads(line) for line in lines if '"booking.access"' in line]
    assert len(access) == 3
    assert {line["path"] for line in access} == {"/v1/calendars/<token>.ics"}
    # (the test's own HTTP client logs its URLs; the server's lines are what matter)
    assert not [line for line in lines if token in line and '"logger":"httpx"' not in line]


async def test_a_deactivated_rooms_feeds_answer_404_like_the_room(
    client: AsyncTestClient[Litestar], cast: Cast
) -> None:
    feed = f"/v1/rooms/{cast.room_x}/calendar.ics"
    before = await client.get(feed)
    assert before.status_code == 200
    off = await client.patch(
        f"/v1/rooms/{cast.room_x}", json={"active": False}, headers=cast.headers("manager_x")
    )
    assert off.status_code == 200, off.text
    assert (await client.get(f"/v1/rooms/{cast.room_x}")).status_code == 404
    # Each process reuses a public feed's fingerprint for up to FINGERPRINT_TTL.
    await asyncio.sleep(FINGERPRINT_TTL + 0.05)
    assert (await client.get(feed)).status_code == 404
    assert (await client.head(feed)).status_code == 404
    revalidate = await client.get(feed, headers={"If-None-Match": before.headers["etag"]})
    assert revalidate.status_code == 404
    assert (await client.get(feed, headers=cast.headers("manager_x"))).status_code == 404
