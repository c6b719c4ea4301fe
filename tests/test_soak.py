"""The one-minute soak with faults (``make soak`` runs ten minutes): see tests/soak.py."""

from __future__ import annotations

import pytest

from tests.soak import run_soak


@pytest.mark.slow
async def test_soak_60_seconds_with_postgres_redis_and_worker_faults() -> None:
    report = await run_soak(seconds=60, rate=10)
    print("\n" + "\n".join(report.lines()))
    assert report.failures() == []
