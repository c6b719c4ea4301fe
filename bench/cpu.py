"""CPU time spent per request by each process of a run, read from ``/proc`` (Linux).

On a box with two shared cores a throughput ratio is a ratio of CPU per request: these figures
say which process is the wall, and what a change bought, independent of what else is running."""

from __future__ import annotations

import asyncio
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

__all__ = ("CpuMeter", "group_pids", "postgres_pids", "redis_pid", "rss_report")

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, int, float] | None:
    """(ppid, process group, CPU seconds) of one process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[2]), (int(fields[11]) + int(fields[12])) / _TICK


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def group_pids(pgid: int) -> Callable[[], list[int]]:
    """Every live process of a process group (a server started with start_new_session)."""
    return lambda: [p for p in _all_pids() if (st := _stat(p)) and st[1] == pgid]


async def postgres_pids(url: str) -> Callable[[], list[int]]:
    """The postmaster and its children (backends, walwriter, checkpointer...), listed anew at
    each call (backends come and go)."""
    conn = await asyncpg.connect(url)
    try:
        data_dir = await conn.fetchval("SHOW data_directory")
    finally:
        await conn.close()
    pid_file = Path(data_dir, "postmaster.pid")
    postmaster = int((await asyncio.to_thread(pid_file.read_text)).split()[0])
    return lambda: (
        [postmaster] + [p for p in _all_pids() if (st := _stat(p)) and st[0] == postmaster]
    )


async def redis_pid(url: str) -> Callable[[], list[int]] | None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        info = await client.info("server")
    finally:
        await client.aclose()
    pid = info.get("process_id")
    return (lambda: [int(pid)]) if pid is not None else None


@dataclass
class CpuMeter:
    """CPU seconds of named process sets between start() and stop(); children = load generator."""

    groups: dict[str, Callable[[], list[int]]]
    _before: dict[str, dict[int, float]] | None = None
    _children_before: float = 0.0
    used: dict[str, float] | None = None

    def _sample(self) -> dict[str, dict[int, float]]:
        return {
            name: {pid: st[2] for pid in pids() if (st := _stat(pid)) is not None}
            for name, pids in self.groups.items()
        }

    @staticmethod
    def _children() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    def start(self) -> None:
        self._before = self._sample()
        self._children_before = self._children()

    def stop(self) -> None:
        assert self._before is not None
        after = self._sample()
        # A process that started during the run counts whole; one that ended is lost (none
        # should: servers and pooled backends live until after stop()).
        self.used = {
            name: sum(cpu - self._before[name].get(pid, 0.0) for pid, cpu in after[name].items())
            for name in after
        }
        self.used["load generator"] = self._children() - self._children_before

    def per_request(self, requests: float) -> str:
        assert self.used is not None
        parts = [f"{name} {1000 * s / requests:.2f}" for name, s in self.used.items()]
        return "CPU ms per request: " + ", ".join(parts)


TARGET_RSS_MB = 150


def rss_report(pids: list[int]) -> str:
    """Resident memory of each serving process (the supervisor of several workers included)."""
    sizes = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        kb = next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
        )
        sizes.append(kb / 1024)
    if not sizes:
        return "RSS: no process"
    worst = max(sizes)
    verdict = "met" if worst <= TARGET_RSS_MB else "MISSED"
    return (
        "RSS after the runs: "
        + ", ".join(f"{mb:.0f} MB" for mb in sorted(sizes, reverse=True))
        + f" (target <= {TARGET_RSS_MB} MB per process: {verdict})"
    )
