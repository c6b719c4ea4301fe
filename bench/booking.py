"""``python -m bench booking``: POST /v1/bookings through the whole stack vs a minimal baseline.

Both apps are served the way production would serve them (uvicorn with uvloop and httptools, and
granian with uvloop, no access log, the same worker count) on loopback ports and loaded by ``wrk``
with a Lua script that generates distinct, non-conflicting bookings (many rooms x distinct hourly
slots, tokens of many citizens rotated). Then 1,000 concurrent attempts on one slot must give one
winner. Every run prints the CPU time per request of the API, Postgres, Redis and the load
generator (``bench/cpu.py``), and the API processes' resident memory after the runs.

Options: ``--servers=uvicorn,granian``, ``--workers=1,2`` (workers per app, each run in turn),
``--duration=15`` (seconds per wrk run), ``--connections=64``.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import msgspec

from bench.baseline_app import SCHEMA
from bench.common import bench_database, option, percentiles
from bench.cpu import CpuMeter, group_pids, postgres_pids, redis_pid, rss_report
from booking.accounts.security import issue_token
from booking.settings import REPO_ROOT, load_settings

__all__ = ("run", "seed")

ROOMS = 200
CITIZENS = 500
HOT_ATTEMPTS = 1000
TARGET_RATIO = 0.70
TARGET_P99_MS = 50.0
TARGET_HOT_P99_MS = 250.0

_LUA = r"""
-- Distinct non-conflicting bookings: thread t takes rooms t, t+T, ...; each request the next
-- hourly slot of the next room of its share.
local rooms = {%(rooms)s}
local tokens = {%(tokens)s}
local base = %(base)d
local nthreads = %(threads)d
local path = "%(path)s"
local counter = 0
local tid = 0
ok, other = 0, 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  tid = tonumber(wrk.thread:get("tid")) or 0
end

