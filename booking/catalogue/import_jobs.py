"""Open-data files uploaded on the admin page, imported by a job with the importer.

An upload is checked (size, rows, encoding, the standard's columns), stored with its file in
``open_data_imports`` and handed to the worker's ``import_open_data`` job. The job plans the
whole file (:func:`~booking.catalogue.importer.plan_import`) and writes the planned rows in
batches of :data:`BATCH_ROWS`; each batch commits together with the position, the progress and
the report so far, under the import row's lock. A job stops after a few seconds (inside the
worker's time budget) and enqueues the next step; a job run twice, or two at once, continue from
the committed position, so nothing is written or counted twice.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import time
import uuid

import asyncpg
from arq.connections import ArqRedis
from redis.exceptions import RedisError

from booking.catalogue import queries
from booking.catalogue.importer import (
    ImportPlan,
    ImportReport,
    decode_csv,
    plan_import,
    write_planned,
    written_institutions,
)
from booking.catalogue.queries import OpenDataImport
from booking.catalogue.regions import official_region
from booking.errors import Invalid
from schemas.common import FieldError

__all__ = (
    "BATCH_ROWS",
    "IMPORT_JOB",
    "MAX_ROWS",
    "MAX_UPLOAD_BYTES",
    "STALLED_AFTER_SECONDS",
    "PlanCache",
    "count_rows",
    "create_import",
    "enqueue_step",
    "get_import",
    "import_report",
    "recent_imports",
    "record_error",
    "resume_stalled",
    "retry_import",
    "run_import_step",
)

log = logging.getLogger("booking.catalogue.import_jobs")

IMPORT_JOB = "import_open_data"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
"""10 MB: the national file (6,454 rows) is 2.0 MB in CP949 and 2.5 MB in UTF-8."""
MAX_ROWS = 20_000
"""Three times the national file. The job plans the whole file before its first write, and
planning must fit in one job's time budget (the national file plans in under a second)."""
BATCH_ROWS = 100
"""Rows written per transaction: about a third of a second, so the progress bar moves."""
STALLED_AFTER_SECONDS = 60.0
"""A queued or running import untouched this long has lost its job; the sweep enqueues it."""
REQUIRED_COLUMNS = frozenset({"개방시설명", "개방장소명"})
"""Columns of the national standard without which no row can become a room."""
# The reasons an upload is refused (Invalid naming the field "file", reason in extra).
EMPTY, TOO_LARGE, TOO_MANY_ROWS, UNDECODABLE, NOT_THE_STANDARD, NO_ROWS = (
    "empty",
    "too-large",
    "too-many-rows",
    "undecodable",
    "not-the-standard",
    "no-rows",
)

PlanCache = dict[uuid.UUID, ImportPlan]
"""The plan of the import a worker ran last (its ``ctx`` keeps it), so the next step of the
same import does not plan the file again."""


def _refused(reason: str, message: str, field: str = "file") -> Invalid:
    return Invalid(
        f"{field}: {message}",
        errors=[FieldError(field=field, message=message)],
        extra={"reason": reason},
    )


def count_rows(raw: bytes) -> int:
    """The data rows of an uploaded file, checked the way the importer will read it (UTF-8, or
    CP949 as published); :class:`Invalid` naming ``file`` with the reason otherwise."""
    if not raw:
        raise _refused(EMPTY, "the file is empty")
    if len(raw) > MAX_UPLOAD_BYTES:
        raise _refused(TOO_LARGE, f"larger than {MAX_UPLOAD_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp949")
        except UnicodeDecodeError:
            raise _refused(UNDECODABLE, "neither UTF-8 nor CP949 text") from None
    if "\x00" in text:
        raise _refused(NOT_THE_STANDARD, "not CSV text (NUL characters)")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = 0
    try:
        header = {column.strip() for column in next(reader, [])}
        if not REQUIRED_COLUMNS.issubset(header):
            raise _refused(NOT_THE_STANDARD, "the first line lacks 개방시설명 and 개방장소명")
        for row in reader:
            rows += 1 if row else 0  # blank lines are not rows (csv.DictReader skips them)
            if rows > MAX_ROWS:
                raise _refused(TOO_MANY_ROWS, f"more than {MAX_ROWS} rows")
    except csv.Error as exc:
        raise _refused(NOT_THE_STANDARD, f"not CSV: {exc}") from None
    if rows == 0:
        raise _refused(NO_ROWS, "no rows under the header")
    return rows


def _region(text: str) -> str | None:
    if not text:
        return None
    official = official_region(text)
    if official is None:
        raise _refused("unknown-region", "not a region of Korea", field="region")
    return official


