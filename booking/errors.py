"""One error format (RFC 9457 problem+json) and the one place that maps errors to HTTP.

Handlers and services raise :class:`Problem` (or a subclass); database errors are mapped by
SQLSTATE and constraint name in :data:`CONSTRAINT_PROBLEMS`. Nothing else reaches a client:
unknown errors become a bare 500 without internals.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import asyncpg
import msgspec
import redis.exceptions
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from booking.observability import loggable_path
from schemas.common import FieldError, ProblemDetails

__all__ = (
    "CONSTRAINT_PROBLEMS",
    "PROBLEM_MEDIA_TYPE",
    "SQL_REFUSALS",
    "Conflict",
    "Forbidden",
    "Invalid",
    "NotFound",
    "Problem",
    "Unauthorized",
    "exception_handlers",
    "invalid",
    "is_outage",
    "problem_answer",
    "problem_response",
    "problem_spec",
    "refusal_problem",
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_TYPE_BASE = "https://nanum.example/problems/"
log = logging.getLogger("booking.errors")
# Litestar's InternalServerException detail when the client hangs up mid-body.
_CLIENT_GONE = "client disconnected prematurely"


class Problem(Exception):
    """An error a client can act on. ``code`` becomes the problem ``type`` URI's last segment."""

    status: int = 400
    code: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str | None = None,
        title: str | None = None,
        errors: list[FieldError] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if title is not None:
            self.title = title
        self.errors = errors
        self.extra = extra or {}
        self.headers = headers or {}


class NotFound(Problem):
    status, code, title = 404, "not-found", "Not found"


class Unauthorized(Problem):
    status, code, title = 401, "unauthorized", "Authentication required"


class Forbidden(Problem):
    status, code, title = 403, "forbidden", "Forbidden"


class Conflict(Problem):
    status, code, title = 409, "conflict", "Conflict"


class Invalid(Problem):
    """422 naming the offending fields: the shape of a body that fails validation. Build it
    with :func:`invalid` (one field) or ``Invalid(detail, errors=[...])`` (several)."""

    status, code, title = 422, "validation-error", "Invalid request"


def invalid(field: str, message: str, *, detail: str | None = None) -> Invalid:
    """The one validation problem: 422 naming ``field`` (detail ``"field: message"`` unless
    given)."""
    return Invalid(
        f"{field}: {message}" if detail is None else detail,
        errors=[FieldError(field=field, message=message)],
    )


# Constraint name -> (status, code, title, detail). The schema names every constraint so that
# this table, and nothing else, decides what a violated rule means to a client.
CONSTRAINT_PROBLEMS: dict[str, tuple[int, str, str, str]] = {
    "users_email_key": (
        409,
        "registration-refused",
        "Registration refused",
        "This account could not be created. If you already have one, sign in instead.",
    ),
}

_SQLSTATE_PROBLEMS: dict[str, tuple[int, str, str, str]] = {
    "23P01": (409, "conflict", "Conflict", "The request conflicts with existing data."),
    "40P01": (409, "conflict", "Conflict", "Someone else changed this at the same moment."),
    "40001": (409, "conflict", "Conflict", "Someone else changed this at the same moment."),
    "23505": (409, "conflict", "Conflict", "This already exists."),
    "23503": (422, "invalid-reference", "Invalid reference", "A referenced object does not exist."),
    "23514": (422, "invalid-value", "Invalid value", "A value is outside what is allowed."),
    "22P02": (422, "invalid-value", "Invalid value", "A value has the wrong format."),
}


# Refusals raised by our own SQL functions (sql/functions/): SQLSTATE -> (status, code, title,
# the problem member that carries the error's CONSTRAINT field). The error's MESSAGE is the
# human explanation; CONSTRAINT names the broken rule, the object, or the current status.
SQL_REFUSALS: dict[str, tuple[int, str, str, str | None]] = {
    "NBPOL": (422, "policy-violation", "Booking policy violated", "rule"),
    "NBNFD": (404, "not-found", "Not found", None),
    "NBAUT": (401, "unauthorized", "Authentication required", None),
    "NBFRB": (403, "forbidden", "Forbidden", None),
    "NBIDM": (422, "idempotency-key-reused", "Idempotency-Key reused", None),
    "NBTRN": (409, "illegal-transition", "Not possible in this status", "current_status"),
    "NBSUS": (403, "booking-suspended", "Booking suspended", "suspended_until"),
    "NBRND": (409, "round-locked", "Round locked", "rule"),
    "NBUNV": (403, "email-unverified", "E-mail address not verified", None),
}
# lock_timeout: only book() sets one, around the Idempotency-Key claim.
_LOCK_TIMEOUT = "55P03"


