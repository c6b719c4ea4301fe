#!/usr/bin/env python3
"""Recompute a Nanum lottery draw (algorithm nanum-draw-v1) from its published data.

Standard library only, independent of the Nanum code. Usage:

    python3 scripts/verify_draw.py https://nanum.example/v1/rounds/<round id>/result
    python3 scripts/verify_draw.py result.json          # a saved copy of that answer
    python3 scripts/verify_draw.py result.json --commitment <hex published at the opening>

Checks that SHA-256(seed) is the commitment, that the application list hashes to the list hash
published at the close, and that the draw order, winner and waitlist of every slot follow from
them. Prints one line per slot and exits 0 when everything matches, 1 otherwise.

The algorithm, step by step:
1. list hash = SHA-256 of the lines "<position> <pseudonym>\\n" of every application, sorted by
   (position as a number, pseudonym).
2. key = SHA-256("nanum-draw-v1\\n" + seed bytes + list hash bytes + public value in UTF-8).
3. For slot `position`, block k = SHA-256(key + position as 4 bytes big-endian + k as 8 bytes
   big-endian), k = 0, 1, ...; each block gives four 64-bit big-endian numbers, used in order.
4. A uniform number below n: take numbers until one is < 2^64 - (2^64 mod n); answer it mod n.
5. Sort the slot's pseudonyms, then Fisher-Yates: for i from n-1 down to 1, swap item i with
   item (number below i+1). That is the draw order.
6. Slots in position order: the winner is the first in draw order who has not won an earlier
   slot and is not listed as ineligible for this slot.
7. The waitlist is the draw order without the winner, anyone who won any slot of the round, and
   the ineligible entries.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ALGORITHM = "nanum-draw-v1"


def load(source: str) -> dict[str, Any]:
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=30) as answer:  # noqa: S310 - the user's URL
            loaded: dict[str, Any] = json.load(answer)
            return loaded
    data: dict[str, Any] = json.loads(Path(source).read_text(encoding="utf-8"))
    return data


def numbers(key: bytes, position: int) -> Iterator[int]:
    k = 0
    while True:
        block = hashlib.sha256(key + position.to_bytes(4, "big") + k.to_bytes(8, "big")).digest()
        for i in (0, 8, 16, 24):
            yield int.from_bytes(block[i : i + 8], "big")
        k += 1


def below(source: Iterator[int], n: int) -> int:
    limit = 2**64 - (2**64 % n)
    for value in source:
        if value < limit:
            return value % n
    raise AssertionError("unreachable")


def draw_order(key: bytes, position: int, pseudonyms: list[str]) -> list[str]:
    items = sorted(pseudonyms)
    source = numbers(key, position)
    for i in range(len(items) - 1, 0, -1):
        j = below(source, i + 1)
        items[i], items[j] = items[j], items[i]
    return items


def verify(data: dict[str, Any], commitment: str | None = None) -> list[str]:
    """Every mismatch found, as lines of text (empty: the draw checks out)."""
    problems: list[str] = []
    if data.get("algorithm") != ALGORITHM:
        return [f"unknown algorithm {data.get('algorithm')!r}; this script checks {ALGORITHM}"]
    if not data.get("seed") or not data.get("list_hash"):
        return ["the round has not been drawn yet (no seed or list hash published)"]
    seed = bytes.fromhex(data["seed"])
    if hashlib.sha256(seed).hexdigest() != data["seed_commitment"]:
        problems.append("SHA-256(seed) is not the published commitment")
    if commitment is not None and commitment.lower() != data["seed_commitment"]:
        problems.append("the commitment differs from the one you noted at the opening")
    slots = sorted(data["slots"], key=lambda s: s["position"])
    lines = sorted((s["position"], p) for s in slots for p in s["applications"])
    listed = hashlib.sha256("".join(f"{pos} {p}\n" for pos, p in lines).encode()).hexdigest()
    if listed != data["list_hash"]:
        problems.append("the application list does not hash to the published list hash")
    key = hashlib.sha256(
        ALGORITHM.encode()
        + b"\n"
        + seed
        + bytes.fromhex(data["list_hash"])
        + (data.get("public_value") or "").encode()
    ).digest()
    won: set[str] = set()
    expected: dict[int, tuple[list[str], str | None]] = {}
    for s in slots:
        order = draw_order(key, s["position"], s["applications"])
        ineligible = set(s.get("ineligible", []))
        winner = next((p for p in order if p not in won and p not in ineligible), None)
        if winner is not None:
            won.add(winner)
        expected[s["position"]] = (order, winner)
    for s in slots:
        order, winner = expected[s["position"]]
        ineligible = set(s.get("ineligible", []))
        waitlist = [p for p in order if p not in won and p not in ineligible]
        verdict = "ok"
        if order != s["order"]:
            verdict = "draw order differs"
        elif winner != s["winner"]:
            verdict = f"winner differs (expected {winner})"
        elif waitlist != s["waitlist"]:
            verdict = "waitlist differs"
        line = f"slot {s['position']} {s['start']}: {len(order)} applications, winner {winner}"
        print(f"{line}: {verdict}")
        if verdict != "ok":
            problems.append(f"slot {s['position']}: {verdict}")
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("source", help="URL of /v1/rounds/<id>/result, or a saved JSON file")
    parser.add_argument("--commitment", help="the SHA-256(seed) you noted when the round opened")
    args = parser.parse_args(argv)
    problems = verify(load(args.source), args.commitment)
    for p in problems:
        print(f"MISMATCH: {p}")
    print("VERIFIED" if not problems else "NOT VERIFIED")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
