"""SMTP servers for development and tests (aiosmtpd).

- :class:`MailDirHandler` keeps every message as an ``.eml`` file (``python -m booking
  smtp-sink``, started by ``make run``).
- :class:`RecordingHandler` keeps messages in memory with the time each was accepted, and can
  refuse on demand; tests and ``bench/jobs.py`` run it with ``aiosmtpd.controller.Controller``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

__all__ = ("MailDirHandler", "ReceivedMail", "RecordingHandler")

_ACCEPTED = "250 Message accepted for delivery"
_REFUSED = "451 Requested action aborted: try again later"


def _content(envelope: Any) -> bytes:
    content = envelope.original_content or envelope.content
    return content if isinstance(content, bytes) else str(content).encode()


class MailDirHandler:
    """Writes each accepted message to ``<directory>/<time>-<n>.eml`` and prints the path."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self._count += 1
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 1_000_000_000:09d}-{self._count}.eml"
        path = self.directory / name
        path.write_bytes(_content(envelope))
        print(f"mail to {', '.join(envelope.rcpt_tos)} saved as {path}", flush=True)  # noqa: T201
        return _ACCEPTED


@dataclass(frozen=True, slots=True)
class ReceivedMail:
    raw: bytes
    recipients: tuple[str, ...]
    accepted_at: float
    """``time.time()`` when the server accepted the message."""

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)


@dataclass
class RecordingHandler:
    """Keeps accepted messages; refuses the next ``refuse_next`` messages (451), or all of
    them while ``refuse_all`` is set."""

    refuse_next: int = 0
    refuse_all: bool = False
    refused: int = 0
    received: list[ReceivedMail] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._arrived = threading.Condition(self._lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        with self._lock:
            if self.refuse_all or self.refuse_next > 0:
                self.refuse_next = max(0, self.refuse_next - 1)
                self.refused += 1
                return _REFUSED
            self.received.append(
                ReceivedMail(_content(envelope), tuple(envelope.rcpt_tos), time.time())
            )
            self._arrived.notify_all()
        return _ACCEPTED

    def snapshot(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self.received)

    def wait_for(self, match: Callable[[ReceivedMail], bool], within: float) -> ReceivedMail:
        """The first kept message ``match`` accepts, waiting (woken by each arrival, no polling)
        up to ``within`` seconds; AssertionError if none arrives in time. Call it from another
        thread than the server's (it blocks)."""
        deadline = time.monotonic() + within
        with self._arrived:
            while (found := next((m for m in self.received if match(m)), None)) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching e-mail within {within} s")
                self._arrived.wait(left)
        return found
