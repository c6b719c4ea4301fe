"""English names where none was given: Revised Romanization of the Korean name.

The ``korean-romanizer`` library does the romanization (rules of 국립국어원's 2000 system, with
its pronunciation changes); this module only capitalises words and remembers answers.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from korean_romanizer.romanizer import Romanizer

__all__ = ("english_name",)


@lru_cache(maxsize=65_536)
def _romanized(korean: str) -> str:
    text: str = Romanizer(korean).romanize()
    return " ".join(word[:1].upper() + word[1:] for word in text.split())


def english_name(given: str | None, korean: str) -> tuple[str, Literal["given", "romanized"]]:
    """(English name, ``"given"`` or ``"romanized"``)."""
    if given is not None and given.strip():
        return given, "given"
    return _romanized(korean), "romanized"
