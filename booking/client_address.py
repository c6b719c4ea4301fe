"""The client's address: the one answer for the login throttle, the write rate limit, the web
sign-in and the access log.

``X-Forwarded-For`` is honoured only when the connection comes from a proxy listed in
``BOOKING_TRUSTED_PROXIES`` (CIDRs; default none). Then the header is read from the right:
each hop a trusted proxy appended is skipped, and the first address that is not a trusted proxy
is the client (what a client sends itself sits further left and is never believed). From any
other peer the header is ignored, so nobody can choose the key they are throttled under.

uvicorn must not rewrite the peer itself: the run script and the image start it with
``--no-proxy-headers`` (its default trusts ``X-Forwarded-For`` from 127.0.0.1).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # booking.settings validates the setting with parse_networks
    from litestar.types import Scope

    from booking.settings import Settings

__all__ = ("Network", "client_address", "parse_networks")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_MAX_HOPS = 32  # a longer header is read only this far from the right


@lru_cache(maxsize=16)
def parse_networks(spec: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` -> networks; ValueError naming a bad entry."""
    networks: list[Network] = []
    for part in spec.split(","):
        entry = part.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or CIDR: {entry!r}") from None
    return tuple(networks)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, nets: tuple[Network, ...]
) -> bool:
    return any(address.version == net.version and address in net for net in nets)


def client_address(scope: Scope, settings: Settings) -> str:
    """The client's address as text (``"unknown"`` when the server gave no peer)."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    nets = parse_networks(settings.trusted_proxies)
    if not nets:
        return peer
    peer_ip = _ip(peer)
    if peer_ip is None or not _trusted(peer_ip, nets):
        return peer
    header = ",".join(
        value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name == b"x-forwarded-for"
    )
    hops = [hop for hop in header.split(",") if hop.strip()][-_MAX_HOPS:]
    found = str(peer_ip)
    for hop in reversed(hops):
        address = _ip(hop)
        if address is None:  # garbage: stop at the last hop a trusted proxy vouched for
            break
        found = str(address)
        if not _trusted(address, nets):
            break
    return found
