"""`python -m shared.redis_check URL`: exit 0 when a Redis answers PING at URL (used by the scripts)."""
from __future__ import annotations

import sys

import redis


def ping(url: str, timeout: float = 1.0) -> bool:
    """True when the Redis at `url` answers."""
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping())
    except redis.RedisError:
        return False


if __name__ == "__main__":
    sys.exit(0 if ping(sys.argv[1]) else 1)
