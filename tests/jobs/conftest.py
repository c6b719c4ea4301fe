"""Fixtures of the jobs tests: a real SMTP server (aiosmtpd) and settings pointing at it, and
one whose handler can hold messages mid-send (the worker crash test)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from aiosmtpd.controller import Controller

from booking.notifications.smtp_sink import RecordingHandler
from booking.settings import Settings
from tests.conftest import make_settings
from tests.jobs.helpers import HoldingHandler, free_port


@dataclass
class SmtpServer:
    handler: RecordingHandler
    port: int


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(handler, port)
    finally:
        controller.stop()


@dataclass
class HoldingSmtpServer:
    handler: HoldingHandler
    port: int


@pytest.fixture
def holding_smtp() -> Iterator[HoldingSmtpServer]:
    handler = HoldingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield HoldingSmtpServer(handler, port)
    finally:
        handler.release()
        controller.stop()


@pytest.fixture
def job_settings(database_url: str, redis_url: str, smtp: SmtpServer) -> Settings:
    return make_settings(database_url, redis_url, smtp_port=str(smtp.port))
