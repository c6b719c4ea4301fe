"""Structured JSON logs, request ids and per-request access lines."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import Any, cast

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from booking.client_address import client_address
from booking.settings import Settings

__all__ = (
    "JsonFormatter",
    "RequestLogMiddleware",
    "configure_logging",
    "loggable_path",
    "metrics_payload",
)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# Private feed URLs carry their secret in the path: logs keep only its shape.
_SECRET_PATH = re.compile(r"^(/v1/calendars/)[^/]*$")
_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
access_log = logging.getLogger("booking.access")

# Labelled by route template (not raw path) so cardinality stays bounded.
REQUESTS = Counter(
    "nanum_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "nanum_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)


def loggable_path(path: str) -> str:
    """``path`` as logs may show it: a private feed token becomes ``<token>``."""
    return _SECRET_PATH.sub(r"\1<token>.ics", path)


def metrics_payload() -> tuple[bytes, str]:
    """The Prometheus exposition of this process's registry, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return msgspec.json.encode(payload, enc_hook=str).decode()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the moment of the call, so a replaced stderr (a
    test's capture, a daemon's redirect) never leaves the handler holding a closed file."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str) -> None:
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class RequestLogMiddleware:
    """Assigns a request id (or keeps a sane incoming X-Request-ID), echoes it, logs one line."""

    def __init__(
        self, app: ASGIApp, *, enabled: bool = True, settings: Settings | None = None
    ) -> None:
        self.app = app
        self.enabled = enabled
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        method = str(cast("dict[str, Any]", scope)["method"])
        incoming = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), ""
        )
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = str(cast("dict[str, Any]", scope).get("path_template") or "unmatched")
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(elapsed)
            if self.enabled:
                access_log.info(
                    "request",
                    extra={
                        "method": method,
                        "path": loggable_path(scope["path"]),
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "request_id": request_id,
                        "client": (
                            client_address(scope, self.settings)
                            if self.settings is not None
                            else None
                        ),
                    },
                )