function request()
  counter = counter + 1
  local share = math.floor(#rooms / nthreads)
  local room = rooms[tid * share + (counter %% share) + 1]
  local slot = math.floor(counter / share)
  local start = base + slot * 3600
  local body = string.format(
    '{"room_id":"%%s","start":"%%s","end":"%%s","attendees":2,"purpose":"bench"}',
    room, os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", start), os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", start + 3600))
  local headers = {["Content-Type"] = "application/json",
                   ["Authorization"] = "Bearer " .. tokens[(counter + tid * 7) %% #tokens + 1]}
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if status == 201 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_other = 0, 0
  for _, t in ipairs(threads) do
    total_ok = total_ok + (t:get("ok") or 0)
    total_other = total_other + (t:get("other") or 0)
  end
  io.write(string.format("STATUS created=%%d other=%%d\n", total_ok, total_other))
  for _, p in ipairs({50, 99}) do
    io.write(string.format("PCT %%d %%.3f\n", p, latency:percentile(p) / 1000))
  end
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def seed(url: str, secret: str) -> tuple[list[uuid.UUID], list[str], uuid.UUID]:
    """Rooms open 24/7 with the per-citizen limit out of the way, citizens and their tokens."""
    settings = load_settings({"BOOKING_ENV": "test", "BOOKING_SECRET_KEY": secret})
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SCHEMA)
        institution = await conn.fetchval(
            "INSERT INTO institutions (name, kind, region, district) "
            "VALUES ('벤치 주민센터', 'community_center', '서울특별시', '마포구') RETURNING id"
        )
        rooms = [
            r["id"]
            for r in await conn.fetch(
                """
                INSERT INTO rooms (institution_id, name, capacity, slot_minutes, min_minutes,
                                   max_minutes, lead_minutes, horizon_days, max_active_per_citizen)
                SELECT $1, '벤치 ' || g, 50, 30, 60, 240, 60, 365, 1000000
                FROM generate_series(1, $2) g RETURNING id
                """,
                institution,
                ROOMS + 1,
            )
        ]
        await conn.execute(
            """
            INSERT INTO availability_rules (room_id, days, start_time, end_time)
            SELECT id, '{1,2,3,4,5,6,7}', '00:00', '24:00' FROM rooms
            """
        )
        users = await conn.fetch(
            """
            INSERT INTO users (email, password_hash, name, email_verified_at)
            SELECT 'bench-' || g || '@example.org', 'not-a-login', '시민 ' || g, now()
            FROM generate_series(1, $1) g RETURNING id
            """,
            max(CITIZENS, HOT_ATTEMPTS),
        )
    finally:
        await conn.close()
    tokens = [issue_token(settings, u["id"], "citizen") for u in users]
    return rooms[:ROOMS], tokens, rooms[ROOMS]


SERVERS = ("uvicorn", "granian")


def server_command(server: str, target: list[str], port: int, workers: int) -> list[str]:
    """The command that serves an ASGI app the way production would with that server."""
    if server == "granian":
        return [
            sys.executable, "-m", "granian", "--interface", "asgi", "--http", "1",
            "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop",
            "--no-access-log", "--log-level", "warning", "--workers", str(workers), *target,
        ]  # fmt: skip
    return [
        sys.executable, "-m", "uvicorn", *target,
        "--host", "127.0.0.1", "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log",
        "--log-level", "warning", "--workers", str(workers),
    ]  # fmt: skip


def _serve(
    target: list[str], env: dict[str, str], workers: int, server: str = "uvicorn"
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    cmd = server_command(server, target, port, workers)
    proc = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{' '.join(target)} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, base
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{' '.join(target)} did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _wrk(
    base_url: str, path: str, rooms: list[uuid.UUID], tokens: list[str], start: datetime,
    duration: int, connections: int, threads: int = 2,
) -> dict[str, float]:  # fmt: skip
    script = _LUA % {
        "rooms": ",".join(f'"{r}"' for r in rooms),
        "tokens": ",".join(f'"{t}"' for t in tokens),
        "base": int(start.timestamp()),
        "threads": threads,
        "path": path,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
             "-s", f.name, base_url],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    finally:
        Path(f.name).unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    created, other = map(int, re.search(r"STATUS created=(\d+) other=(\d+)", out).groups())  # type: ignore[union-attr]
    pct = {int(p): float(v) for p, v in re.findall(r"PCT (\d+) ([\d.]+)", out)}
    return {"rps": rps, "p50": pct[50], "p99": pct[99], "created": created, "other": other}


async def _raw_exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """One HTTP/1.1 request on an open keep-alive connection: (status, body)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _hot_slot(base_url: str, room: uuid.UUID, tokens: list[str], meter: CpuMeter) -> None:
    """1,000 citizens on 1,000 pre-opened connections ask for one slot at the same instant.

    The client speaks HTTP/1.1 over raw asyncio streams with pre-built requests, so what is
    timed is the server, not a client library (httpx alone needs seconds to drive 1,000
    concurrent requests on this box)."""
    start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    body = msgspec.json.encode(
        {
            "room_id": str(room),
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "attendees": 2,
        }
    )
    host, _, port = base_url.removeprefix("http://").partition(":")

    def request(token: str) -> bytes:
        return (
            f"POST /v1/bookings HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    warm = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    connections = []
    for _ in range(HOT_ATTEMPTS):  # opened one by one: TCP set-up is not what is measured
        reader, writer = await asyncio.open_connection(host, int(port))
        await _raw_exchange(reader, writer, warm)
        connections.append((reader, writer))
    gate = asyncio.Event()

    async def attempt(
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], token: str
    ) -> tuple[int, float]:
        payload = request(token)
        await gate.wait()
        t0 = time.perf_counter()
        status, _ = await _raw_exchange(conn[0], conn[1], payload)
        return status, (time.perf_counter() - t0) * 1000

    try:
        tasks = [
            asyncio.create_task(attempt(c, t))
            for c, t in zip(connections, tokens[:HOT_ATTEMPTS], strict=True)
        ]
        await asyncio.sleep(0)
        meter.client_in_process = True
        meter.start()  # the attempts only, not the opening of the connections
        gate.set()
        results = await asyncio.gather(*tasks)
        meter.stop()
    finally:
        for _, writer in connections:
            writer.close()
    codes: dict[int, int] = {}
    for code, _ in results:
        codes[code] = codes.get(code, 0) + 1
    p = percentiles([ms for _, ms in results])
    verdict = "met" if p["p99"] <= TARGET_HOT_P99_MS and codes.get(201) == 1 else "MISSED"
    print(
        f"hot slot: {HOT_ATTEMPTS} concurrent attempts -> statuses {dict(sorted(codes.items()))}; "
        f"p50={p['p50']:.1f} ms p99={p['p99']:.1f} ms "
        f"(target: exactly one 201, p99 <= {TARGET_HOT_P99_MS:g} ms: {verdict})",
        flush=True,
    )


async def run(args: list[str]) -> None:
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk); skipping the booking benchmark")
        return
    worker_counts = [int(w) for w in option(args, "workers", "1,2").split(",")]
    servers = option(args, "servers", ",".join(SERVERS)).split(",")
    duration = int(option(args, "duration", "15"))
    connections = int(option(args, "connections", "64"))
    secret = secrets.token_urlsafe(48)
    redis_url = load_settings({**os.environ, "BOOKING_SECRET_KEY": secret}).redis_url
    print(
        f"POST /v1/bookings, {connections} connections, {duration} s per run; each server "
        f"({', '.join(servers)}; uvloop, no access log) with the same worker count for both apps.\n"
        f"Out of the way on purpose: {ROOMS} bench rooms with max_active_per_citizen=1000000, "
        f"{CITIZENS} citizens' tokens rotated, BOOKING_WRITE_RATE_LIMIT_PER_MINUTE=1000000000.\n"
        "CPU ms per request: CPU time of each process set during the run / requests answered "
        "(the load generator is wrk).",
        flush=True,
    )
    for server in servers:
        for workers in worker_counts:
            await _compare(server, workers, duration, connections, secret, redis_url)


async def _compare(
    server: str, workers: int, duration: int, connections: int, secret: str, redis_url: str
) -> None:
    """Baseline, then the full stack (and its hot slot), on one server and worker count."""
    async with bench_database("booking") as url:
        rooms, tokens, hot_room = await seed(url, secret)
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "BOOKING_ENV": "production",
            "BOOKING_SECRET_KEY": secret,
            "BOOKING_DATABASE_URL": url,
            "BOOKING_ACCESS_LOG": "false",
            "BOOKING_LOG_LEVEL": "WARNING",
            "BOOKING_WRITE_RATE_LIMIT_PER_MINUTE": "1000000000",
            "BENCH_BASELINE_DSN": url,
        }
        # Each app books its own half of the calendar, so neither meets the other's rows.
        first_day = (datetime.now(UTC) + timedelta(days=1)).replace(
            minute=0, second=0, microsecond=0
        )
        results: dict[str, dict[str, float]] = {}
        tag = f"{server} workers={workers}"
        for label, target, path, start in (
            ("baseline", ["bench.baseline_app:app"], "/book", first_day),
            (
                "full stack",
                ["--factory", "booking.app:create_app"],
                "/v1/bookings",
                first_day + timedelta(days=150),
            ),
        ):
            proc, base_url = _serve(target, env, workers, server)
            try:
                meter = CpuMeter(
                    {"API": group_pids(proc.pid), "Postgres": await postgres_pids(url)}
                    | ({"Redis": redis} if (redis := await redis_pid(redis_url)) else {})
                )
                meter.start()
                results[label] = r = _wrk(
                    base_url, path, rooms, tokens[:CITIZENS], start, duration, connections
                )
                meter.stop()
                print(
                    f"{tag} {label}: {r['rps']:.0f} req/s p50={r['p50']:.1f} ms "
                    f"p99={r['p99']:.1f} ms ({r['created']:.0f} created, {r['other']:.0f} other); "
                    f"{meter.per_request(r['created'] + r['other'])}",
                    flush=True,
                )
                if label == "full stack":
                    await _hot_slot(base_url, hot_room, tokens, meter)
                    print(f"hot slot {meter.per_request(HOT_ATTEMPTS)}", flush=True)
                    print(f"{tag} full stack API {rss_report(group_pids(proc.pid)())}", flush=True)
            finally:
                _stop(proc)
        ratio = results["full stack"]["rps"] / results["baseline"]["rps"]
        p99 = results["full stack"]["p99"]
        print(
            f"{tag} ratio full/baseline = {ratio:.0%} "
            f"(target >= {TARGET_RATIO:.0%}: {'met' if ratio >= TARGET_RATIO else 'MISSED'}); "
            f"full-stack p99 {p99:.1f} ms "
            f"(target <= {TARGET_P99_MS:g} ms: {'met' if p99 <= TARGET_P99_MS else 'MISSED'})",
            flush=True,
        )
