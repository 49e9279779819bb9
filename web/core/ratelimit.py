"""Per-key request limits on the API: Flask-Limiter, counted in Redis, in fixed one-minute windows.

Keyless requests (the local user) and keys created with `--rate-limit 0` are not limited. If Redis is down the
limit is not enforced (the error is logged), as the API itself keeps answering what does not need the queue.
"""
from __future__ import annotations

import math
import time

from flask import Flask, request
from flask_limiter import Limiter, RateLimitExceeded

from web.core import auth
from web.core.blueprints import is_api
from web.core.errors import json_error


def _who() -> str:
    key = auth.resolve()[0]
    return key.key_hash[:24] if key is not None else "keyless"


def _limit() -> str:
    key = auth.resolve()[0]
    return f"{key.rate_limit_per_minute if key is not None else 0}/minute"


def _exempt() -> bool:
    if not is_api():
        return True
    key = auth.resolve()[0]
    return key is None or key.rate_limit_per_minute <= 0


def init_app(app: Flask) -> None:
    """One limiter per app, sharing the Celery broker's Redis; checked before every request, API only."""
    limiter = Limiter(_who, app=app, application_limits=[_limit], application_limits_exempt_when=_exempt,
                      strategy="fixed-window", storage_uri=app.config["SETTINGS"].redis_url,
                      storage_options={"socket_connect_timeout": 1, "socket_timeout": 1},
                      key_prefix="ratelimit", swallow_errors=True, headers_enabled=False)

    @app.errorhandler(RateLimitExceeded)
    def too_many(exc: RateLimitExceeded):
        current = limiter.current_limit
        response = json_error(429, f"rate limit of {exc.limit.limit.amount} requests per minute exceeded; "
                                   "retry later")
        wait = math.ceil(current.window[0] - time.time()) if current else 60  # when this window's count expires
        response.headers["Retry-After"] = str(min(60, max(1, wait)))
        return response
