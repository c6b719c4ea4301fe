"""The draw algorithm ``nanum-draw-v1``: pure, deterministic, standard library only.

Published data: the seed (32 bytes, committed to by ``SHA-256(seed)`` when the round was
published), the frozen application list (slot position, pseudonym), its SHA-256, the optional
public value, and the entries not eligible at the draw. ``scripts/verify_draw.py`` is an
independent implementation of the same steps for anyone to run.

1. ``list_hash = SHA-256(lines)``, one line ``"<position> <pseudonym>\\n"`` per application,
   sorted by (position as a number, pseudonym).
2. ``key = SHA-256(b"nanum-draw-v1\\n" + seed + list_hash + public_value as UTF-8)``.
3. Per slot, a counter-mode stream: block k = ``SHA-256(key + position (4 bytes, big endian)
   + k (8 bytes, big endian))``, read as four 64-bit big-endian integers in turn.
4. ``below(n)``: draw integers until one is < 2^64 - (2^64 mod n), answer it mod n (rejection
   sampling, so every value is equally likely).
5. The slot's pseudonyms, sorted, are shuffled by Fisher–Yates: for i = n-1 down to 1,
   swap items i and below(i + 1). The result is the slot's draw order.
6. Slots in position order (earliest start first): the winner is the first pseudonym in draw
   order that has not won an earlier slot and is not ineligible for this slot.
7. Every other entry is ``won_elsewhere`` (its citizen won another slot of the round),
   ``ineligible``, or ``waitlisted`` (in draw order).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = (
    "ALGORITHM",
    "SlotResult",
    "draw",
    "draw_key",
    "list_hash",
    "shuffle",
)

ALGORITHM = "nanum-draw-v1"
_TWO_64 = 1 << 64


def list_hash(entries: Iterable[tuple[int, str]]) -> bytes:
    """SHA-256 of the canonical application list."""
    lines = "".join(f"{position} {pseudonym}\n" for position, pseudonym in sorted(entries))
    return hashlib.sha256(lines.encode()).digest()


def draw_key(seed: bytes, frozen_list_hash: bytes, public_value: str | None) -> bytes:
    material = ALGORITHM.encode() + b"\n" + seed + frozen_list_hash
    return hashlib.sha256(material + (public_value or "").encode()).digest()


def _stream(key: bytes, position: int) -> Iterator[int]:
    counter = 0
    while True:
        block = hashlib.sha256(
            key + position.to_bytes(4, "big") + counter.to_bytes(8, "big")
        ).digest()
        for i in range(0, 32, 8):
            yield int.from_bytes(block[i : i + 8], "big")
        counter += 1


def _below(stream: Iterator[int], n: int) -> int:
    limit = _TWO_64 - (_TWO_64 % n)
    while True:
        value = next(stream)
        if value < limit:
            return value % n


def shuffle(key: bytes, position: int, pseudonyms: Iterable[str]) -> list[str]:
    """The draw order of one slot: its sorted pseudonyms shuffled by Fisher–Yates."""
    order = sorted(pseudonyms)
    stream = _stream(key, position)
    for i in range(len(order) - 1, 0, -1):
        j = _below(stream, i + 1)
        order[i], order[j] = order[j], order[i]
    return order


@dataclass(frozen=True, slots=True)
class SlotResult:
    position: int
    order: list[str]
    """Every applicant of the slot in draw order."""
    winner: str | None
    outcomes: dict[str, str]
    """pseudonym -> won | won_elsewhere | ineligible | waitlisted."""


def draw(
    key: bytes,
    applications: dict[int, list[str]],
    ineligible: set[tuple[int, str]],
) -> list[SlotResult]:
    """Results of every slot (position -> its applicants' pseudonyms), in position order."""
    orders = {position: shuffle(key, position, names) for position, names in applications.items()}
    won: set[str] = set()
    winners: dict[int, str | None] = {}
    for position in sorted(orders):
        winner = next(
            (p for p in orders[position] if p not in won and (position, p) not in ineligible),
            None,
        )
        winners[position] = winner
        if winner is not None:
            won.add(winner)
    results = []
    for position in sorted(orders):
        outcomes: dict[str, str] = {}
        for p in orders[position]:
            if p == winners[position]:
                outcomes[p] = "won"
            elif p in won:
                outcomes[p] = "won_elsewhere"
            elif (position, p) in ineligible:
                outcomes[p] = "ineligible"
            else:
                outcomes[p] = "waitlisted"
        results.append(SlotResult(position, orders[position], winners[position], outcomes))
    return results
