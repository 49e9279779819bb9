"""Parts of the chaos soak (tests/test_chaos.py): the upload plan, an HTTP client that records every answer,
a watcher of who holds each analysis's lease, and the chaos thread that kills and restarts things."""
from __future__ import annotations

import io
import os
import random
import signal
import struct
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field

import redis
import requests
from sqlalchemy import select

from shared.models import Analysis, Status
from tests.conftest import make_jpeg
from tests.hostile import a1111_quadratic, sliver, stealth_bomb
from tests.live import Worker
from tests.receivers import Receiver


def huge_header_png(side: int = 60_000) -> bytes:
    """A tiny PNG whose header claims side x side pixels (a decompression bomb judged by its header)."""
    png = bytearray(make_png_1px())
    png[16:24] = struct.pack(">II", side, side)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    return bytes(png)


def make_png_1px() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, "PNG")
    return buf.getvalue()


def hostile_files() -> dict[str, bytes]:
    """One of each kind: truncated, not an image, bombs (by header, by hidden text), a sliver, slow text."""
    return {"truncated.jpg": make_jpeg((96, 72), color=(1, 2, 3))[:700], "notes.txt": b"not an image\n" * 40,
            "header-bomb.png": huge_header_png(), "stealth-bomb.png": stealth_bomb(64, side=1024),
            "sliver.png": sliver(), "a1111-slow.png": a1111_quadratic(20_000)}


@dataclass
class Job:
    """One request of the plan: a single upload or a batch, with or without a callback."""

    files: list[tuple[str, bytes]]
    batch: bool
    callback: bool


def plan(rng: random.Random, n: int = 300) -> list[Job]:
    """n files: mostly small distinct JPEGs, some repeats of earlier bytes, some hostile; singles and batches."""
    hostile = list(hostile_files().items())
    fresh: list[tuple[str, bytes]] = []
    files = []
    for k in range(n):
        roll = rng.random()
        if roll < 0.14 and fresh:
            files.append(rng.choice(fresh))
        elif roll < 0.26:
            files.append(hostile[k % len(hostile)])
        else:
            item = (f"p{k}.jpg", make_jpeg((64 + k % 48, 48 + k % 32), color=(k % 256, k * 37 % 256, 90)))
            fresh.append(item)
            files.append(item)
    jobs, i = [], 0
    while i < n:
        size = rng.randint(2, 6) if rng.random() < 0.35 else 1
        jobs.append(Job(files[i:i + size], batch=size > 1, callback=rng.random() < 0.4))
        i += size
    return jobs


@dataclass
class Web:
    """HTTP to the web server; every answer's status is recorded (the soak asserts there is no 5xx)."""

    url: str
    answers: list[tuple[str, str, int, str]] = field(default_factory=list)
    local: threading.local = field(default_factory=threading.local)

    def call(self, method: str, path: str, **kw) -> requests.Response:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        resp = self.local.session.request(method, self.url + path, timeout=60, **kw)
        self.answers.append((method, path, resp.status_code, resp.text[:300] if resp.status_code >= 500 else ""))
        return resp


class LeaseWatch(threading.Thread):
    """Polls the database for who holds the lease of each running analysis: {id: [(owner, first seen)]}."""

    def __init__(self, sessions, interval: float = 0.2):
        super().__init__(name="lease-watch", daemon=True)
        self.sessions, self.interval = sessions, interval
        self.owners: dict[str, list[tuple[str, float]]] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                with self.sessions() as s:
                    rows = s.execute(select(Analysis.id, Analysis.lease_owner).where(
                        Analysis.status == Status.RUNNING, Analysis.lease_owner.is_not(None))).all()
            except Exception:  # noqa: S112 - the database is not part of the chaos; a missed round is harmless
                continue
            now = time.monotonic()
            for analysis_id, owner in rows:
                seen = self.owners.setdefault(analysis_id, [])
                if not seen or seen[-1][0] != owner:
                    seen.append((owner, now))


def owner_pid(owner: str) -> int:
    """The pid in a lease owner (host:pid:token)."""
    return int(owner.split(":")[-2])


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


class Chaos(threading.Thread):
    """Every few seconds (seeded): SIGKILL a pool process, SIGKILL a whole worker and start it again, restart
    Redis, or take the webhook receiver away for 10-20 s. Records what it did and which pids it killed when."""

    def __init__(self, rng: random.Random, workers: list[Worker], make_worker, redis_ctl, receivers: list[Receiver]):
        super().__init__(name="chaos", daemon=True)
        self.rng, self.workers, self.make_worker = rng, workers, make_worker
        self.redis_url, self.redis_procs, self.redis_restart = redis_ctl
        self.receivers = receivers
        self.port = int(receivers[0].url.split(":")[2].split("/")[0])
        self.killed: dict[int, float] = {}  # pid -> when
        self.done = Counter()
        self.all_workers = list(workers)
        self.stop = threading.Event()
        self.receiver_back_at = 0.0
        self.crashed: list[str] = []

    def run(self) -> None:
        actions = [self.kill_pool, self.kill_worker, self.restart_redis, self.receiver_outage]
        while not self.stop.wait(self.rng.uniform(4, 8)):
            action = self.rng.choice(actions)
            if action == self.receiver_outage and time.monotonic() - self.receiver_back_at < 30:
                action = self.kill_pool  # outages at least 30 s apart, so 8 attempts always span one
            try:
                action()
            except Exception as exc:  # noqa: BLE001 - kept for the assertion: a thread's exception is otherwise lost
                self.crashed.append(repr(exc))
                return

    def kill_pool(self) -> None:
        worker = self.rng.choice(self.workers)
        pool = children(worker.proc.pid)
        if pool:
            pid = self.rng.choice(pool)
            self.killed[pid] = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            self.done["pool processes killed"] += 1

    def kill_worker(self) -> None:
        i = self.rng.randrange(len(self.workers))
        worker = self.workers[i]
        now = time.monotonic()
        for pid in [worker.proc.pid, *children(worker.proc.pid)]:
            self.killed[pid] = now
        worker.kill9()
        self.done["workers killed and restarted"] += 1
        self.workers[i] = self.make_worker(f"r{self.done['workers killed and restarted']}")
        self.all_workers.append(self.workers[i])
        self.workers[i].wait_ready()

    def restart_redis(self) -> None:
        redis.Redis.from_url(self.redis_url).shutdown(nosave=True)
        self.redis_procs[-1].wait()
        time.sleep(self.rng.uniform(1, 4))
        self.redis_restart()
        self.done["redis restarts"] += 1

    def receiver_outage(self) -> None:
        self.receivers[-1].close()
        time.sleep(self.rng.uniform(10, 20))
        self.receivers.append(Receiver(port=self.port))
        self.receiver_back_at = time.monotonic()
        self.done["receiver outages"] += 1
