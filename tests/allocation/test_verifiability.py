"""Anyone can recompute a draw from its public record with scripts/verify_draw.py."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.allocation import service
from booking.settings import REPO_ROOT, Settings
from tests.allocation.helpers import (
    DRAW_TIME,
    NOW,
    applicants,
    as_principal,
    lottery_room,
    open_round,
    saturday_slots,
)
from tests.factories import Cast

VERIFIER = REPO_ROOT / "scripts" / "verify_draw.py"


def _verify(
    record: dict[str, Any], tmp_path: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return subprocess.run(  # the script alone, with no access to the project's code
        [sys.executable, "-I", str(VERIFIER), str(path), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )


async def _drawn_round(db: asyncpg.Pool, settings: Settings, cast: Cast) -> tuple[str, str]:
    """A real round (4 slots, 12 citizens applying for 1-3 slots each), drawn; answers the round
    id and the commitment as published when the round opened."""
    manager = as_principal(cast.manager_x, (cast.institution_x,))
    room = await lottery_room(db, cast.institution_x)
    round_id = await open_round(db, manager, room, saturday_slots(4))
    opened = await service.get_round(db, None, round_id, NOW)
    assert opened.phase == "open" and opened.seed_commitment is not None
    for i, (_, citizen) in enumerate(await applicants(db, settings, 12)):
        for slot in opened.slots[: 1 + i % 3]:
            await service.apply(db, citizen, round_id, slot.id, NOW)
    assert await service.draw_round(db, round_id, DRAW_TIME) == "drawn"
    return str(round_id), opened.seed_commitment


@pytest.fixture
async def record(
    db: asyncpg.Pool, settings: Settings, cast: Cast, client: AsyncTestClient[Litestar]
) -> tuple[dict[str, Any], str]:
    round_id, commitment = await _drawn_round(db, settings, cast)
    response = await client.get(f"/v1/rounds/{round_id}/result")
    assert response.status_code == 200
    return response.json(), commitment


async def test_the_script_recomputes_a_real_draw_from_its_public_record(
    record: tuple[dict[str, Any], str], tmp_path: Path
) -> None:
    data, commitment = record
    done = _verify(data, tmp_path, "--commitment", commitment)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("VERIFIED")
    assert done.stdout.count(": ok") == 4
    # The record names nobody: no e-mail, name or account id anywhere in it.
    text = json.dumps(data)
    assert "@" not in text and "시민" not in text


async def test_the_commitment_published_at_the_opening_is_the_hash_of_the_revealed_seed(
    record: tuple[dict[str, Any], str],
) -> None:
    data, commitment = record
    assert hashlib.sha256(bytes.fromhex(data["seed"])).hexdigest() == commitment


async def test_a_changed_application_list_is_detected_and_changes_the_result(
    record: tuple[dict[str, Any], str], tmp_path: Path
) -> None:
    data, _ = record
    forged = json.loads(json.dumps(data))
    forged["slots"][0]["applications"].append("f" * 64)
    done = _verify(forged, tmp_path)
    assert done.returncode == 1
    assert "does not hash to the published list hash" in done.stdout
    # Even with the hash recomputed to match, the draw key changes and so does the order.
    from booking.allocation import draw as algorithm

    entries = [(s["position"], p) for s in forged["slots"] for p in s["applications"]]
    seed = bytes.fromhex(data["seed"])
    original = algorithm.draw_key(seed, bytes.fromhex(data["list_hash"]), None)
    changed = algorithm.draw_key(seed, algorithm.list_hash(entries), None)
    names = data["slots"][0]["applications"]
    assert algorithm.shuffle(original, 1, names) == data["slots"][0]["order"]
    assert algorithm.shuffle(changed, 1, names) != algorithm.shuffle(original, 1, names)


async def test_a_changed_seed_is_detected(
    record: tuple[dict[str, Any], str], tmp_path: Path
) -> None:
    data, commitment = record
    forged = dict(data, seed="00" * 32)
    done = _verify(forged, tmp_path, "--commitment", commitment)
    assert done.returncode == 1
    assert "SHA-256(seed) is not the published commitment" in done.stdout
    assert "draw order differs" in done.stdout


async def test_a_changed_winner_is_detected(
    record: tuple[dict[str, Any], str], tmp_path: Path
) -> None:
    data, _ = record
    forged = json.loads(json.dumps(data))
    slot = forged["slots"][0]
    slot["order"] = list(reversed(slot["order"]))
    assert _verify(forged, tmp_path).returncode == 1


async def test_nobody_can_change_the_seed_of_a_published_round(
    db: asyncpg.Pool, settings: Settings, cast: Cast
) -> None:
    """Not even with SQL as the database owner: the guard trigger refuses it."""
    manager = as_principal(cast.manager_x, (cast.institution_x,))
    room = await lottery_room(db, cast.institution_x)
    round_id = await open_round(db, manager, room, saturday_slots(1))
    for statement in (
        "UPDATE allocation_rounds SET seed = $2, seed_commitment = sha256($2) WHERE id = $1",
        "UPDATE allocation_rounds SET pseudonym_salt = $2 WHERE id = $1",
    ):
        with pytest.raises(asyncpg.PostgresError) as refused:
            await db.execute(statement, round_id, b"\x07" * 32)
        assert refused.value.sqlstate == "NBRND"
    with pytest.raises(asyncpg.PostgresError) as refused:
        await db.execute("DELETE FROM allocation_rounds WHERE id = $1", round_id)
    assert refused.value.sqlstate == "NBRND"
    with pytest.raises(asyncpg.PostgresError) as refused:
        await db.execute("DELETE FROM allocation_slots WHERE round_id = $1", round_id)
    assert refused.value.sqlstate == "NBRND"
