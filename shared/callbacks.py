"""Callback URLs: where a webhook may go. Checked when the URL is submitted and again before each delivery.

A URL whose host resolves to a loopback, private, link-local, multicast, reserved or otherwise special
address is refused, so webhooks cannot be pointed at the service's own network (an internal port scan).
WEBHOOK_ALLOW_PRIVATE=true lifts this for local use (`make run`, the tests). The rule itself lives in
shared/addresses.py, shared with image links (shared/link_fetch.py).
"""
from __future__ import annotations

from shared import addresses
from shared.addresses import MAX_URL_LENGTH, Refused, Target  # noqa: F401 - this module's names, as before

_kind = addresses.kind


def parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an absolute http(s) URL, or Refused."""
    return addresses.parse(url, addresses.CALLBACKS)


def resolve(url: str, allow_private: bool) -> Target:
    """Resolve the URL's host and check every address it has."""
    return addresses.resolve(url, allow_private, addresses.CALLBACKS)
