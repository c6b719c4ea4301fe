"""The client address: X-Forwarded-For only from configured proxies, read from the right."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from booking.client_address import client_address
from booking.settings import REPO_ROOT, ConfigError, Settings, load_settings


def _scope(peer: str | None, *forwarded: str) -> Any:
    return {
        "type": "http",
        "client": (peer, 1234) if peer is not None else None,
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded],
    }


def _settings(trusted: str) -> Settings:
    return load_settings({"BOOKING_ENV": "test", "BOOKING_TRUSTED_PROXIES": trusted})


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "expected"),
    [
        # No proxies configured (the default): the header is never read.
        ("", "127.0.0.1", ["6.6.6.6"], "127.0.0.1"),
        ("", "203.0.113.9", ["6.6.6.6"], "203.0.113.9"),
        # A peer outside the list: ignored, even from loopback.
        ("10.0.0.0/8", "127.0.0.1", ["6.6.6.6"], "127.0.0.1"),
        # From a trusted proxy: the rightmost hop that is not a proxy.
        ("10.0.0.0/8", "10.0.0.2", ["203.0.113.9"], "203.0.113.9"),
        ("10.0.0.0/8", "10.0.0.2", ["6.6.6.6, 203.0.113.9"], "203.0.113.9"),
        ("10.0.0.0/8", "10.0.0.2", ["6.6.6.6, 203.0.113.9, 10.0.0.7"], "203.0.113.9"),
        ("10.0.0.0/8", "10.0.0.2", ["6.6.6.6", "203.0.113.9"], "203.0.113.9"),
        # IPv6, ports, v4-mapped, several ranges.
        ("10.0.0.0/8, ::1", "::1", ["[2001:db8::1]:443"], "2001:db8::1"),
        ("10.0.0.0/8", "::ffff:10.0.0.2", ["203.0.113.9:5555"], "203.0.113.9"),
        # Garbage or no header: the last address a trusted proxy vouched for.
        ("10.0.0.0/8", "10.0.0.2", ["not-an-ip"], "10.0.0.2"),
        ("10.0.0.0/8", "10.0.0.2", ["6.6.6.6, junk, 10.0.0.3"], "10.0.0.3"),
        ("10.0.0.0/8", "10.0.0.2", [], "10.0.0.2"),
        ("10.0.0.0/8", None, ["6.6.6.6"], "unknown"),
        ("10.0.0.0/8", "testclient", ["6.6.6.6"], "testclient"),
    ],
)
def test_client_address(
    trusted: str, peer: str | None, forwarded: list[str], expected: str
) -> None:
    assert client_address(_scope(peer, *forwarded), _settings(trusted)) == expected


def test_a_bad_proxy_entry_stops_start_up_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="BOOKING_TRUSTED_PROXIES: not an IP address or CIDR"):
        _settings("10.0.0.0/8, example.org")


@pytest.mark.parametrize("path", ["scripts/run-dev.sh", "Dockerfile"])
def test_uvicorn_never_rewrites_the_peer_itself(path: str) -> None:
    """uvicorn's default trusts X-Forwarded-For from 127.0.0.1; the app decides instead."""
    text = Path(REPO_ROOT, path).read_text().replace("\\\n", " ")
    starts = [line for line in text.splitlines() if "booking.app:create_app" in line]
    assert starts, path
    assert all("--no-proxy-headers" in line for line in starts), starts
