"""msgspec Structs that cross a boundary: HTTP bodies and job payloads, shared by API and workers."""

from __future__ import annotations

__all__ = ()
