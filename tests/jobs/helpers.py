"""Bookings as the engine writes them (booking + history + outbox row in one transaction),
an SMTP server, a holding SMTP handler, a private Redis and an in-process worker for the jobs
tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import asyncpg
from arq.connections import RedisSettings
from arq.worker import Worker

from booking.catalogue.importer import ImportReport, decode_csv, import_rows
from booking.notifications.smtp_sink import ReceivedMail, RecordingHandler
from booking.settings import Settings
from workers.settings import WorkerSettings
from workers.worker import create_resilient_worker

__all__ = (
    "UPLOAD_FIXTURE",
    "HoldingHandler",
    "direct_report",
    "free_port",
    "insert_booking",
    "insert_bookings",
    "poll_until",
    "running_worker",
)


UPLOAD_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "open-data-upload.csv"
"""Rows of the national open-data file for the upload tests (see tests/fixtures/README.md)."""


class _Rollback(Exception):
    pass


async def direct_report(db: asyncpg.Pool, raw: bytes, region: str | None = None) -> ImportReport:
    """What the importer reports for ``raw`` imported directly now (rolled back afterwards)."""
    report = ImportReport()
    async with db.acquire() as conn:
        try:
            async with conn.transaction():
                report = await import_rows(conn, decode_csv(raw), region=region)
                raise _Rollback
        except _Rollback:
            pass
    return report


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def insert_booking(
    db: asyncpg.Pool,
    citizen_id: uuid.UUID,
    room_id: uuid.UUID,
    start: datetime,
    end: datetime,
    *,
    status: str = "confirmed",
    topic: str = "booking.created",
) -> uuid.UUID:
    async with db.acquire() as conn, conn.transaction():
        booking_id: uuid.UUID = await conn.fetchval(
            """
            INSERT INTO bookings (room_id, citizen_id, during, status, attendees)
            VALUES ($1, $2, tstzrange($3, $4, '[)'), $5, 4) RETURNING id
            """,
            room_id,
            citizen_id,
            start,
            end,
            status,
        )
        await conn.execute(
            """
            INSERT INTO booking_history (booking_id, actor_id, from_status, to_status, during)
            SELECT id, citizen_id, NULL, status, during FROM bookings WHERE id = $1
            """,
            booking_id,
        )
        await conn.execute(
            "INSERT INTO outbox (topic, booking_id) VALUES ($1, $2)", topic, booking_id
        )
    return booking_id


async def insert_bookings(
    db: asyncpg.Pool,
    citizen_id: uuid.UUID,
    room_id: uuid.UUID,
    first_start: datetime,
    count: int,
    slot: Any,
) -> list[uuid.UUID]:
    """``count`` back-to-back bookings, each its own transaction, like ``count`` requests."""
    return [
        await insert_booking(
            db, citizen_id, room_id, first_start + i * slot, first_start + (i + 1) * slot
        )
        for i in range(count)
    ]


async def poll_until(
    condition: Callable[[], Any], *, within: float, interval: float = 0.05, what: str = ""
) -> None:
    """Wait for ``condition()`` (sync or async) to be truthy, failing after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what or condition}")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running_worker(
    settings: Settings,
    *,
    max_tries: int = 5,
    backoff: float = 0.05,
    relay: bool = True,
    budget: float | None = None,
    redispatch_after: float | None = None,
) -> AsyncIterator[Worker]:
    """The real worker (``ResilientWorker`` with WorkerSettings) in this event loop (relay loop
    included), stopped when idle."""
    worker = create_resilient_worker(
        cast(Any, WorkerSettings),
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        handle_signals=False,
        max_tries=max_tries,
        # With a budget, arq's own timeout sits just above it, as in production.
        **({"job_timeout": budget + 1} if budget is not None else {}),
        ctx={
            "settings": settings,
            "max_tries": max_tries,
            "retry_backoff_seconds": backoff,
            "relay": relay,
            **({"budget_seconds": budget} if budget is not None else {}),
            **(
                {"redispatch_after_seconds": redispatch_after}
                if redispatch_after is not None
                else {}
            ),
        },
    )
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        await poll_until(
            lambda: all(t.done() for t in worker.tasks.values()), within=10, what="idle worker"
        )
        with contextlib.suppress(asyncio.CancelledError), warnings.catch_warnings():
            # arq 0.28 closes its pool with redis' deprecated close(); not ours to fix.
            warnings.filterwarnings("ignore", "Call to deprecated close", DeprecationWarning)
            await worker.close()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class _Gate:
    """Opened from any thread, awaited in aiosmtpd's event loop (which runs every session, so
    a waiting session must not block it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def wait(self) -> None:
        event = asyncio.Event()
        with self._lock:
            if self._open:
                return
            self._waiters.append((asyncio.get_running_loop(), event))
        await event.wait()

    def open(self) -> None:
        with self._lock:
            self._open = True
            waiters, self._waiters = self._waiters, []
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # the server's loop is already closed
                loop.call_soon_threadsafe(event.set)


class HoldingHandler:
    """An SMTP handler that records what it accepts (like ``RecordingHandler``) and can *hold*
    sessions at two points, to freeze a client at a chosen step of its exchange:

    - :meth:`hold_quits`: a client whose message was accepted waits for its ``QUIT`` answer.
    - :meth:`hold_data`: every new ``DATA`` waits, unrecorded and unanswered (the client waits
      for the verdict on its message); on :meth:`release` it is answered
      ``451 4.3.0 try again``, still unrecorded.

    :meth:`release` ends both holds. The hold check and the recording happen under one lock:
    once :meth:`hold_data` returned, nothing more is recorded until :meth:`accept` — after
    :meth:`release`, a DATA the server reads late (sent by a client killed meanwhile, still in
    the server's buffer on a loaded machine) is answered 451 unrecorded, like a held one. A held
    session whose client disconnects (a killed worker) is cancelled by aiosmtpd, unrecorded.
    """

    ACCEPTED = "250 Message accepted for delivery"
    TRY_AGAIN = "451 4.3.0 try again"
    BYE = "221 Bye"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[ReceivedMail] = []
        self._accepted_by_peer: dict[object, ReceivedMail] = {}
        self._data_gate: _Gate | None = None
        self._quit_gate: _Gate | None = None
        self._held_data: list[ReceivedMail] = []
        self._held_quits: list[ReceivedMail] = []
        self._refusing = False
        self._waiting = {"DATA": 0, "QUIT": 0}
        self.answered_try_again = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        mail = ReceivedMail(raw, tuple(envelope.rcpt_tos), time.time())
        with self._lock:
            gate = self._data_gate
            if gate is None and self._refusing:
                self.answered_try_again += 1
                return self.TRY_AGAIN
            if gate is None:
                self._received.append(mail)
                self._accepted_by_peer[session.peer] = mail
                return self.ACCEPTED
            self._accepted_by_peer.pop(session.peer, None)
            self._held_data.append(mail)
        await self._wait("DATA", gate)
        with self._lock:
            self.answered_try_again += 1
        return self.TRY_AGAIN

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        with self._lock:
            mail = self._accepted_by_peer.pop(session.peer, None)
            gate = self._quit_gate
            if gate is None or mail is None:
                return self.BYE
            self._held_quits.append(mail)
        await self._wait("QUIT", gate)
        return self.BYE

    async def _wait(self, command: str, gate: _Gate) -> None:
        with self._lock:
            self._waiting[command] += 1
        try:
            await gate.wait()
        finally:
            with self._lock:
                self._waiting[command] -= 1

    def hold_quits(self) -> None:
        with self._lock:
            self._quit_gate = self._quit_gate or _Gate()

    def hold_data(self) -> None:
        with self._lock:
            self._data_gate = self._data_gate or _Gate()

    def release(self) -> None:
        """Let every held session go on and end both holds; DATA keeps being refused (451,
        unrecorded) until :meth:`accept` if it was held."""
        with self._lock:
            self._refusing = self._refusing or self._data_gate is not None
            for gate in (self._data_gate, self._quit_gate):
                if gate is not None:
                    gate.open()
            self._data_gate = self._quit_gate = None

    def accept(self) -> None:
        """Record and accept messages again (after :meth:`release`)."""
        with self._lock:
            self._refusing = False

    def waiting(self, command: str) -> int:
        """How many sessions are held at ``command`` (``DATA`` or ``QUIT``) right now."""
        with self._lock:
            return self._waiting[command]

    def held_data(self) -> list[ReceivedMail]:
        """Every message whose DATA was held (none of them recorded)."""
        with self._lock:
            return list(self._held_data)

    def held_quits(self) -> list[ReceivedMail]:
        """Every accepted (recorded) message whose session was held at QUIT."""
        with self._lock:
            return list(self._held_quits)

    def snapshot(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._received)


class StallingHandler(RecordingHandler):
    """Stalls the next ``stall_next`` messages for ``stall_seconds`` in DATA, then refuses them
    (451) without keeping them, like a server too slow for the client to wait for."""

    def __init__(self, stall_next: int, stall_seconds: float) -> None:
        super().__init__()
        self.stall_next = stall_next
        self.stall_seconds = stall_seconds
        self.stalled = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        if self.stall_next > 0:
            self.stall_next -= 1
            self.stalled += 1
            await asyncio.sleep(self.stall_seconds)
            return "451 4.3.0 too slow, try again"
        return await super().handle_DATA(server, session, envelope)
