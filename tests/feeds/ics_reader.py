"""A small, strict RFC 5545 reader, written independently of the library that writes the feeds.

It refuses what a picky client would choke on: bare LF or CR, physical lines over 75 octets,
a fold that splits a UTF-8 sequence, malformed content lines, unbalanced BEGIN/END.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ("Component", "IcsError", "Property", "parse_ics", "parse_utc", "unescape_text")

_NAME = r"[A-Za-z0-9-]+"
_PARAM = re.compile(rf'({_NAME})=((?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*)')
_UTC = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$")
_DURATION = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


class IcsError(ValueError):
    """The stream is not valid RFC 5545 (as far as this reader checks)."""


@dataclass
class Property:
    name: str
    params: dict[str, str]
    value: str

    @property
    def text(self) -> str:
        return unescape_text(self.value)


@dataclass
class Component:
    name: str
    properties: list[Property] = field(default_factory=list)
    children: list[Component] = field(default_factory=list)

    def all(self, name: str) -> list[Property]:
        return [p for p in self.properties if p.name == name.upper()]

    def get(self, name: str) -> Property:
        found = self.all(name)
        if len(found) != 1:
            raise KeyError(f"{self.name} has {len(found)} {name} properties, expected one")
        return found[0]

    def has(self, name: str) -> bool:
        return bool(self.all(name))

    def components(self, name: str) -> list[Component]:
        return [c for c in self.children if c.name == name.upper()]


def unescape_text(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            if i + 1 >= len(value):
                raise IcsError("dangling backslash in TEXT")
            nxt = value[i + 1]
            if nxt in "nN":
                out.append("\n")
            elif nxt in "\\;,":
                out.append(nxt)
            else:
                raise IcsError(f"invalid escape \\{nxt}")
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def parse_utc(value: str) -> datetime:
    match = _UTC.match(value)
    if not match:
        raise IcsError(f"not a UTC DATE-TIME: {value!r}")
    y, mo, d, h, mi, s = (int(g) for g in match.groups())
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def parse_duration(value: str) -> timedelta:
    match = _DURATION.match(value)
    if not match or value in ("P", "PT"):
        raise IcsError(f"not a DURATION: {value!r}")
    w, d, h, m, s = (int(g) if g else 0 for g in match.groups())
    return timedelta(weeks=w, days=d, hours=h, minutes=m, seconds=s)


def _physical_lines(data: bytes) -> list[str]:
    if not data.endswith(b"\r\n"):
        raise IcsError("stream does not end with CRLF")
    raw_lines = data[:-2].split(b"\r\n")
    lines: list[str] = []
    for number, raw in enumerate(raw_lines, 1):
        if b"\n" in raw or b"\r" in raw:
            raise IcsError(f"line {number}: bare LF or CR")
        if len(raw) > 75:
            raise IcsError(f"line {number}: {len(raw)} octets, more than 75")
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise IcsError(f"line {number}: a fold splits a UTF-8 sequence ({exc})") from None
    return lines


def _unfold(lines: list[str]) -> list[str]:
    logical: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            if not logical:
                raise IcsError("continuation line before any content line")
            logical[-1] += line[1:]
        else:
            if not line:
                raise IcsError("empty content line")
            logical.append(line)
    return logical


def _content_line(line: str) -> Property:
    match = re.match(_NAME, line)
    if not match:
        raise IcsError(f"no property name: {line!r}")
    name = match.group(0).upper()
    rest = line[match.end() :]
    params: dict[str, str] = {}
    while rest.startswith(";"):
        param = _PARAM.match(rest, 1)
        if not param:
            raise IcsError(f"bad parameter in {line!r}")
        params[param.group(1).upper()] = param.group(2).strip('"')
        rest = rest[param.end() :]
    if not rest.startswith(":"):
        raise IcsError(f"missing ':' in {line!r}")
    return Property(name, params, rest[1:])


def parse_ics(data: bytes) -> Component:
    """Parse one VCALENDAR stream into a component tree, checking framing on the way."""
    stack: list[Component] = []
    root: Component | None = None
    for line in _unfold(_physical_lines(data)):
        prop = _content_line(line)
        if prop.name == "BEGIN":
            component = Component(prop.value.upper())
            if stack:
                stack[-1].children.append(component)
            elif root is not None:
                raise IcsError("more than one top-level component")
            else:
                root = component
            stack.append(component)
        elif prop.name == "END":
            if not stack or stack[-1].name != prop.value.upper():
                raise IcsError(f"END:{prop.value} does not close the open component")
            stack.pop()
        else:
            if not stack:
                raise IcsError(f"property outside a component: {line!r}")
            stack[-1].properties.append(prop)
    if stack or root is None:
        raise IcsError("unterminated or empty stream")
    if root.name != "VCALENDAR":
        raise IcsError("top-level component is not VCALENDAR")
    return root
