"""Small helpers of the accounts tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from booking.observability import JsonFormatter

__all__ = ("captured_logs",)


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def captured_logs(level: int = logging.DEBUG) -> Iterator[list[str]]:
    """Every log line (formatted as the app formats it) emitted inside the block.

    Attached to the root logger after the app configured logging, so nothing replaces it.
    """
    handler = _ListHandler()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
