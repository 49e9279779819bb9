"""API authentication (Bearer keys) and per-key rate limits, run before every API request."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import redis
from flask import Flask, current_app, g, request

from shared import keys
from shared.models import ApiKey
from web.db import get_session
from web.errors import json_error


def init_app(app: Flask) -> None:
    app.extensions["redis"] = redis.Redis.from_url(app.config["SETTINGS"].redis_url, socket_connect_timeout=1,
                                                   socket_timeout=1)


def current_key() -> ApiKey | None:
    """The API key of this request; None for the local anonymous user."""
    return g.get("api_key")


def authenticate():
    """Resolve the Bearer key (401 when missing where required, or invalid) and apply its rate limit."""
    settings = current_app.config["SETTINGS"]
    header = request.headers.get("Authorization", "")
    g.api_key = None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return json_error(401, "Authorization must be 'Bearer <api key>'")
        key = keys.find(get_session(), token.strip())
        if key is None:
            return json_error(401, "unknown or revoked API key")
        g.api_key = key
    elif settings.require_api_key and request.endpoint != "api.openapi":
        return json_error(401, "an API key is required: send 'Authorization: Bearer <api key>'")
    if g.api_key is None:  # the local single user (no key) is not limited, but must not be driven cross-site
        return _refuse_cross_site()
    return _rate_limit(g.api_key.key_hash[:24], g.api_key.rate_limit_per_minute)


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


def _rate_limit(who: object, per_minute: int):
    """Fixed one-minute windows counted in Redis; if Redis is down the limit is not enforced."""
    if per_minute <= 0:
        return None
    window = int(time.time() // 60)
    counter = f"ratelimit:{who}:{window}"
    try:
        client: redis.Redis = current_app.extensions["redis"]
        pipe = client.pipeline()
        pipe.incr(counter)
        pipe.expire(counter, 120)
        count = pipe.execute()[0]
    except redis.RedisError:
        current_app.logger.warning("rate limit not enforced: Redis unavailable")
        return None
    if count > per_minute:
        response = json_error(429, f"rate limit of {per_minute} requests per minute exceeded; retry later")
        response.headers["Retry-After"] = str(60 - int(time.time()) % 60)
        return response
    return None
