"""Strings, numbers, nesting, cursors, media types and time zones: a hostile value anywhere is a
4xx naming the field, never a 5xx, and nothing is written (invariant 7)."""

from __future__ import annotations

import base64
import json
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.factories import Cast
from tests.hardening.api import (
    BASE_BODIES,
    Operation,
    Target,
    audit_counts,
    operations,
    prepare_target,
)

BODY_OPERATIONS = [op for op in operations() if op.body is not None]
QUERY_PARAMETERS = [(op, name) for op in operations() for name in op.query]
CONTROL = ["a\x00b", "a\x07b", "a\x1bb", "a\x7fb"]
MULTILINE_FIELDS = {"purpose", "reason", "note", "cancellation_reason"}


def _string_fields(op: Operation) -> list[str]:
    """Top-level string fields of the body (and arrays of strings), from the document."""
    schema = op.body or {}
    if schema.get("type") == "array":
        return []
    out = []
    for name, prop in schema.get("properties", {}).items():
        kinds = [prop, *prop.get("oneOf", []), *prop.get("anyOf", [])]
        if any(
            k.get("type") == "string" and "format" not in k and "enum" not in k for k in kinds
        ) or any(
            k.get("type") == "array" and k.get("items", {}).get("type") == "string" for k in kinds
        ):
            out.append(name)
    return out


BODY_STRINGS = [(op, name) for op in BODY_OPERATIONS for name in _string_fields(op)]


def _role(op: Operation) -> str:
    if op.operation_id in {"createBooking", "rescheduleBooking", "cancelBooking"}:
        return "citizen_a"
    if op.operation_id in {"createInstitution", "appointManager"}:
        return "admin"
    return "manager_x"


def test_every_body_operation_has_a_base_body() -> None:
    assert {op.operation_id for op in BODY_OPERATIONS} <= BASE_BODIES.keys()
    assert ("createBooking", "purpose") in {(o.operation_id, n) for o, n in BODY_STRINGS}


