"""Which addresses a harvester may reach, and how URLs are shown in logs.

Pure functions, no I/O: :mod:`.http` applies them to every resolved address
and every connected peer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SECRET_WORDS = ("key", "token", "secret", "passw", "auth", "signature", "credential")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def redact_url(url: str) -> str:
    """``url`` fit for logs: no user info or fragment, secret-looking query values masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    query = "&".join(_redact_pair(pair) for pair in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, query, ""))


def _redact_pair(pair: str) -> str:
    key, sep, _ = pair.partition("=")
    secret = sep and any(word in unquote(key).lower() for word in SECRET_WORDS)
    return f"{key}=***" if secret else pair


def is_public_address(address: str | IPAddress) -> bool:
    """Whether ``address`` is globally routable unicast, including any IPv4 it embeds."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public_address(ip.ipv4_mapped)
        embedded = _embedded_ipv4(ip)
        if ip.is_site_local or (embedded is not None and not is_public_address(embedded)):
            return False
    # is_global alone lets multicast through.
    special = ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local
    return ip.is_global and not (special or ip.is_unspecified or ip.is_private or ip in _SHARED)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client, where the packets end up
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def destination_allowed(host: str, address: str, allowed_private: Sequence[str] = ()) -> bool:
    """Whether ``address``, which ``host`` resolved to, may be connected to."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if is_public_address(ip):
        return True
    name = host.strip("[]").rstrip(".").lower()
    for entry in allowed_private:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:  # not an address: a host name
            if entry.rstrip(".").lower() == name:
                return True
    return False
