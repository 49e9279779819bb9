"""Load on the status endpoint from a second process: wrk when installed, else a Python client."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys


def status_load(url: str, seconds: float = 10, connections: int = 32) -> dict:
    """Requests/s and p50/p99 latency of GET url under `connections` concurrent keep-alive clients."""
    assert url.startswith("http://127.0.0.1:"), "load only goes to this machine"
    if shutil.which("wrk"):
        return _wrk(url, seconds, connections)
    out = subprocess.run([sys.executable, "-m", "benchmarks.pyload", url, str(seconds), str(connections)],
                         capture_output=True, text=True, timeout=seconds + 60, check=True)
    return json.loads(out.stdout)


def _wrk(url: str, seconds: float, connections: int) -> dict:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "5s", "--latency", url]
    text = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    pct = {m[0]: _ms(m[1], m[2]) for m in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_err = re.search(r"Socket errors: (.*)", text)
    return {"tool": "wrk", "connections": connections, "seconds": seconds,
            "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
            "requests": int(re.search(r"(\d+) requests in", text).group(1)),
            "p50_ms": pct.get("50"), "p90_ms": pct.get("90"), "p99_ms": pct.get("99"),
            "non_2xx": int(errors.group(1)) if errors else 0, "socket_errors": socket_err.group(1) if socket_err else ""}


def _ms(value: str, unit: str) -> float:
    return round(float(value) * {"us": 1e-3, "ms": 1.0, "s": 1000.0}[unit], 2)
