"""Stateful fuzzing (schemathesis, over the OpenAPI links) of the real app behind uvicorn, as a
citizen, a manager and an admin: no answer is a 5xx, and every answer conforms to the documented
schema of its status. Bounded: a fixed number of scenarios per role (derandomized, so a run is
repeatable), about a minute in all."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import asyncpg
import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import Cast
from tests.hardening.api import operations, prepare_target

SCENARIOS = int(os.environ.get("NANUM_FUZZ_SCENARIOS", "60"))
STEPS = 8


def _fuzz(url: str, headers: dict[str, str], seen: dict[str, set[int]]) -> None:
    schema = schemathesis.openapi.from_url(f"{url}/schema/openapi.json")
    base: Any = schema.as_state_machine()

    class Machine(base):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers, "timeout": 30}

        def after_call(self, response: Any, case: Any) -> None:
            seen.setdefault(case.operation.definition.raw["operationId"], set()).add(
                response.status_code
            )

        def validate_response(self, response: Any, case: Any, *_: Any, **__: Any) -> None:
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )

    Machine.run(
        settings=hypothesis_settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )


async def test_stateful_fuzzing_finds_no_server_error_for_any_role(
    cast: Cast, db: asyncpg.Pool, live_server: str
) -> None:
    async with httpx.AsyncClient(base_url=live_server) as client:
        await prepare_target(client, cast, db)
    seen: dict[str, set[int]] = {}
    for role in ("citizen_a", "manager_x", "admin"):
        await asyncio.to_thread(_fuzz, live_server, cast.headers(role), seen)
    print("FUZZ", {op: sorted(codes) for op, codes in sorted(seen.items())})
    # Links carry the fuzzer past 404: an operation addressed by an id in its path (which a
    # random id never matches) answers 2xx, e.g. a room created in an institution the fuzzer
    # created (which ones varies with the document's shape and the ids the server hands out).
    reached = {op for op, codes in seen.items() if any(200 <= c < 300 for c in codes)}
    by_id = {op.operation_id for op in operations() if "{" in op.path}
    assert reached & by_id, seen


EXAMPLES_PER_OPERATION = int(os.environ.get("NANUM_FUZZ_EXAMPLES", "4"))


def _every_operation(url: str, headers: dict[str, str], seen: dict[str, set[int]]) -> None:
    """A stateless pass: generated requests to every operation of the document, so the ones no
    link leads to (no id in their path: the caller's profile and calendar, sign-in, health...)
    are fuzzed too."""
    schema = schemathesis.openapi.from_url(f"{url}/schema/openapi.json")
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # every operation of our document is valid
        operation = result.ok()
        _fuzz_operation(operation, headers, seen)


def _fuzz_operation(operation: Any, headers: dict[str, str], seen: dict[str, set[int]]) -> None:
    operation_id = operation.definition.raw["operationId"]

    @given(case=operation.as_strategy())
    @hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def call(case: Any) -> None:
        response = case.call(headers=headers, timeout=30)
        seen.setdefault(operation_id, set()).add(response.status_code)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    call()


async def test_every_operation_is_fuzzed_without_a_server_error(
    cast: Cast, db: asyncpg.Pool, live_server: str
) -> None:
    async with httpx.AsyncClient(base_url=live_server) as client:
        await prepare_target(client, cast, db)
    seen: dict[str, set[int]] = {}
    for role in ("citizen_a", "manager_x", "admin"):
        await asyncio.to_thread(_every_operation, live_server, cast.headers(role), seen)
    assert {op.operation_id for op in operations()} <= seen.keys()
