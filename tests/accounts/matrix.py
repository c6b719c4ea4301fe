"""The access matrix: for each endpoint, the status every role of the cast must get.

Each feature keeps its rows in ``tests/<feature>/test_access_matrix.py``::

    from tests.accounts.matrix import Case, MatrixContext, assert_matrix, statuses

    CASES = [
        Case("GET", "/v1/rooms/{room_x}", None, statuses(anonymous=200, citizen_a=200, ...)),
        Case("POST", "/v1/bookings/{booking}/cancel", None, {...}, prepare=fresh_booking),
    ]

    async def test_access_matrix(client, cast, db, settings):
        await assert_matrix(client, MatrixContext(cast, db, settings), CASES)

``path`` and the string values of ``body`` are ``str.format`` templates over the cast's ids
(``institution_x``, ``institution_y``, ``room_x``, ``room_y`` and each role's user id:
``citizen_a``, ``manager_x``, ``admin``...) plus what ``prepare`` returns. ``prepare`` runs
before EVERY cell, so a case that changes or deletes something gets a fresh object per role
and cells never depend on each other. Every mismatch is reported at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from booking.settings import Settings
from tests.factories import MATRIX_ROLES, Cast

__all__ = ("Case", "MatrixContext", "Prepare", "assert_matrix", "statuses")


@dataclass(frozen=True, slots=True)
class MatrixContext:
    cast: Cast
    db: asyncpg.Pool
    settings: Settings

    def ids(self) -> dict[str, str]:
        c = self.cast
        return {
            "institution_x": str(c.institution_x),
            "institution_y": str(c.institution_y),
            "room_x": str(c.room_x),
            "room_y": str(c.room_y),
            **{role: str(getattr(c, role).id) for role in MATRIX_ROLES if role != "anonymous"},
        }


Prepare = Callable[[MatrixContext], Awaitable[Mapping[str, object]]]
"""Creates what one cell acts on; returns extra template values (e.g. ``{"booking": id}``)."""


class Case(NamedTuple):
    method: str
    path: str
    body: Any
    expected: Mapping[str, int]
    prepare: Prepare | None = None


def statuses(**by_role: int) -> dict[str, int]:
    """Expected status per role; every role of ``MATRIX_ROLES`` must be given."""
    missing = [r for r in MATRIX_ROLES if r not in by_role]
    unknown = [r for r in by_role if r not in MATRIX_ROLES]
    if missing or unknown:
        raise ValueError(f"matrix row: missing roles {missing}, unknown roles {unknown}")
    return dict(by_role)


def _fill(value: Any, values: Mapping[str, object]) -> Any:
    if isinstance(value, str):
        return value.format_map(values)
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


async def assert_matrix(
    client: AsyncTestClient[Litestar], context: MatrixContext, cases: Sequence[Case]
) -> None:
    """Send every case as every role; fail once, listing every cell that differs."""
    mismatches: list[str] = []
    for case in cases:
        expected = statuses(**case.expected)
        for role in MATRIX_ROLES:
            values: dict[str, object] = dict(context.ids())
            if case.prepare is not None:
                values.update(await case.prepare(context))
            path = case.path.format_map(values)
            kwargs: dict[str, Any] = {"headers": context.cast.headers(role)}
            if case.body is not None:
                kwargs["json"] = _fill(case.body, values)
            response = await client.request(case.method, path, **kwargs)
            got = response.status_code
            if got != expected[role]:
                mismatches.append(
                    f"{case.method} {case.path} as {role}: expected {expected[role]}, got {got}"
                    f" {response.text[:200]}"
                )
            elif got >= 400 and not response.headers.get("content-type", "").startswith(
                "application/problem+json"
            ):
                mismatches.append(f"{case.method} {case.path} as {role}: {got} is not problem+json")
    if mismatches:
        pytest.fail(
            f"{len(mismatches)} access-matrix cell(s) differ:\n" + "\n".join(mismatches),
            pytrace=False,
        )
