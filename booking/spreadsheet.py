"""CSV cells people open in a spreadsheet program."""

from __future__ import annotations

__all__ = ("spreadsheet_safe", "utf8_with_bom")


def spreadsheet_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (a leading ``=``, ``+``, ``-``, ``@``,
    tab or carriage return gets an apostrophe in front)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def utf8_with_bom(text: str) -> bytes:
    """CSV text as UTF-8 with a byte order mark, so Excel in Korea opens it as UTF-8."""
    return ("\ufeff" + text).encode("utf-8")
