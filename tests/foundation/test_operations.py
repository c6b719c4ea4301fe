"""Health, readiness, metrics, request ids and access lines, and the error format."""

from __future__ import annotations

import asyncio
import json
import time

import asyncpg
import httpx
import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from booking.app import create_app
from tests.conftest import SERVER_URL, make_settings, serve
from tests.redis_server import PrivateRedis


async def test_readyz_follows_redis_down_and_back_without_restart(
    database_url: str, private_redis: PrivateRedis
) -> None:
    app = create_app(make_settings(database_url, private_redis.url))
    async with AsyncTestClient(app=app) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ok", "checks": {"postgres": "ok", "redis": "ok"}}

        await private_redis.stop()
        started = time.monotonic()
        down = await client.get("/readyz")
        assert time.monotonic() - started < 2.0
        assert down.status_code == 503
        assert down.json()["checks"] == {"postgres": "ok", "redis": "down"}
        assert (await client.get("/healthz")).status_code == 200  # liveness is unaffected

        await private_redis.start()
        back = await client.get("/readyz")
        assert back.status_code == 200


async def test_readyz_names_postgres_when_it_cannot_be_reached(
    database_url: str, redis_url: str, db: asyncpg.Pool
) -> None:
    name = database_url.rsplit("/", 1)[1]
    app = create_app(make_settings(database_url, redis_url))
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/readyz")).status_code == 200
        admin = await asyncpg.connect(SERVER_URL)
        try:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
            started = time.monotonic()
            response = await client.get("/readyz")
            assert time.monotonic() - started < 2.0
            assert response.status_code == 503
            assert response.json()["checks"] == {"postgres": "down", "redis": "ok"}
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            await admin.close()
        assert (await client.get("/readyz")).status_code == 200


def _failing_app(database_url: str, redis_url: str) -> Litestar:
    app = create_app(make_settings(database_url, redis_url))

    @get("/boom", include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    @get("/bad-sql", include_in_schema=False)
    async def bad_sql() -> None:
        async with app.state.pool.acquire() as conn:
            await conn.execute("SELECT * FROM table_that_does_not_exist")

    app.register(boom)
    app.register(bad_sql)
    return app


async def test_an_unhandled_error_is_problem_json_500_without_internals(
    database_url: str, redis_url: str
) -> None:
    app = _failing_app(database_url, redis_url)
    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        for path in ("/boom", "/bad-sql"):
            response = await client.get(path, headers={"X-Request-ID": "req-123"})
            assert response.status_code == 500
            assert response.headers["content-type"] == "application/problem+json"
            body = response.json()
            assert body["status"] == 500
            assert body["title"] == "Internal server error"
            assert "req-123" in body["detail"]
            text = response.text
            for leak in (
                "hunter2",
                "Traceback",
                "SELECT",
                "table_that_does_not_exist",
                "RuntimeError",
            ):
                assert leak not in text


async def test_unknown_paths_and_methods_are_problem_json(
    client: AsyncTestClient[Litestar],
) -> None:
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["status"] == 404
    wrong_method = await client.delete("/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"


async def test_request_id_is_echoed_or_created(client: AsyncTestClient[Litestar]) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    created = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces\n"})
    assert created.headers["x-request-id"] != "bad id with spaces\n"
    assert len(created.headers["x-request-id"]) == 32


async def test_one_json_access_line_per_request(
    database_url: str, redis_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    app = create_app(make_settings(database_url, redis_url, access_log="true", log_level="INFO"))
    async with AsyncTestClient(app=app) as client:
        capfd.readouterr()
        await client.get("/healthz", headers={"X-Request-ID": "line-1"})
        logged = capfd.readouterr().err
    lines = [json.loads(x) for x in logged.splitlines() if x.startswith("{")]
    access = [x for x in lines if x["logger"] == "booking.access"]
    assert len(access) == 1
    line = access[0]
    assert line["method"] == "GET"
    assert line["path"] == "/healthz"
    assert line["status"] == 200
    assert line["request_id"] == "line-1"
    assert isinstance(line["duration_ms"], float)


async def test_metrics_count_requests_by_route(database_url: str, redis_url: str) -> None:
    token = "metrics-token-0123456789"
    app = create_app(make_settings(database_url, redis_url, metrics_token=token))
    async with AsyncTestClient(app=app) as client:
        await client.get("/healthz")
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert 'nanum_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text


async def test_openapi_is_served_with_interactive_docs(client: AsyncTestClient[Litestar]) -> None:
    spec = await client.get("/schema/openapi.json")
    assert spec.status_code == 200
    document = spec.json()
    assert document["openapi"].startswith("3.1")
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict)
    ]
    assert len(operations) > 30
    for path, method, operation in operations:
        assert operation.get("operationId"), (path, method)
        assert operation.get("summary"), (path, method)
    ids = [operation["operationId"] for _, _, operation in operations]
    assert len(ids) == len(set(ids))
    docs = await client.get("/schema")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]


async def test_a_client_hanging_up_mid_body_is_not_logged_as_a_server_error(
    database_url: str, redis_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    app = create_app(make_settings(database_url, redis_url, log_level="INFO"))
    async with serve(app) as url:
        host, _, port = url.removeprefix("http://").partition(":")
        capfd.readouterr()
        _reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"email": '
        )
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        logged = ""
        deadline = time.monotonic() + 10
        while "client disconnected before the request body was read" not in logged:
            assert time.monotonic() < deadline, logged
            await asyncio.sleep(0.02)
            logged += capfd.readouterr().err
        # The server is still healthy and answers the next caller.
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/healthz")).status_code == 200
    assert "unhandled error" not in logged
