"""``python -m booking`` commands of this feature."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ("register",)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add this feature's subcommands (none yet)."""
