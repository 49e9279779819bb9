"""Security headers on every response (strict CSP without inline script, nosniff, no framing), and the Host
allow-list."""
from __future__ import annotations

import re

from flask import Flask, Response, abort, request

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[^:\[\]]*)(:\d{1,5})?")  # name or [v6 literal], optional port


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether a Host header names one of the allowed hosts, on any port ("*" allows every host)."""
    if "*" in allowed:
        return True
    match = _HOST.fullmatch(host.strip().lower())
    return match is not None and match.group(1) in allowed


def init_app(app: Flask) -> None:
    @app.before_request
    def check_host():
        """400 for a Host this server is not known by: a page of another site whose name was re-pointed at this
        address (DNS rebinding) is same-origin to its own name, so the Origin checks alone would let it in."""
        host = request.environ.get("HTTP_HOST", "")
        if not host_allowed(host, app.config["SETTINGS"].allowed_hosts):
            abort(400, f"this server does not answer to the host {host[:100]!r}: add it to ALLOWED_HOSTS")

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
        return response
