"""Shapes of background work that cross a boundary: the check-in answer, failed jobs, status."""

from __future__ import annotations

import uuid
from typing import Literal

import msgspec

__all__ = ("CheckInResult", "JobsStatus")


class CheckInResult(msgspec.Struct, kw_only=True):
    """The booking after a successful check-in."""

    booking_id: uuid.UUID
    status: Literal["checked_in"]


class JobsStatus(msgspec.Struct, kw_only=True):
    """``python -m booking jobs status``: queue depth, outbox backlog, oldest undispatched row."""

    queue_depth: int | None
    outbox_undispatched: int
    outbox_claimed: int
    oldest_undispatched_id: int | None
    oldest_undispatched_age_seconds: float | None
    failed_jobs_open: int
