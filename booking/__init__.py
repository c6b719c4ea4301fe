"""Nanum (나눔): the booking engine for idle public rooms."""

from __future__ import annotations

__all__ = ()
