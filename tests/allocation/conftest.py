"""The jobs tests' SMTP server and worker settings, shared with the allocation tests."""

from __future__ import annotations

from tests.jobs.conftest import job_settings, smtp

__all__ = ("job_settings", "smtp")
