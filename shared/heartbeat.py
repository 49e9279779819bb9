"""Worker heartbeats in Redis: workers refresh a key with a TTL; /readyz lists the live ones."""
from __future__ import annotations

import redis

PREFIX = "deepfake:worker:"


def beat(client: redis.Redis, queue: str, hostname: str, pid: int, ttl_s: int) -> None:
    client.set(f"{PREFIX}{queue}:{hostname}", pid, ex=ttl_s)


def alive(client: redis.Redis, queue: str) -> list[str]:
    """Hostnames of the workers of `queue` whose heartbeat has not expired."""
    prefix = f"{PREFIX}{queue}:"
    return sorted(k.decode()[len(prefix):] for k in client.scan_iter(prefix + "*", count=100))
