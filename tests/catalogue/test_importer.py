"""The open-data import on a fixture cut from the national CSV (CP949, real mess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from booking.catalogue.demo import import_demo_catalogue
from booking.catalogue.importer import decode_csv, import_file, parse_closed_days
from booking.settings import REPO_ROOT

FIXTURE = Path(__file__).parent / "fixtures" / "public-facilities-sample.csv"


def test_fixture_is_cp949_like_the_published_file() -> None:
    raw = FIXTURE.read_bytes()
    raw.decode("cp949")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:  # pragma: no cover - the point of the fixture is its original encoding
        raise AssertionError("fixture must stay CP949")
    assert len(decode_csv(raw)) == 17


def test_closed_days_text_is_understood_or_admitted() -> None:
    assert parse_closed_days("토+일") == ({6, 7}, False, False, True)
    assert parse_closed_days("토, 일, 공휴일") == ({6, 7}, True, False, True)
    assert parse_closed_days("토요일,일요일, 공휴일") == ({6, 7}, True, False, True)
    assert parse_closed_days("1월 1일+설 연휴+추석 연휴") == (set(), True, False, True)
    assert parse_closed_days("일(시설 사정에 따라 변경가능)") == ({7}, False, False, True)
    assert parse_closed_days("연중무휴") == (set(), False, False, True)
    assert parse_closed_days("휴관중") == (set(), False, True, True)
    assert parse_closed_days("둘째 주 일+공휴일")[3] is False
    assert parse_closed_days("토(12:00 이후)+일+공휴일")[3] is False
    assert parse_closed_days("월+화+수+목+금+토+일")[3] is False


async def test_import_creates_rooms_windows_and_flags(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        report = await import_file(conn, FIXTURE)
    # Rows without a capacity are rooms too (capacity not published), not skips (issue 16).
    assert report.rooms_created == 16
    assert report.without_capacity == 2
    assert report.skipped == {"repeats an earlier row (hours merged into it)": 1}
    assert report.closed_days_kept_as_note == 2
    assert report.institutions_created == 15  # two Busan rooms share one building

    dangsan = await db.fetchrow(
        "SELECT r.*, i.district, i.kind AS institution_kind FROM rooms r"
        " JOIN institutions i ON i.id = r.institution_id"
        " WHERE r.name = '영등포구 당산2동주민센터 5층 프로그램실'"
    )
    assert dangsan is not None
    assert dangsan["district"] == "영등포구"
    assert dangsan["institution_kind"] == "community_center"
    assert dangsan["kind"] == "lecture_room"
    assert dangsan["floor"] == "5"
    assert dangsan["fee_krw"] == 10000
    rules = await db.fetch(
        "SELECT days, start_time::text, end_time::text FROM availability_rules WHERE room_id = $1",
        dangsan["id"],
    )
    assert [tuple(r) for r in rules] == [([1, 2, 3, 4, 5], "09:00:00", "18:00:00")]  # 토.일 closed

    note = await db.fetchval("SELECT note FROM rooms WHERE name = '중구청소년센터 205호(2층)'")
    assert note == "휴관일: 둘째 주 일+공휴일"
    assert await db.fetchval("SELECT closed_on_holidays FROM rooms WHERE name = '지하1층 회의실'")
    assert await db.fetchval("SELECT fee_krw FROM rooms WHERE name = '지하1층 회의실'") == 0
    assert not await db.fetchval(
        "SELECT active FROM rooms WHERE name = '신사2동 자치회관 4층 강당'"
    )
    # Repeated facility rows (day and evening hours) become one room with both windows.
    tennis = await db.fetch(
        "SELECT to_char(start_time, 'HH24:MI') || '-' || to_char(end_time, 'HH24:MI') AS w"
        " FROM availability_rules a JOIN rooms r ON r.id = a.room_id"
        " WHERE r.name = '삼청테니스장 테니스장' ORDER BY start_time"
    )
    assert [r["w"] for r in tennis] == ["06:00-18:00", "06:00-21:00"]


async def test_second_import_changes_nothing(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await import_file(conn, FIXTURE)
        before = await conn.fetchval("SELECT max(updated_at) FROM rooms")
        again = await import_file(conn, FIXTURE)
        after = await conn.fetchval("SELECT max(updated_at) FROM rooms")
    assert (again.rooms_created, again.rooms_updated, again.rooms_unchanged) == (0, 0, 16)
    assert (again.institutions_created, again.institutions_updated) == (0, 0)
    assert before == after


async def test_region_limits_the_import(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        report = await import_file(conn, FIXTURE, region="부산광역시")
    assert report.rooms_created == 2
    assert await db.fetchval("SELECT array_agg(DISTINCT region) FROM institutions") == [
        "부산광역시"
    ]


async def test_changed_row_updates_the_room(db: asyncpg.Pool, tmp_path: Path) -> None:
    async with db.acquire() as conn:
        await import_file(conn, FIXTURE)
    text = (
        FIXTURE.read_bytes()
        .decode("cp949")
        .replace(",09:00,18:00,00:00,00:00,Y,1,10000,", ",10:00,18:00,00:00,00:00,Y,1,10000,", 1)
    )
    changed = tmp_path / "changed.csv"
    changed.write_bytes(text.encode("cp949"))
    async with db.acquire() as conn:
        report = await import_file(conn, changed)
    assert report.rooms_updated == 1
    assert report.rooms_created == 0


def test_cli_imports_seoul_rows_of_a_file(database_url: str) -> None:
    env = {
        **os.environ,
        "BOOKING_DATABASE_URL": database_url,
        "BOOKING_ENV": "test",
        "PYTHONPATH": str(REPO_ROOT),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "booking",
            "import-open-data",
            str(FIXTURE),
            "--region",
            "서울특별시",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "rooms: 14 created, 0 updated, 0 unchanged" in result.stdout
    assert "skipped: 1 (repeats an earlier row (hours merged into it): 1)" in result.stdout


async def test_demo_import_loads_the_whole_country_into_an_empty_catalogue_only(
    db: asyncpg.Pool,
) -> None:
    async with db.acquire() as conn:
        summary = await import_demo_catalogue(conn)
        rooms = await conn.fetchval("SELECT count(*) FROM rooms")
        regions = await conn.fetchval("SELECT count(DISTINCT region) FROM institutions")
        seoul = await conn.fetchval(
            "SELECT count(*) FROM rooms r JOIN institutions i ON i.id = r.institution_id"
            " WHERE i.region = '서울특별시'"
        )
        again = await import_demo_catalogue(conn)
    assert rooms > 5_000
    assert seoul > 700
    assert regions == 17
    assert f"{rooms} rooms" in summary
    assert "skipped" in again
    assert await db.fetchval("SELECT count(*) FROM rooms") == rooms