async def test_control_characters_in_every_query_parameter_are_422(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    target = await prepare_target(client, cast, db)
    before = await audit_counts(db)
    wrong = []
    for op, name in QUERY_PARAMETERS:
        for value in CONTROL:
            response = await client.request(
                op.method, target.url(op), params={name: value}, headers=cast.headers("admin")
            )
            named = op.method == "HEAD" or response.json()["errors"][0]["field"] == name
            if response.status_code != 422 or not named:
                wrong.append((str(op), name, value, response.status_code, response.text))
    assert wrong == []
    assert await audit_counts(db) == before


async def test_control_characters_in_every_json_string_are_422_and_write_nothing(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    target = await prepare_target(client, cast, db)
    before = await audit_counts(db)
    wrong = []
    for op, name in BODY_STRINGS:
        base = target.body(op)
        values = CONTROL + ([] if name in MULTILINE_FIELDS else ["a\nb", "a\rb"])
        for value in values:
            spoiled = [value] if isinstance(base.get(name), list) else value
            response = await client.request(
                op.method,
                target.url(op),
                json={**base, name: spoiled},
                headers=cast.headers(_role(op)),
            )
            if (
                response.status_code != 422
                or response.json()["errors"][0]["field"].split("[")[0] != name
            ):
                wrong.append((str(op), name, value, response.status_code, response.text))
    assert wrong == []
    assert await audit_counts(db) == before


async def test_line_breaks_are_kept_in_multi_line_fields(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    target = await prepare_target(client, cast, db)
    closure = await client.post(
        f"/v1/rooms/{cast.room_x}/closures",
        json={
            "start": "2027-07-01T00:00:00+09:00",
            "end": "2027-07-02T00:00:00+09:00",
            "reason": "바닥 공사\r\n2층 폐쇄\t",
        },
        headers=cast.headers("manager_x"),
    )
    assert closure.status_code == 201, closure.text
    assert closure.json()["reason"] == "바닥 공사\r\n2층 폐쇄\t"
    booking = await client.post(
        "/v1/bookings",
        json={
            **target.body(next(o for o in BODY_OPERATIONS if o.operation_id == "createBooking")),
            "purpose": "독서모임\n둘째 줄",
        },
        headers=cast.headers("citizen_a"),
    )
    assert booking.status_code == 201, booking.text
    assert booking.json()["purpose"] == "독서모임\n둘째 줄"


async def test_lone_surrogates_in_json_are_refused(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    before = await audit_counts(db)
    body = b'{"email":"a@example.org","password":"correct horse battery","name":"\\ud800"}'
    response = await client.post(
        "/v1/auth/register", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert await audit_counts(db) == before


async def test_json_bodies_need_application_json(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    """text/plain and form bodies are what a cross-site page can send without a preflight."""
    target = await prepare_target(client, cast, db)
    for op in BODY_OPERATIONS:
        await _refuses_other_media_types(client, cast, db, target, op)


async def _refuses_other_media_types(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool, target: Target, op: Operation
) -> None:
    before = await audit_counts(db)
    raw = json.dumps(target.body(op)).encode()
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
    ):
        response = await client.request(
            op.method,
            target.url(op),
            content=raw,
            headers={**cast.headers(_role(op)), "content-type": content_type},
        )
        assert response.status_code == 415, (str(op), content_type, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await audit_counts(db) == before
    # The same body as JSON is accepted (not refused for its media type).
    ok = await client.request(
        op.method, target.url(op), json=target.body(op), headers=cast.headers(_role(op))
    )
    assert ok.status_code != 415 and ok.status_code < 500, (str(op), ok.text)


async def test_deeply_nested_or_malformed_json_is_a_client_error(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool
) -> None:
    target = await prepare_target(client, cast, db)
    before = await audit_counts(db)
    deep_object = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    deep_array = b"[" * 100_000 + b"]" * 100_000
    for op in BODY_OPERATIONS:
        for raw in (deep_array, deep_object, b'{"name": "x"', b"\xff\xfe"):
            response = await client.request(
                op.method,
                target.url(op),
                content=raw,
                headers={**cast.headers(_role(op)), "content-type": "application/json"},
            )
            assert response.status_code in (400, 422), (str(op), response.text)
            assert response.json()["errors"], response.text
    assert await audit_counts(db) == before


@pytest.mark.parametrize(
    ("op_id", "field", "value"),
    [
        ("createBooking", "attendees", 2**31),
        ("createBooking", "attendees", "2"),
        ("createBooking", "attendees", 2.5),
        ("createBooking", "purpose_public", 1),
        ("createBooking", "purpose_public", "true"),
        ("createRoom", "capacity", 2**63),
        ("createRoom", "capacity", 1e308),
        ("createInstitution", "latitude", 1e400),
        ("createInstitution", "closed_on_holidays", 0),
        ("updateRoom", "active", 0),
    ],
)
async def test_numbers_and_booleans_are_parsed_strictly(
    client: AsyncTestClient[Litestar],
    cast: Cast,
    db: asyncpg.Pool,
    op_id: str,
    field: str,
    value: Any,
) -> None:
    target = await prepare_target(client, cast, db)
    op = next(o for o in BODY_OPERATIONS if o.operation_id == op_id)
    before = await audit_counts(db)
    raw = json.dumps({**target.body(op), field: value}).replace("Infinity", "1e400").encode()
    response = await client.request(
        op.method,
        target.url(op),
        content=raw,
        headers={**cast.headers(_role(op)), "content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert await audit_counts(db) == before


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("min_capacity", "2147483648"),
        ("min_capacity", "99999999999999999999999"),
        ("limit", "2147483648"),
        ("radius_km", "1e309"),
        ("near", "nan,nan"),
        ("near", "1e400,0"),
    ],
)
async def test_numbers_beyond_their_range_in_the_query_are_422(
    client: AsyncTestClient[Litestar], name: str, value: str
) -> None:
    params = {name: value}
    if name == "radius_km":
        params["near"] = "37.5,127.0"
    response = await client.get("/v1/rooms", params=params)
    assert response.status_code in (400, 422), response.text


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


TAMPERED = [
    _cursor(b'["n","\\ud800","x","00000000-0000-0000-0000-000000000000"]'),
    _cursor(b'["n","a\\u0000","x","00000000-0000-0000-0000-000000000000"]'),
    _cursor(b'["d",1e999,"00000000-0000-0000-0000-000000000000"]'),
    _cursor(b'["d",' + b"9" * 5000 + b',"00000000-0000-0000-0000-000000000000"]'),
    _cursor(b'["i",[[[["x"]]]],"00000000-0000-0000-0000-000000000000"]'),
    _cursor(b"[" * 3_000 + b"]" * 3_000),
    _cursor(b'["i","x",{"a":1}]'),
    _cursor("2026-12-07T19:00:00+09:00|\udc00".encode("utf-8", "surrogatepass")),
    _cursor(b"\x00|\x00"),
    "!!!not base64!!!",
    "\U0001f600",
]


async def test_tampered_cursors_are_422_on_every_listing(
    client: AsyncTestClient[Litestar], cast: Cast
) -> None:
    listings = [
        ("/v1/institutions", {}, "anonymous"),
        ("/v1/rooms", {}, "anonymous"),
        ("/v1/rooms", {"near": "37.5,127.0"}, "anonymous"),
        ("/v1/me/bookings", {}, "citizen_a"),
        (f"/v1/institutions/{cast.institution_x}/bookings", {}, "manager_x"),
    ]
    for cursor in TAMPERED:
        for path, params, role in listings:
            response = await client.get(
                path, params={**params, "cursor": cursor}, headers=cast.headers(role)
            )
            assert response.status_code == 422, (path, cursor, response.text)
            assert response.json()["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize(
    "zone",
    [
        "posix/Asia/Seoul",
        "right/Asia/Seoul",
        "localtime",
        "posixrules",
        "Factory",
        "asia/seoul",
        "UTC+9",
    ],
)
async def test_only_zones_python_and_postgres_read_alike_are_accepted(
    client: AsyncTestClient[Litestar], cast: Cast, db: asyncpg.Pool, zone: str
) -> None:
    before = await audit_counts(db)
    created = await client.post(
        "/v1/institutions",
        json={**BASE_BODIES["createInstitution"], "timezone": zone},
        headers=cast.headers("admin"),
    )
    assert created.status_code == 422, created.text
    assert created.json()["errors"][0]["field"] == "timezone"
    patched = await client.patch(
        f"/v1/institutions/{cast.institution_x}",
        json={"timezone": zone},
        headers=cast.headers("admin"),
    )
    assert patched.status_code == 422, patched.text
    assert await audit_counts(db) == before
