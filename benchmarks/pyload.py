"""Fallback load generator (no wrk): keep-alive HTTP/1.1 clients in threads of this separate process.

Python threads share one core's worth of interpreter, so this under-reports a fast server;
wrk (`apt-get install wrk`) is preferred and used automatically when found.
"""
from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit


def main(url: str, seconds: float, connections: int) -> dict:
    parts = urlsplit(url)
    stop = time.perf_counter() + seconds
    lat: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        while time.perf_counter() < stop:
            t = time.perf_counter()
            try:
                conn.request("GET", parts.path)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    errors[i] += 1
            except OSError:
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
                continue
            lat[i].append(time.perf_counter() - t)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    allv = sorted(v for per in lat for v in per)
    q = lambda p: round(1000 * allv[min(len(allv) - 1, int(p * len(allv)))], 2) if allv else None
    return {"tool": "python", "connections": connections, "seconds": seconds, "rps": round(len(allv) / wall, 1),
            "requests": len(allv), "p50_ms": q(0.5), "p90_ms": q(0.9), "p99_ms": q(0.99), "non_2xx": sum(errors),
            "socket_errors": ""}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]))))
