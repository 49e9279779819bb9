"""Which addresses the service may connect to on a user's behalf: one rule for webhooks and for image links.

A URL is parsed, its host resolved once, and every address it resolves to checked: loopback, private, link-local,
multicast, reserved, unspecified and other special-purpose ranges (IPv4-mapped IPv6 addresses are judged as the
IPv4 address they carry) are refused, so neither a callback nor a link can point the service at its own network
(an internal port scan, a cloud metadata endpoint). A setting lifts this for local use (WEBHOOK_ALLOW_PRIVATE for
callbacks, LINK_ALLOW_PRIVATE for links; `make run` and the tests set them).

The checked addresses travel in the Target: connections go to them, never to a second lookup of the name (a DNS
answer that changes between the check and the connect, DNS rebinding, cannot redirect the request), with the
URL's own host in the Host header and as the TLS name (SNI and certificate check).
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000


class Refused(ValueError):
    """The URL may not be called; the message says why."""


class Unresolvable(Refused):
    """The URL's host has no address (a name that does not exist, or a bad label)."""


@dataclass(frozen=True)
class Policy:
    """Who asks, in the words of its refusals: the field named, what the rule is for, the setting that lifts it."""

    field: str  # "callback_url", "url"
    purpose: str  # "webhooks go only to public addresses"
    setting: str  # "WEBHOOK_ALLOW_PRIVATE"
    credentials: bool = True  # whether user:password@ in the URL is allowed


CALLBACKS = Policy("callback_url", "webhooks go only to public addresses", "WEBHOOK_ALLOW_PRIVATE")
LINKS = Policy("url", "images are fetched only from public addresses", "LINK_ALLOW_PRIVATE", credentials=False)


@dataclass(frozen=True)
class Target:
    """A checked URL: the addresses to connect to, and the URL parts the request still needs."""

    scheme: str
    host: str  # as written, for the Host header and TLS (SNI, certificate check)
    port: int
    ips: tuple[str, ...]  # the checked addresses, in resolver order; connections go here, not to a new lookup
    path: str  # path and query

    @property
    def host_header(self) -> str:
        """The Host header for this URL: the name (an IPv6 literal in brackets), with the port unless default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default_port = 443 if self.scheme == "https" else 80
        return host if self.port == default_port else f"{host}:{self.port}"


def kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address is not a public unicast one, or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return kind(ip.ipv4_mapped)
    for name in ("loopback", "unspecified", "link_local", "multicast", "reserved", "private"):  # specific first
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    return None if ip.is_global else "special-purpose"


def parse(url: str, policy: Policy = CALLBACKS) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an absolute http(s) URL, or Refused."""
    field = policy.field
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused(f"{field} is not a valid URL") from None
    # bytes, not characters: the URL is part of a unique index key (models.IN_FLIGHT_UPLOAD), which PostgreSQL
    # caps at about 2.7 kB
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url.encode("utf-8", "surrogatepass")) > MAX_URL_LENGTH:
        raise Refused(f"{field} must be an absolute http:// or https:// URL")
    if not policy.credentials and (parts.username is not None or parts.password is not None):
        raise Refused(f"{field} must not carry a user name or password (user:password@host): links are fetched "
                      "without credentials")
    return parts.scheme, parts.hostname, port, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def check(host: str, ips: list, allow_private: bool, policy: Policy = CALLBACKS) -> None:
    """Refused unless every address is public (or allow_private)."""
    if allow_private:
        return
    for ip in ips:
        if (why := kind(ip)) is not None:
            raise Refused(f"{policy.field} host {host!r} resolves to {ip}, a {why} address; {policy.purpose} "
                          f"({policy.setting}=true allows others, for local use)")


def resolve(url: str, allow_private: bool, policy: Policy = CALLBACKS) -> Target:
    """Resolve the URL's host once and check every address it has."""
    scheme, host, port, path = parse(url, policy)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):  # unknown name, bad label, NUL in the name
        raise Unresolvable(f"{policy.field} host {host!r} cannot be resolved") from None
    ips = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    check(host, ips, allow_private, policy)
    return Target(scheme, host, port, tuple(dict.fromkeys(str(ip) for ip in ips)), path)
