"""The importer on rows cut from the national file (all 17 regions, CP949, real mess)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.catalogue.importer import decode_csv, import_file, parse_accessibility, parse_row
from booking.catalogue.regions import districts_of, place_address, region_names
from booking.settings import REPO_ROOT
from tests.factories import Cast, auth

FIXTURE = Path(__file__).parent / "fixtures" / "national-sample.csv"
Client = AsyncTestClient[Litestar]


def test_the_region_list_has_17_regions_and_230_districts() -> None:
    assert len(region_names()) == 17
    assert sum(len(districts_of(r) or ()) for r in region_names()) == 230
    assert "강원특별자치도" in region_names() and "강원도" not in region_names()
    assert districts_of("서울특별시") is not None and len(districts_of("서울특별시") or ()) == 25


def test_messy_and_old_region_names_are_placed() -> None:
    cases = {
        "울산 남구 삼산로 1": ("울산광역시", "남구"),
        "경상남도창원시 구산로 1": ("경상남도", "창원시"),
        "창원시 마산합포구 3.15대로 1": ("경상남도", "창원시"),
        "강원도 춘천시 중앙로 1": ("강원특별자치도", "춘천시"),
        "전라북도 전주시 완산구 1": ("전북특별자치도", "전주시"),
        "경상북도 군위군 군위읍 1": ("대구광역시", "군위군"),
        "충청남도 예산군봉산면 1": ("충청남도", "예산군"),
        "세종특별자치시 한누리대로 2130": ("세종특별자치시", "세종특별자치시"),
        "인천광역시 중구 운서동 1": ("인천광역시", "영종구"),
        "인천광역시 동구 1": ("인천광역시", "제물포구"),
    }
    for address, expected in cases.items():
        place = place_address(address)
        assert place is not None, address
        assert (place.region, place.district) == expected, address
    assert place_address("어딘가 1") is None
    assert place_address("중구 1") is None  # 중구 is in six regions


async def test_all_regions_import_with_every_skip_reported(
    db: asyncpg.Pool, tmp_path: Path
) -> None:
    rows = decode_csv(FIXTURE.read_bytes())
    assert len(rows) == 31
    async with db.acquire() as conn:
        report = await import_file(conn, FIXTURE)
    assert report.rooms_created == 30
    assert report.skipped == {"address names no known region and district": 1}
    assert [r.line for r in report.skipped_rows] == [32]
    unpublished = [r for r in rows[:30] if r["수용가능인원수"].strip() in ("", "0", ".")]
    assert report.without_capacity == len(unpublished) == 11
    assert report.without_coordinates == 1
    regions = await db.fetchval("SELECT count(DISTINCT region) FROM institutions")
    assert regions == 17
    kinds = {r["kind"] for r in await db.fetch("SELECT DISTINCT kind FROM rooms")}
    assert {"sports_field", "court"} <= kinds
    # Rooms without coordinates are found by district; without a capacity, by a search
    # without a size filter (and listed as "not published").
    field = await db.fetchrow(
        "SELECT i.latitude, i.district, r.kind FROM rooms r"
        " JOIN institutions i ON i.id = r.institution_id WHERE r.name = '가곡야구장'"
    )
    assert field is not None
    assert (field["latitude"], field["district"], field["kind"]) == (None, "밀양시", "sports_field")
    assert await db.fetchval(
        "SELECT count(*) FROM rooms r JOIN institutions i ON i.id = r.institution_id"
        " WHERE i.region = '대구광역시' AND i.district = '군위군'"
    )
    text = report.csv_text()
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert [(p["line"], p["reason"]) for p in parsed] == [
        ("32", "address names no known region and district")
    ]


async def test_a_second_national_run_changes_nothing(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await import_file(conn, FIXTURE)
        before = await conn.fetch("SELECT id, updated_at FROM rooms ORDER BY id")
        again = await import_file(conn, FIXTURE)
        after = await conn.fetch("SELECT id, updated_at FROM rooms ORDER BY id")
    assert (again.rooms_created, again.rooms_updated, again.rooms_unchanged) == (0, 0, 30)
    assert (again.institutions_created, again.institutions_updated) == (0, 0)
    assert before == after


async def test_region_accepts_short_and_old_names(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        report = await import_file(conn, FIXTURE, region="강원도")
    assert report.rooms_created == 1
    assert await db.fetchval("SELECT array_agg(DISTINCT region) FROM institutions") == [
        "강원특별자치도"
    ]


async def test_rooms_without_capacity_are_found_and_listed_for_managers(
    client: Client, cast: Cast, db: asyncpg.Pool
) -> None:
    async with db.acquire() as conn:
        await import_file(conn, FIXTURE, region="경기도")
    found = await client.get("/v1/rooms", params={"region": "경기도", "district": "화성시"})
    assert found.status_code == 200
    [room] = found.json()["items"]
    assert room["capacity"] is None
    sized = await client.get(
        "/v1/rooms", params={"region": "경기도", "district": "화성시", "min_capacity": 1}
    )
    assert sized.json()["items"] == []
    listed = await client.get(
        f"/v1/institutions/{room['institution_id']}/rooms-to-complete", headers=auth(cast.admin)
    )
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()] == [room["id"]]
    other = await client.get(
        f"/v1/institutions/{room['institution_id']}/rooms-to-complete",
        headers=auth(cast.manager_x),
    )
    assert other.status_code == 403


async def test_institutions_are_validated_against_the_region_list(
    client: Client, cast: Cast
) -> None:
    base = {"name": "상동 행정복지센터", "kind": "community_center"}
    ok = await client.post(
        "/v1/institutions",
        json={**base, "region": "경상남도", "district": "김해시"},
        headers=auth(cast.admin),
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["name_en_source"] == "romanized"
    bad_district = await client.post(
        "/v1/institutions",
        json={**base, "region": "경상남도", "district": "마포구"},
        headers=auth(cast.admin),
    )
    assert bad_district.status_code == 422
    assert "김해시" in bad_district.json()["detail"]
    bad_region = await client.post(
        "/v1/institutions",
        json={**base, "region": "강원도", "district": "춘천시"},
        headers=auth(cast.admin),
    )
    assert bad_region.status_code == 422
    assert "강원특별자치도" in bad_region.json()["detail"]
    abroad = await client.post(
        "/v1/institutions",
        json={**base, "region": "Berlin", "district": "Mitte", "timezone": "Europe/Berlin"},
        headers=auth(cast.admin),
    )
    assert abroad.status_code == 201


def test_accessibility_is_read_from_the_equipment_text() -> None:
    assert parse_accessibility("장애인승강기(1대)+주차장") == ["lift"]
    assert parse_accessibility("장애인 화장실+경사로+점자블록") == [
        "step_free",
        "accessible_toilet",
        "braille",
    ]
    assert parse_accessibility("오케스트라리프트+시청각실+수중리프트") == []
    assert parse_accessibility("장애인 주차 2면, 청각보조기기") == [
        "accessible_parking",
        "hearing_loop",
    ]


async def test_accessibility_filters_match_the_importer(client: Client, db: asyncpg.Pool) -> None:
    rows = decode_csv(FIXTURE.read_bytes())[:30]
    expected = {parse_row(r).room.name for r in rows if "lift" in parse_row(r).room.accessibility}
    assert expected
    async with db.acquire() as conn:
        await import_file(conn, FIXTURE)
    found = await client.get("/v1/rooms", params={"accessible": "lift", "limit": 100})
    assert found.status_code == 200
    assert {r["name"] for r in found.json()["items"]} == expected
    both = await client.get("/v1/rooms", params={"accessible": "step_free,lift"})
    assert both.json()["items"] == []
    bad = await client.get("/v1/rooms", params={"accessible": "ramp"})
    assert bad.status_code == 422
    assert "step_free" in bad.text


def test_cli_writes_the_report_as_csv(database_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "BOOKING_DATABASE_URL": database_url,
        "BOOKING_ENV": "test",
        "PYTHONPATH": str(REPO_ROOT),
    }
    report = tmp_path / "skipped.csv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "booking",
            "import-open-data",
            str(FIXTURE),
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "rooms: 30 created" in result.stdout
    assert (
        report.read_text(encoding="utf-8")
        .splitlines()[1]
        .endswith("address names no known region and district")
    )
    unknown = subprocess.run(
        [sys.executable, "-m", "booking", "import-open-data", str(FIXTURE), "--region", "Mars"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert unknown.returncode == 2
    assert "서울특별시" in unknown.stdout
