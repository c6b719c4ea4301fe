"""The open-data import job (``import_open_data``) on real Postgres and Redis, run by the real
worker: an uploaded file is imported in batches with its progress committed with each batch;
however often and however interrupted the job runs, it ends with the rooms and the report of one
uninterrupted import; a failure is shown on the import and can be retried."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool

from booking.catalogue import import_jobs
from booking.catalogue.importer import ImportReport, decode_csv
from booking.errors import Invalid
from booking.jobs import service as jobs_service
from booking.settings import Settings
from tests.factories import create_user
from tests.jobs.helpers import UPLOAD_FIXTURE as UPLOAD
from tests.jobs.helpers import direct_report, poll_until, running_worker

NATIONAL_SAMPLE = (
    Path(__file__).resolve().parents[1] / "opendata" / "fixtures" / "national-sample.csv"
)


async def _arq(settings: Settings) -> ArqRedis:
    return await create_pool(RedisSettings.from_dsn(settings.redis_url))


async def _upload(db: asyncpg.Pool, settings: Settings, arq: ArqRedis, raw: bytes) -> uuid.UUID:
    admin = await create_user(db, settings, role="admin")
    return await import_jobs.create_import(db, arq, admin.id, "upload.csv", raw, "")


async def _rooms(db: asyncpg.Pool) -> list[tuple[object, ...]]:
    rows = await db.fetch(
        """
        SELECT r.source_key, r.id, r.updated_at, i.id, i.updated_at,
               (SELECT array_agg(w ORDER BY w::text) FROM availability_rules w
                WHERE w.room_id = r.id)::text
        FROM rooms r JOIN institutions i ON i.id = r.institution_id
        WHERE r.source_key IS NOT NULL ORDER BY r.source_key
        """
    )
    return [tuple(r) for r in rows]


async def _status(db: asyncpg.Pool, import_id: uuid.UUID) -> str:
    status: str = await db.fetchval("SELECT status FROM open_data_imports WHERE id = $1", import_id)
    return status


async def test_the_worker_imports_an_upload_and_a_second_run_changes_nothing(
    db: asyncpg.Pool, settings: Settings, redis_url: str
) -> None:
    raw = UPLOAD.read_bytes()
    expected = await direct_report(db, raw)
    assert expected.rooms_created == 7 and sum(expected.skipped.values()) == 5
    arq = await _arq(settings)
    try:
        async with running_worker(settings, relay=False):
            import_id = await _upload(db, settings, arq, raw)
            await poll_until(lambda: _is(db, import_id, "done"), within=30, what="the import done")
            report = await import_jobs.import_report(db, import_id)
            assert report is not None and report == expected
            row = await db.fetchrow(
                "SELECT rows_done, rows_total, error, finished_at FROM open_data_imports"
                " WHERE id = $1",
                import_id,
            )
            assert row is not None
            assert (row["rows_done"], row["rows_total"], row["error"]) == (12, 12, None)
            before = await _rooms(db)
            assert len(before) == 7

            # arq may run a job again (a crash after its commits): the same step enqueued again
            # finds the import done and changes nothing.
            await import_jobs.enqueue_step(arq, import_id, 0, ":again")
            # A re-run from the very beginning (as if nothing had been committed) writes the
            # same rooms again: upserts by source key, nothing duplicated or changed.
            await db.execute(
                "UPDATE open_data_imports SET status = 'queued', rows_written = 0,"
                " rows_done = 0, report = NULL, finished_at = NULL WHERE id = $1",
                import_id,
            )
            await import_jobs.enqueue_step(arq, import_id, 0, ":from-scratch")
            await poll_until(lambda: _is(db, import_id, "done"), within=30, what="the re-run done")
    finally:
        await arq.aclose()
    assert await _rooms(db) == before
    again = await import_jobs.import_report(db, import_id)
    assert again is not None
    assert (again.rooms_created, again.rooms_updated, again.rooms_unchanged) == (0, 0, 7)
    assert again.skipped == expected.skipped
    assert await db.fetchval("SELECT count(*) FROM rooms WHERE source_key IS NOT NULL") == 7


async def _is(db: asyncpg.Pool, import_id: uuid.UUID, status: str) -> bool:
    return await _status(db, import_id) == status


async def test_an_import_resumed_after_any_batch_or_run_twice_at_once_reports_like_one_run(
    db: asyncpg.Pool, settings: Settings, redis_url: str
) -> None:
    raw = NATIONAL_SAMPLE.read_bytes()
    expected = await direct_report(db, raw)
    arq = await _arq(settings)
    try:
        import_id = await _upload(db, settings, arq, raw)
    finally:
        await arq.aclose()
    # Steps of one batch of 4 rows, each with a cold plan cache (a new worker process each
    # time), and every other step run twice at once (two workers took the same job).
    progress: list[int] = []
    position: int | None = 0
    while position is not None:
        if len(progress) % 2:
            runs = await asyncio.gather(
                *(
                    import_jobs.run_import_step(db, import_id, {}, seconds=0, batch_rows=4)
                    for _ in range(2)
                )
            )
            position = None if None in runs else max(p for p in runs if p is not None)
        else:
            position = await import_jobs.run_import_step(db, import_id, {}, seconds=0, batch_rows=4)
        progress.append(
            await db.fetchval("SELECT rows_done FROM open_data_imports WHERE id = $1", import_id)
        )
    assert progress == sorted(progress) and progress[-1] == 31
    assert len(progress) > 4
    report = await import_jobs.import_report(db, import_id)
    assert report is not None and report == expected
    assert await db.fetchval("SELECT count(*) FROM rooms") == expected.rooms_created
    assert await db.fetchval("SELECT count(*) FROM institutions") == (expected.institutions_created)


async def test_a_failed_import_shows_its_error_and_a_retry_continues_it(
    db: asyncpg.Pool, settings: Settings, redis_url: str
) -> None:
    raw = UPLOAD.read_bytes()
    admin = await create_user(db, settings, role="admin")
    # A file the upload would refuse (a NUL character, which Postgres' JSON cannot hold), put
    # there directly: the job fails on each try and ends failed.
    broken = raw.replace("독산1동주민센터".encode("cp949"), b"\x00", 1)
    import_id: uuid.UUID = await db.fetchval(
        "INSERT INTO open_data_imports (uploaded_by, filename, content, size_bytes, rows_total)"
        " VALUES ($1, 'broken.csv', $2, octet_length($2::bytea), 12) RETURNING id",
        admin.id,
        broken,
    )
    arq = await _arq(settings)
    try:
        async with running_worker(settings, relay=False, max_tries=2):
            await import_jobs.enqueue_step(arq, import_id, 0)
            await poll_until(lambda: _is(db, import_id, "failed"), within=30, what="failed")
            failed = await import_jobs.get_import(db, import_id)
            assert failed is not None and failed.error is not None
            assert "Traceback" not in failed.error and "UntranslatableCharacter" in failed.error
            [record] = await jobs_service.failed_jobs(db)
            assert record.job_name == import_jobs.IMPORT_JOB
            assert record.args == f'["{import_id}"]'

            # Mended (here: the file replaced), it is retried from the failed-jobs record.
            await db.execute(
                "UPDATE open_data_imports SET content = $2, size_bytes = octet_length($2::bytea)"
                " WHERE id = $1",
                import_id,
                raw,
            )
            assert await jobs_service.retry_failed_job(db, arq, record.id) is not None
            await poll_until(lambda: _is(db, import_id, "done"), within=30, what="done")
            assert not await import_jobs.retry_import(db, arq, import_id)  # only failed ones
    finally:
        await arq.aclose()
    done = await import_jobs.get_import(db, import_id)
    assert done is not None and done.error is None and done.rows_done == 12


async def test_an_import_whose_job_never_reached_redis_is_enqueued_by_the_sweep(
    db: asyncpg.Pool, settings: Settings, redis_url: str
) -> None:
    raw = UPLOAD.read_bytes()
    admin = await create_user(db, settings, role="admin")
    import_id: uuid.UUID = await db.fetchval(
        "INSERT INTO open_data_imports (uploaded_by, filename, content, size_bytes, rows_total,"
        " updated_at) VALUES ($1, 'lost.csv', $2, octet_length($2::bytea), 12,"
        " now() - interval '5 minutes') RETURNING id",
        admin.id,
        raw,
    )
    arq = await _arq(settings)
    try:
        assert await import_jobs.resume_stalled(db, arq) == 1
        assert await import_jobs.resume_stalled(db, arq) == 0  # touched: not again at once
        async with running_worker(settings, relay=False):
            await poll_until(lambda: _is(db, import_id, "done"), within=30, what="done")
    finally:
        await arq.aclose()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", import_jobs.EMPTY),
        (b"x" * (import_jobs.MAX_UPLOAD_BYTES + 1), import_jobs.TOO_LARGE),
        ("개방시설명,개방장소명\n".encode() + b"\xff\xfe\xfa\n", import_jobs.UNDECODABLE),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", import_jobs.NOT_THE_STANDARD),
        (b"name,place\na,b\n", import_jobs.NOT_THE_STANDARD),
        ("개방시설명,개방장소명\na\x00,b\n".encode(), import_jobs.NOT_THE_STANDARD),
        ("개방시설명,개방장소명\n\n".encode("cp949"), import_jobs.NO_ROWS),
        (
            "개방시설명,개방장소명\n".encode() + b"a,b\n" * (import_jobs.MAX_ROWS + 1),
            import_jobs.TOO_MANY_ROWS,
        ),
    ],
)
def test_uploads_that_cannot_be_imported_are_refused_with_their_reason(
    raw: bytes, reason: str
) -> None:
    with pytest.raises(Invalid) as refused:
        import_jobs.count_rows(raw)
    assert refused.value.extra["reason"] == reason
    assert refused.value.errors is not None and refused.value.errors[0].field == "file"


def test_rows_are_counted_as_the_importer_reads_them() -> None:
    for path in (UPLOAD, NATIONAL_SAMPLE):
        raw = path.read_bytes()
        assert import_jobs.count_rows(raw) == len(decode_csv(raw))
    utf8 = "\ufeff" + UPLOAD.read_bytes().decode("cp949") + "\n\n"
    assert import_jobs.count_rows(utf8.encode()) == 12


def test_cells_beyond_the_header_are_dropped_not_fatal() -> None:
    raw = "개방시설명,개방장소명\n회의실,a,extra,more\n짧은행\n".encode()
    assert import_jobs.count_rows(raw) == 2
    assert decode_csv(raw) == [
        {"개방시설명": "회의실", "개방장소명": "a"},
        {"개방시설명": "짧은행", "개방장소명": ""},
    ]


def test_the_skipped_rows_csv_never_starts_a_cell_with_a_formula() -> None:
    report = ImportReport()
    report.skip(
        2, {"개방시설명": '=HYPERLINK("http://x")', "개방장소명": "+1", "제공기관명": "@a"}, "r"
    )
    line = report.csv_text().splitlines()[1]
    assert line == '2,"\'=HYPERLINK(""http://x"")",\'+1,\'@a,r'