async def create_import(
    pool: asyncpg.Pool,
    arq: ArqRedis,
    uploaded_by: uuid.UUID,
    filename: str,
    raw: bytes,
    region: str,
) -> uuid.UUID:
    """Check an uploaded file, store it and enqueue its import; its id. Refused uploads write
    nothing. If Redis does not take the job, the stored import waits for the sweep."""
    official = _region(region)
    rows = await asyncio.to_thread(count_rows, raw)
    async with pool.acquire() as conn:
        import_id = await queries.insert_import(conn, uploaded_by, filename, official, raw, rows)
    await enqueue_step(arq, import_id, 0)
    return import_id


async def enqueue_step(arq: ArqRedis, import_id: uuid.UUID, position: int, tag: str = "") -> None:
    """Enqueue the step of an import that starts at ``position``; one job id per step, so a
    step enqueued twice runs once. A Redis error is logged, not raised: the sweep retries."""
    job_id = f"open-data-import:{import_id}:{position}{tag}"
    try:
        await arq.enqueue_job(IMPORT_JOB, str(import_id), _job_id=job_id)
    except (RedisError, OSError) as exc:
        log.warning("import %s not enqueued (the sweep will): %s", import_id, exc)


def _plan(raw: bytes, region: str | None) -> ImportPlan:
    return plan_import(decode_csv(raw), region=region)


async def run_import_step(
    pool: asyncpg.Pool,
    import_id: uuid.UUID,
    plans: PlanCache,
    *,
    seconds: float,
    batch_rows: int = BATCH_ROWS,
) -> int | None:
    """Write batches of an import until ``seconds`` have passed (at least one batch); the
    position to continue from, or None when the import is finished (or done already)."""
    started = time.monotonic()
    async with pool.acquire() as conn:
        start = await queries.start_import(conn, import_id)
        if start is None:
            plans.pop(import_id, None)
            return None
        plan = plans.get(import_id)
        if plan is None:
            content = await queries.fetch_import_content(conn, import_id)
            plan = await asyncio.to_thread(_plan, content, start.region)
            plans.clear()
            plans[import_id] = plan
        ids: dict[str, uuid.UUID] = {}
        position = -1
        while True:
            async with conn.transaction():
                progress = await queries.lock_import_progress(conn, import_id)
                if progress is None or progress.status != "running":
                    return None
                report = ImportReport.from_json(
                    progress.report if progress.report is not None else plan.report.to_json()
                )
                begin = progress.rows_written
                if begin != position:  # a first batch, or another run went on meanwhile
                    ids = await written_institutions(conn, plan, report, begin)
                stop = min(begin + batch_rows, len(plan.rows))
                await write_planned(conn, plan, report, begin, stop, ids)
                finished = stop >= len(plan.rows)
                # Rows the plan leaves out (skipped, other regions, repeats) count as done.
                done = plan.rows_read - len(plan.rows) + stop
                await queries.save_import_progress(
                    conn,
                    import_id,
                    rows_written=stop,
                    rows_done=progress.rows_total if finished else min(done, progress.rows_total),
                    report=report.to_json(),
                    finished=finished,
                )
            position = stop
            if finished:
                plans.pop(import_id, None)
                return None
            if time.monotonic() - started >= seconds:
                return position


async def record_error(
    pool: asyncpg.Pool, import_id: uuid.UUID, error: str, *, final: bool
) -> None:
    """A try of the import job failed (``final``: the last one; the import is failed)."""
    async with pool.acquire() as conn:
        await queries.record_import_error(
            conn, import_id, " ".join(error.split())[:500], failed=final
        )


async def retry_import(pool: asyncpg.Pool, arq: ArqRedis, import_id: uuid.UUID) -> bool:
    """Queue a failed import again from where it stopped; False if it is not failed."""
    async with pool.acquire() as conn:
        position = await queries.requeue_failed_import(conn, import_id)
    if position is None:
        return False
    await enqueue_step(arq, import_id, position, f":retry:{uuid.uuid4().hex[:8]}")
    return True


async def resume_stalled(pool: asyncpg.Pool, arq: ArqRedis) -> int:
    """Enqueue the imports whose job never reached Redis or was lost there; how many."""
    async with pool.acquire() as conn:
        stalled = await queries.claim_stalled_imports(conn, STALLED_AFTER_SECONDS)
    for import_id, position in stalled:
        await enqueue_step(arq, import_id, position, f":sweep:{int(time.time())}")
    return len(stalled)


async def get_import(pool: asyncpg.Pool, import_id: uuid.UUID) -> OpenDataImport | None:
    async with pool.acquire() as conn:
        return await queries.fetch_import(conn, import_id)


async def recent_imports(pool: asyncpg.Pool, limit: int = 20) -> list[OpenDataImport]:
    async with pool.acquire() as conn:
        return await queries.recent_imports(conn, limit)


async def import_report(pool: asyncpg.Pool, import_id: uuid.UUID) -> ImportReport | None:
    """The importer's report as far as the import got (None before its first batch)."""
    async with pool.acquire() as conn:
        text = await queries.fetch_import_report(conn, import_id)
    return None if text is None else ImportReport.from_json(text)
