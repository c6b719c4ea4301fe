"""Soak with faults: mixed load at a fixed rate against a real API process and worker process,
while the harness restarts Postgres, restarts Redis and SIGKILLs the worker, once each.

``make soak`` runs it for ten minutes (``python -m tests.soak --seconds 600``); ``make test``
runs a 60-second version (``tests/test_soak.py``, marked ``slow``). Everything is private to the
run: a PostgreSQL cluster (tests/postgres_server.py), a redis-server, an SMTP server, the API
(uvicorn) and the worker (``python -m workers``) as child processes.

Afterwards it checks, and prints:

- zero overlapping slot-holding bookings (audit query);
- every booking the clients saw created (201) is in the database in the last state the clients
  saw (bookings whose last request ended without an answer are counted and left out);
- every booking that ended confirmed got exactly one confirmation at the SMTP server;
- ``/readyz`` answered 503 during each Postgres and Redis outage and 200 again afterwards,
  with the same API process (never restarted);
- errors (5xx, no answer) only inside outage windows; how many 503s and 500s, and the longest
  recovery (outage end → first 2xx data answer);
- the API's RSS at the start and the end.

``OUTAGE_STATUS_ONLY_503`` holds answers inside outage windows to 503 (never 500): the API
answers a database or Redis outage with 503 and Retry-After (``booking.errors.is_outage``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import asyncpg
import httpx
from aiosmtpd.controller import Controller

from booking.notifications.smtp_sink import RecordingHandler
from booking.settings import REPO_ROOT
from tests.conftest import make_settings
from tests.factories import User, create_institution, create_room, create_user
from tests.postgres_server import PrivatePostgres
from tests.redis_server import PrivateRedis

__all__ = ("OUTAGE_STATUS_ONLY_503", "SoakReport", "run_soak")

OUTAGE_STATUS_ONLY_503 = True
"""Answers inside outage windows must be 503 (an outage is not a bug in the request)."""
OUTAGE_SECONDS = 3.0
GRACE_SECONDS = 3.0
"""An outage window runs from the fault until the service is back plus this grace."""
RSS_GROWTH_LIMIT = 1.5
CITIZENS = 12
ROOMS = 4
PASSWORD = "correct horse battery"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Answer:
    op: str
    started: float
    ended: float
    status: int
    """0: no answer (connection refused, reset, timeout)."""


@dataclass
class Seen:
    """What the clients last saw of one booking."""

    citizen: int
    status: str
    start: str
    end: str
    uncertain: bool = False
    """A later request on it got no clear answer: the database may hold either state."""


@dataclass
class Outage:
    kind: str
    began: float
    service_back: float = 0.0
    ready_back: float = 0.0
    first_ok: float = 0.0

    def window(self) -> tuple[float, float]:
        return self.began, max(self.ready_back, self.service_back) + GRACE_SECONDS


@dataclass
class SoakReport:
    seconds: float
    requests: int = 0
    by_op: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    errors_in_windows: Counter[int] = field(default_factory=Counter)
    errors_outside: list[tuple[str, float, int]] = field(default_factory=list)
    overlaps: int = -1
    bookings_seen: int = 0
    uncertain: int = 0
    state_mismatches: list[str] = field(default_factory=list)
    confirmed: int = 0
    confirmation_problems: list[str] = field(default_factory=list)
    readyz_503_in: dict[str, bool] = field(default_factory=dict)
    readyz_back: dict[str, bool] = field(default_factory=dict)
    recoveries: dict[str, float] = field(default_factory=dict)
    api_restarted: bool = False
    rss_start_kib: int = 0
    rss_end_kib: int = 0

    def lines(self) -> list[str]:
        longest = max(self.recoveries.values(), default=0.0)
        return [
            f"soak: {self.seconds:.0f} s, {self.requests} requests; by op {dict(self.by_op)}",
            f"  statuses: {dict(sorted(self.by_status.items()))}",
            f"  errors inside outage windows: {self.errors_in_windows.get(503, 0)} x 503, "
            f"{self.errors_in_windows.get(500, 0)} x 500, "
            f"{self.errors_in_windows.get(0, 0)} without an answer, "
            f"other {sum(v for k, v in self.errors_in_windows.items() if k not in (0, 500, 503))}",
            f"  errors outside outage windows: {len(self.errors_outside)}",
            f"  recovery (outage end -> first 2xx data answer): "
            f"{ {k: round(v, 2) for k, v in self.recoveries.items()} }; longest {longest:.2f} s",
            f"  /readyz 503 during: {self.readyz_503_in}; 200 after: {self.readyz_back}; "
            f"API restarted: {self.api_restarted}",
            f"  overlapping bookings: {self.overlaps}",
            f"  bookings seen created: {self.bookings_seen}, last state unknown (no answer): "
            f"{self.uncertain}, mismatches: {len(self.state_mismatches)}",
            f"  ended confirmed: {self.confirmed}, confirmation problems: "
            f"{len(self.confirmation_problems)}",
            f"  API RSS: start {self.rss_start_kib / 1024:.1f} MiB, end "
            f"{self.rss_end_kib / 1024:.1f} MiB",
        ]

    def failures(self) -> list[str]:
        """What this branch guarantees; empty when the soak passed."""
        out: list[str] = []
        if self.overlaps != 0:
            out.append(f"{self.overlaps} overlapping bookings")
        out += [f"state: {m}" for m in self.state_mismatches[:10]]
        out += [f"confirmation: {m}" for m in self.confirmation_problems[:10]]
        for kind, seen in self.readyz_503_in.items():
            if not seen:
                out.append(f"/readyz never answered 503 during the {kind} outage")
        for kind, back in self.readyz_back.items():
            if not back:
                out.append(f"/readyz did not answer 200 again after the {kind} outage")
        if self.api_restarted:
            out.append("the API process was restarted")
        out += [f"error outside an outage: {e}" for e in self.errors_outside[:10]]
        if OUTAGE_STATUS_ONLY_503:
            bad = {k: v for k, v in self.errors_in_windows.items() if k != 503}
            if bad:
                out.append(f"answers other than 503 inside outage windows: {bad}")
        if self.rss_end_kib > self.rss_start_kib * RSS_GROWTH_LIMIT:
            out.append(f"API RSS grew from {self.rss_start_kib} to {self.rss_end_kib} KiB")
        return out


class Stack:
    """Postgres, Redis, SMTP, API and worker of one soak run."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.pg = PrivatePostgres()
        self.redis = PrivateRedis()
        self.smtp = RecordingHandler()
        self.smtp_port = _free_port()
        self.smtp_controller = Controller(self.smtp, hostname="127.0.0.1", port=self.smtp_port)
        self.api_port = _free_port()
        self.secret = secrets.token_urlsafe(48)
        self.api: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self._files: list[BinaryIO] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "BOOKING_ENV": "test",
            "BOOKING_DATABASE_URL": self.pg.url,
            "BOOKING_REDIS_URL": self.redis.url,
            "BOOKING_SMTP_PORT": str(self.smtp_port),
            "BOOKING_SECRET_KEY": self.secret,
            "BOOKING_LOG_LEVEL": "WARNING",
            "BOOKING_ACCESS_LOG": "false",
            "BOOKING_WRITE_RATE_LIMIT_PER_MINUTE": "1000000",
        }

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        self._files.append(log)
        return subprocess.Popen(
            list(args),
            env=self.env(),
            cwd=REPO_ROOT,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    async def up(self) -> None:
        await self.pg.init()
        await self.redis.start()
        self.smtp_controller.start()
        self.api = self._spawn(
            "api",
            sys.executable,
            "-m",
            "uvicorn",
            "booking.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.api_port),
            "--no-access-log",
        )
        self.start_worker()
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        return
                if time.monotonic() > deadline or (self.api and self.api.poll() is not None):
                    raise RuntimeError(f"the API did not start; see {self.logs / 'api.log'}")
                await asyncio.sleep(0.2)

    def start_worker(self) -> None:
        self.worker = self._spawn("worker", sys.executable, "-m", "workers")

    def kill_worker(self) -> None:
        assert self.worker is not None
        self.worker.kill()
        self.worker.wait(10)

    async def down(self) -> None:
        for proc in (self.worker, self.api):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.to_thread(proc.wait, 20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        with contextlib.suppress(Exception):
            self.smtp_controller.stop()
        await self.redis.stop()
        await self.pg.remove()
        for f in self._files:
            f.close()


@dataclass
class World:
    citizens: list[User]
    rooms: list[uuid.UUID]
    seen: dict[str, Seen] = field(default_factory=dict)


async def _seed(stack: Stack) -> World:
    settings = make_settings(stack.pg.url, stack.redis.url, secret_key=stack.secret)
    pool = await asyncpg.create_pool(stack.pg.url, min_size=1, max_size=2)
    assert pool is not None
    try:
        institution = await create_institution(pool, name="소크 구청", district="마포구")
        rooms = [
            await create_room(
                pool,
                institution,
                name=f"소크 {i}",
                max_active_per_citizen=10_000,
                horizon_days=120,
                max_minutes=240,
            )
            for i in range(ROOMS)
        ]
        citizens = [
            await create_user(
                pool, settings, name=f"시민 {i}", email=f"soak{i}@example.org", password=PASSWORD
            )
            for i in range(CITIZENS)
        ]
    finally:
        await pool.close()
    return World(citizens, rooms)


class Load:
    """Requests at a fixed rate, each operation picked at random, answers recorded."""

    OPS = (
        ("search", 18),
        ("availability", 18),
        ("book", 25),
        ("reschedule", 10),
        ("cancel", 8),
        ("feed", 14),
        ("signin", 2),
        ("mine", 5),
    )

    def __init__(self, stack: Stack, world: World, rate: float, seed: int) -> None:
        self.stack = stack
        self.world = world
        self.rate = rate
        self.rng = random.Random(seed)
        self.answers: list[Answer] = []
        self.t0 = time.monotonic()
        self.base = (datetime.now(UTC) + timedelta(days=2)).replace(
            minute=0, second=0, microsecond=0
        )
        self.tasks: set[asyncio.Task[None]] = set()

    def _slot(self) -> tuple[str, str]:
        start = self.base + timedelta(hours=self.rng.randrange(0, 24 * 90))
        return start.isoformat(), (start + timedelta(hours=1)).isoformat()

    def _auth(self, i: int) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.world.citizens[i].token}"}

    def _mine(self, i: int, statuses: tuple[str, ...]) -> str | None:
        ids = [
            b
            for b, s in self.world.seen.items()
            if s.citizen == i and s.status in statuses and not s.uncertain
        ]
        return self.rng.choice(ids) if ids else None

    async def _one(self, client: httpx.AsyncClient, op: str) -> None:
        i = self.rng.randrange(CITIZENS)
        room = self.rng.choice(self.world.rooms)
        started = time.monotonic()
        status = 0
        target: str | None = None
        try:
            if op == "search":
                r = await client.get("/v1/rooms", params={"district": "마포구", "min_capacity": 2})
            elif op == "availability":
                start, _ = self._slot()
                end = (datetime.fromisoformat(start) + timedelta(days=2)).isoformat()
                r = await client.get(
                    f"/v1/rooms/{room}/availability", params={"from": start, "to": end}
                )
            elif op == "feed":
                r = await client.get(f"/v1/rooms/{room}/calendar.ics")
            elif op == "signin":
                r = await client.post(
                    "/v1/auth/login",
                    json={"email": self.world.citizens[i].email, "password": PASSWORD},
                )
            elif op == "mine":
                r = await client.get("/v1/me/bookings", headers=self._auth(i))
            elif op == "book":
                start, end = self._slot()
                body = {
                    "room_id": str(room),
                    "start": start,
                    "end": end,
                    "purpose": "소크",
                    "attendees": 2,
                }
                r = await client.post("/v1/bookings", json=body, headers=self._auth(i))
                if r.status_code == 201:
                    b = r.json()
                    self.world.seen[b["id"]] = Seen(i, b["status"], b["start"], b["end"])
            elif op == "reschedule":
                target = self._mine(i, ("confirmed", "pending"))
                if target is None:
                    return
                start, end = self._slot()
                r = await client.patch(
                    f"/v1/bookings/{target}",
                    json={"start": start, "end": end},
                    headers=self._auth(i),
                )
                if r.status_code == 200:
                    b = r.json()
                    self.world.seen[target] = Seen(i, b["status"], b["start"], b["end"])
            else:  # cancel
                target = self._mine(i, ("confirmed", "pending"))
                if target is None:
                    return
                r = await client.post(
                    f"/v1/bookings/{target}/cancel", json={}, headers=self._auth(i)
                )
                if r.status_code == 200:
                    b = r.json()
                    self.world.seen[target] = Seen(i, b["status"], b["start"], b["end"])
            status = r.status_code
        except httpx.HTTPError:
            status = 0
        if target is not None and (status == 0 or status >= 500):
            self.world.seen[target].uncertain = True
        self.answers.append(Answer(op, started, time.monotonic(), status))

    async def run(self, seconds: float) -> None:
        ops = [op for op, weight in self.OPS for _ in range(weight)]
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        async with httpx.AsyncClient(base_url=self.stack.url, timeout=10, limits=limits) as client:
            n = 0
            while (elapsed := time.monotonic() - self.t0) < seconds:
                due = n / self.rate
                if due > elapsed:
                    await asyncio.sleep(due - elapsed)
                task = asyncio.create_task(self._one(client, self.rng.choice(ops)))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
                n += 1
            if self.tasks:
                await asyncio.gather(*self.tasks)


async def _poll_readyz(stack: Stack, samples: list[tuple[float, int]], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=3) as client:
        while not stop.is_set():
            status = 0
            with contextlib.suppress(httpx.HTTPError):
                status = (await client.get("/readyz")).status_code
            samples.append((time.monotonic(), status))
            await asyncio.sleep(0.25)


async def _faults(stack: Stack, seconds: float, outages: list[Outage]) -> None:
    """Postgres restart at 20 %, Redis restart at 45 %, worker SIGKILL at 70 % of the run."""
    t0 = time.monotonic()

    async def at(fraction: float) -> None:
        await asyncio.sleep(max(0.0, t0 + seconds * fraction - time.monotonic()))

    await at(0.20)
    o = Outage("postgres", time.monotonic())
    outages.append(o)
    await stack.pg.stop("fast")
    await asyncio.sleep(OUTAGE_SECONDS)
    await stack.pg.start()
    o.service_back = time.monotonic()

    await at(0.45)
    o = Outage("redis", time.monotonic())
    outages.append(o)
    await stack.redis.stop()
    await asyncio.sleep(OUTAGE_SECONDS)
    await stack.redis.start()
    o.service_back = time.monotonic()

    await at(0.70)
    o = Outage("worker", time.monotonic())
    outages.append(o)
    await asyncio.to_thread(stack.kill_worker)
    await asyncio.sleep(1.0)
    stack.start_worker()
    o.service_back = time.monotonic()


async def _drain(stack: Stack, within: float) -> None:
    """Wait until every outbox row is processed (the killed worker's jobs come back once arq's
    in-progress marker expires, about 20 s)."""
    pool = await asyncpg.create_pool(stack.pg.url, min_size=1, max_size=1)
    assert pool is not None
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            left = await pool.fetchval("SELECT count(*) FROM outbox WHERE processed_at IS NULL")
            if left == 0:
                return
            await asyncio.sleep(1)
    finally:
        await pool.close()


async def _audit(stack: Stack, world: World, report: SoakReport) -> None:
    conn = await asyncpg.connect(stack.pg.url)
    try:
        report.overlaps = await conn.fetchval(
            """
            SELECT count(*) FROM bookings a JOIN bookings b
              ON a.room_id = b.room_id AND a.id < b.id AND a.during && b.during
            WHERE a.holds_slot AND b.holds_slot
            """
        )
        rows = await conn.fetch(
            "SELECT id::text, status, lower(during) AS s, upper(during) AS e FROM bookings"
        )
    finally:
        await conn.close()
    db = {r["id"]: r for r in rows}
    report.bookings_seen = len(world.seen)
    for booking_id, seen in world.seen.items():
        if seen.uncertain:
            report.uncertain += 1
            continue
        row = db.get(booking_id)
        if row is None:
            report.state_mismatches.append(f"{booking_id} answered 201 but is not stored")
            continue
        same = (
            row["status"] == seen.status
            and row["s"] == datetime.fromisoformat(seen.start)
            and row["e"] == datetime.fromisoformat(seen.end)
        )
        if not same:
            report.state_mismatches.append(
                f"{booking_id}: clients saw {seen.status} {seen.start}, stored {row['status']} "
                f"{row['s'].isoformat()}"
            )
    confirmations: Counter[str] = Counter()
    for mail in stack.smtp.snapshot():
        key = str(mail.message["X-Nanum-Delivery-Key"]).strip()
        if ":confirmation:" in key:
            confirmations[str(mail.message["X-Nanum-Booking-Id"]).strip()] += 1
    confirmed = [r["id"] for r in rows if r["status"] == "confirmed"]
    report.confirmed = len(confirmed)
    for booking_id in confirmed:
        if confirmations[booking_id] != 1:
            report.confirmation_problems.append(
                f"{booking_id} ended confirmed with {confirmations[booking_id]} confirmations"
            )


def _judge(
    report: SoakReport,
    answers: list[Answer],
    outages: list[Outage],
    readyz: list[tuple[float, int]],
) -> None:
    for o in outages:
        if o.kind == "worker":
            o.ready_back = o.service_back
            continue
        after = [t for t, s in readyz if t >= o.service_back and s == 200]
        o.ready_back = after[0] if after else float("inf")
        report.readyz_503_in[o.kind] = any(
            s == 503 for t, s in readyz if o.began <= t <= (after[0] if after else t)
        )
        report.readyz_back[o.kind] = bool(after)
        oks = [a.ended for a in answers if a.started >= o.service_back and 200 <= a.status < 300]
        report.recoveries[o.kind] = (min(oks) - o.service_back) if oks else float("inf")
    windows = [o.window() for o in outages if o.kind != "worker"]
    report.requests = len(answers)
    for a in answers:
        report.by_op[a.op] += 1
        report.by_status[a.status] += 1
        if a.status != 0 and a.status < 500:
            continue
        if any(lo <= a.ended and a.started <= hi for lo, hi in windows):
            report.errors_in_windows[a.status] += 1
        else:
            report.errors_outside.append((a.op, round(a.started, 2), a.status))


async def run_soak(
    seconds: float, rate: float, seed: int = 15, logs: Path | None = None
) -> SoakReport:
    logs = logs or Path(tempfile.mkdtemp(prefix="nanum-soak-"))
    stack = Stack(logs)
    report = SoakReport(seconds)
    try:
        await stack.up()
        world = await _seed(stack)
        assert stack.api is not None
        api_pid = stack.api.pid
        load = Load(stack, world, rate, seed)
        # Warm up (imports, pools, first requests) before the starting RSS is taken.
        await load.run(min(5.0, seconds / 10))
        report.rss_start_kib = _rss_kib(api_pid)
        load.t0 = time.monotonic()
        outages: list[Outage] = []
        readyz: list[tuple[float, int]] = []
        stop = asyncio.Event()
        poller = asyncio.create_task(_poll_readyz(stack, readyz, stop))
        await asyncio.gather(load.run(seconds), _faults(stack, seconds, outages))
        stop.set()
        await poller
        report.rss_end_kib = _rss_kib(api_pid)
        report.api_restarted = stack.api.poll() is not None or stack.api.pid != api_pid
        await _drain(stack, within=90)
        _judge(report, load.answers, outages, readyz)
        await _audit(stack, world, report)
    finally:
        await stack.down()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--rate", type=float, default=20, help="requests per second")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    report = asyncio.run(run_soak(args.seconds, args.rate, args.seed))
    print("\n".join(report.lines()))
    failures = report.failures()
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
