"""API authentication (Bearer keys), run before every API request; rate limits are in web/core/ratelimit.py."""
from __future__ import annotations

from urllib.parse import urlsplit

import redis
from flask import Flask, current_app, g, request

from shared import keys
from shared.models import ApiKey
from web.core.db import get_session
from web.core.errors import json_error


def init_app(app: Flask) -> None:
    app.extensions["redis"] = redis.Redis.from_url(app.config["SETTINGS"].redis_url, socket_connect_timeout=1,
                                                   socket_timeout=1)


def current_key() -> ApiKey | None:
    """The API key of this request; None for the local anonymous user."""
    return g.get("api_key")


def resolve() -> tuple[ApiKey | None, str | None]:
    """The Bearer key of this request, or why it is refused; looked up once (the rate limiter asks first)."""
    if "auth" not in g:
        g.auth = _lookup(request.headers.get("Authorization", ""))
    return g.auth


def _lookup(header: str) -> tuple[ApiKey | None, str | None]:
    if not header:
        return None, None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None, "Authorization must be 'Bearer <api key>'"
    key = keys.find(get_session(), token.strip())
    return (key, None) if key is not None else (None, "unknown or revoked API key")


def authenticate():
    """Resolve the Bearer key (401 when missing where required, or invalid); refuse keyless cross-site writes."""
    key, problem = resolve()
    if problem:
        return json_error(401, problem)
    g.api_key = key
    if key is None and current_app.config["SETTINGS"].require_api_key and request.endpoint != "document_api.openapi":
        return json_error(401, "an API key is required: send 'Authorization: Bearer <api key>'")
    if key is None:  # the local single user must not be driven cross-site
        return _refuse_cross_site()
    return None


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _refuse_cross_site():
    """403 for a keyless state-changing request that a browser sent from another origin.

    Keyless requests act as the local user, so any web page could otherwise POST uploads or DELETE analyses here
    from its visitors' browsers. Browsers send Origin on such requests (and Sec-Fetch-Site); clients that are not
    browsers send neither and are unaffected; a key cannot be attached cross-site without CORS, which we never allow.
    """
    if request.method in SAFE_METHODS:
        return None
    origin = request.headers.get("Origin")
    if origin is not None:
        cross = urlsplit(origin).netloc.lower() != request.host.lower()  # "null" (sandboxed, file:) is cross too
    else:
        cross = request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none")
    if cross:
        return json_error(403, "cross-origin requests without an API key are refused: send "
                               "'Authorization: Bearer <api key>' or call from this server's own pages")
    return None