def refusal_problem(exc: asyncpg.PostgresError) -> Problem | None:
    """The problem a refusal raised by our SQL functions stands for, or None."""
    if exc.sqlstate == _LOCK_TIMEOUT:
        return Conflict(
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            code="idempotency-in-flight",
            title="Request in flight",
            headers={"Retry-After": "1"},
        )
    refusal = SQL_REFUSALS.get(exc.sqlstate or "")
    if refusal is None:
        return None
    status, code, title, member = refusal
    detail = str(getattr(exc, "message", "") or title)
    extra: dict[str, object] = {}
    if member is not None:
        extra[member] = getattr(exc, "constraint_name", None)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Problem(detail, status=status, code=code, title=title, extra=extra, headers=headers)


def problem_spec(
    description: str,
    *,
    examples: list[Example] | None = None,
    example: tuple[int, str, str, str] | None = None,
) -> ResponseSpec:
    """The OpenAPI entry of a problem+json answer. ``example`` is (status, code, title, detail),
    shaped exactly like what :func:`problem_response` sends."""
    if example is not None:
        status, code, title, detail = example
        examples = [
            Example(
                summary=title,
                value={
                    "type": _TYPE_BASE + code,
                    "title": title,
                    "status": status,
                    "detail": detail,
                },
            ),
            *(examples or []),
        ]
    return ResponseSpec(
        data_container=ProblemDetails,
        description=description,
        media_type=PROBLEM_MEDIA_TYPE,
        generate_examples=False,
        examples=examples,
    )


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[FieldError] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    body = ProblemDetails(
        type=_TYPE_BASE + code,
        title=title,
        status=status,
        detail=detail,
        instance=instance,
        errors=errors,
    )
    payload = msgspec.to_builtins(body)
    if extra:
        payload.update(msgspec.to_builtins(extra))
    return Response(
        content=msgspec.json.encode(payload),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def database_problem(exc: asyncpg.PostgresError) -> Problem | None:
    """The client-facing meaning of a database error, or None when it is a server fault."""
    constraint = getattr(exc, "constraint_name", None)
    if constraint and constraint in CONSTRAINT_PROBLEMS:
        status, code, title, detail = CONSTRAINT_PROBLEMS[constraint]
        return Problem(detail, status=status, code=code, title=title)
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate in _SQLSTATE_PROBLEMS:
        status, code, title, detail = _SQLSTATE_PROBLEMS[sqlstate]
        return Problem(detail, status=status, code=code, title=title)
    return None


def _field_errors(exc: ValidationException) -> list[FieldError]:
    out: list[FieldError] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if isinstance(item, dict):
            out.append(
                FieldError(
                    field=str(item.get("key") or item.get("source") or "body"),
                    message=str(item.get("message", "invalid value")),
                )
            )
    return out


def problem_answer(path: str, exc: Problem) -> Response[bytes]:
    """The problem+json answer to ``exc`` for a request to ``path``: what raising it gives,
    for a handler that answers a frequent refusal itself (without the exception machinery)."""
    return problem_response(
        exc.status,
        exc.code,
        exc.title,
        exc.detail,
        instance=path,
        errors=exc.errors,
        extra=exc.extra,
        headers=exc.headers,
    )


def _handle_problem(request: Request[Any, Any, Any], exc: Problem) -> Response[bytes]:
    return problem_answer(request.url.path, exc)


def _handle_validation(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[bytes]:
    errors = _field_errors(exc)
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or _clean_detail(exc.detail)
    return problem_response(
        422,
        "validation-error",
        "Invalid request",
        detail,
        instance=request.url.path,
        errors=errors or None,
    )


def _clean_detail(detail: str) -> str:
    # Litestar prefixes validation errors with the handler's path; keep only the human part.
    return detail.split(" for ", 1)[0] if detail.startswith("Validation failed") else detail


def _handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if status >= 500 and exc.detail == _CLIENT_GONE:
        # The client hung up while sending its body: nobody is left to answer, nothing failed.
        log.info(
            "client disconnected before the request body was read",
            extra={"path": loggable_path(request.url.path)},
        )
        return problem_response(400, "client-disconnected", "Client disconnected", _CLIENT_GONE)
    if status >= 500:
        return _handle_internal(request, exc)
    headers = dict(exc.headers or {})
    if isinstance(exc, NotAuthorizedException):
        headers.setdefault("WWW-Authenticate", "Bearer")
    titles = {
        400: "Bad request",
        401: "Authentication required",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
        413: "Request too large",
        415: "Unsupported media type",
        429: "Too many requests",
    }
    title = titles.get(status, "Request refused")
    code = title.lower().replace(" ", "-")
    return problem_response(
        status, code, title, exc.detail or title, instance=request.url.path, headers=headers
    )


def _handle_postgres(
    request: Request[Any, Any, Any], exc: asyncpg.PostgresError
) -> Response[bytes]:
    if is_outage(exc):
        return _handle_outage(request, exc)
    problem = database_problem(exc)
    if problem is None:
        return _handle_internal(request, exc)
    return _handle_problem(request, problem)


# --- outages: a dependency that does not answer is not a bug in the request -------------------

RETRY_AFTER_SECONDS = 5
# SQLSTATE classes and codes that mean "the server is not there (now)": connection exceptions,
# shutdown and start-up (57P01-57P03), too many connections.
_OUTAGE_SQLSTATE_PREFIXES = ("08", "57P0", "53300")
# File-system errors are bugs, not outages; every other OSError in a handler is a socket.
_LOCAL_OS_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
)
# Errors closer together than this belong to one outage, which is logged once.
_OUTAGE_QUIET_SECONDS = 30.0
_last_outage_error: dict[str, float] = {}


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means Postgres or Redis did not answer (connect refused or reset, pool
    acquire or command timed out, server shutting down or starting), not a faulty request."""
    if isinstance(exc, asyncpg.PostgresError):
        return (exc.sqlstate or "").startswith(_OUTAGE_SQLSTATE_PREFIXES)
    if isinstance(exc, asyncpg.exceptions.ConnectionDoesNotExistError):
        return True  # the server went away in the middle of the operation
    if isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc):
        return True
    if isinstance(exc, TimeoutError):
        return True
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, _LOCAL_OS_ERRORS)


def _dependency_of(exc: BaseException) -> str:
    return "redis" if isinstance(exc, redis.exceptions.RedisError) else "postgres"


def _handle_outage(request: Request[Any, Any, Any], exc: BaseException) -> Response[bytes]:
    dependency = _dependency_of(exc)
    now = time.monotonic()
    last = _last_outage_error.get(dependency)
    _last_outage_error[dependency] = now
    if last is None or now - last > _OUTAGE_QUIET_SECONDS:
        # Once per outage (a run of failures with no gap longer than the quiet time).
        log.error(
            "dependency unavailable",
            extra={
                "dependency": dependency,
                "error": f"{type(exc).__name__}: {exc}",
                "path": loggable_path(request.url.path),
            },
        )
    return problem_response(
        503,
        "service-unavailable",
        "Service unavailable",
        "A service this request needs is not answering; try again shortly.",
        instance=request.url.path,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _handle_os_level(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if is_outage(exc):
        return _handle_outage(request, exc)
    return _handle_internal(request, exc)


def _handle_internal(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    request_id = request.scope.get("state", {}).get("request_id", "")
    log.error(
        "unhandled error",
        exc_info=exc,
        extra={"request_id": request_id, "path": loggable_path(request.url.path)},
    )
    return problem_response(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal-error",
        "Internal server error",
        f"Something went wrong on our side. Quote request id {request_id} if you report it.",
        instance=request.url.path,
    )


exception_handlers: dict[type[Exception] | int, Any] = {
    Problem: _handle_problem,
    ValidationException: _handle_validation,
    HTTPException: _handle_http,
    asyncpg.PostgresError: _handle_postgres,
    asyncpg.InterfaceError: _handle_os_level,
    OSError: _handle_os_level,
    TimeoutError: _handle_os_level,
    redis.exceptions.ConnectionError: _handle_os_level,
    redis.exceptions.TimeoutError: _handle_os_level,
    Exception: _handle_internal,
}
