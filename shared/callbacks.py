"""Callback URLs: where a webhook may go. Checked when the URL is submitted and again before each delivery.

A URL whose host resolves to a loopback, private, link-local, multicast, reserved or otherwise special
address is refused, so webhooks cannot be pointed at the service's own network (an internal port scan).
WEBHOOK_ALLOW_PRIVATE=true lifts this for local use (`make run`, the tests).
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000


class Refused(ValueError):
    """The URL may not be called; the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked callback: the address to connect to, and the URL parts the request still needs."""

    scheme: str
    host: str  # as written, for the Host header and TLS (SNI, certificate check)
    port: int
    ips: tuple[str, ...]  # the checked addresses, in resolver order; connections go here, not to a new lookup
    path: str  # path and query


def _kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address is not a public unicast one, or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _kind(ip.ipv4_mapped)
    for name in ("loopback", "unspecified", "link_local", "multicast", "reserved", "private"):  # specific first
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    return None if ip.is_global else "special-purpose"


def parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an absolute http(s) URL, or Refused."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused("callback_url is not a valid URL") from None
    # bytes, not characters: the URL is part of a unique index key (models.IN_FLIGHT_UPLOAD), which PostgreSQL
    # caps at about 2.7 kB
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url.encode("utf-8", "surrogatepass")) > MAX_URL_LENGTH:
        raise Refused("callback_url must be an absolute http:// or https:// URL")
    return parts.scheme, parts.hostname, port, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def resolve(url: str, allow_private: bool) -> Target:
    """Resolve the URL's host and check every address it has."""
    scheme, host, port, path = parse(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):  # unknown name, bad label, NUL in the name
        raise Refused(f"callback_url host {host!r} cannot be resolved") from None
    ips = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not allow_private:
        for ip in ips:
            if (kind := _kind(ip)) is not None:
                raise Refused(f"callback_url host {host!r} resolves to {ip}, a {kind} address; webhooks go only "
                              "to public addresses (WEBHOOK_ALLOW_PRIVATE=true allows others, for local use)")
    return Target(scheme, host, port, tuple(dict.fromkeys(str(ip) for ip in ips)), path)
