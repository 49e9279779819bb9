"""The real service for the end-to-end figures: a temporary SQLite database, upload folder and
queue, real Celery worker process(es) and gunicorn (tests/live.py), started and cleaned up here."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import redis
import requests
from sqlalchemy import func, select

from shared.db import make_engine, make_sessionmaker
from shared.migrate import upgrade
from shared.models import Analysis, Status
from shared.settings import Settings
from tests.live import Fleet, WebServer, Worker, children
from worker.fleet import cores, plan

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


class Stack:
    """Workers + web server on throw-away state; use as a context manager."""

    def __init__(self, concurrency: int = 1, fleet: bool = False):
        """fleet: `python -m worker.fleet` as `make run` starts it (WORKER_* from the environment), not one worker."""
        self.concurrency, self.fleet = concurrency, fleet
        self.tmp = Path(tempfile.mkdtemp(prefix="deepfake-bench-"))
        self.url = f"sqlite:///{self.tmp / 'bench.db'}"
        queue = f"bench-{uuid.uuid4().hex[:10]}"
        self.overrides = {"data_dir": self.tmp, "database_url": self.url, "upload_dir": self.tmp / "uploads",
                          "redis_url": REDIS_URL, "queue": queue, "bulk_queue": f"{queue}-bulk",
                          "maps_queue": f"{queue}-maps", "secret_key": "bench"}
        self.worker: Worker | None = None
        self.web: WebServer | None = None
        self.sessions = None

    def __enter__(self) -> Stack:
        # the API's per-client limit (120/min by default) would turn the load into 429s; a huge limit
        # keeps the limiter's Redis round trip in every request, as in production
        os.environ["RATE_LIMIT_PER_MINUTE"] = "1000000000"
        upgrade(self.url)
        self.engine = make_engine(self.url)
        self.sessions = make_sessionmaker(self.engine)
        t = time.perf_counter()
        if self.fleet:
            pools = plan(Settings.from_env(**self.overrides), cores())
            self.worker = Fleet(self.overrides).wait_up(len(pools), sum(p.concurrency for p in pools), timeout=300)
        else:
            self.worker = Worker(self.overrides, name="bench", concurrency=self.concurrency).wait_ready(timeout=300)
            while "".join(self.worker.log).count("worker process ready") < self.concurrency:
                time.sleep(0.2)  # every pool process has its model loaded
        self.worker_start_s = time.perf_counter() - t
        self.web = WebServer(self.overrides, workers=None)  # `make run`'s web settings (gunicorn.conf.py)
        return self

    def __exit__(self, *exc) -> None:
        for part in (self.web, self.worker):
            if part is not None:
                try:
                    part.stop()
                except Exception as err:  # noqa: BLE001 - keep cleaning up the rest
                    print(f"[bench] could not stop {part.__class__.__name__}: {err}", file=sys.stderr)
        if self.sessions is not None:
            self.engine.dispose()
        redis.Redis.from_url(REDIS_URL).delete(*(self.overrides[k] for k in ("queue", "bulk_queue", "maps_queue")))
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- measurements -------------------------------------------------------------------------

    def upload(self, http: requests.Session, path: str) -> dict:
        with open(path, "rb") as f:
            r = http.post(f"{self.web.url}/api/v1/analyses", files={"file": (Path(path).name, f, "image/jpeg")},
                          timeout=60)
        r.raise_for_status()
        return r.json()

    def post_files(self, http: requests.Session, paths: list[str]) -> str:
        """One POST /api/v1/batches with every file; the new batch's id."""
        handles = [open(p, "rb") for p in paths]
        try:
            r = http.post(f"{self.web.url}/api/v1/batches", timeout=600,
                          files=[("files", (Path(p).name, f, "image/jpeg")) for p, f in zip(paths, handles)])
        finally:
            for f in handles:
                f.close()
        r.raise_for_status()
        return r.json()["id"]

    def post_batch(self, http: requests.Session, paths: list[str]) -> list[str]:
        """One POST /api/v1/batches with every file; the ids of its analyses."""
        batch_id = self.post_files(http, paths)
        with self.sessions() as s:
            return list(s.scalars(select(Analysis.id).where(Analysis.batch_id == batch_id)))

    def bulk(self, paths: list[str], api: str = "batches", per_request: int = 50, upload_threads: int = 2,
             timeout: float = 1800) -> dict:
        """Submit every file (batches of per_request files, or one upload each), then wait for the
        last verdict in the database; timed from the first upload's start."""
        local = threading.local()

        def one(group: list[str]) -> list[str]:
            if not hasattr(local, "http"):
                local.http = requests.Session()
            if api == "batches":
                return self.post_batch(local.http, group)
            return [self.upload(local.http, p)["id"] for p in group]

        step = per_request if api == "batches" else 1
        groups = [paths[i:i + step] for i in range(0, len(paths), step)]
        t0 = time.time()
        with ThreadPoolExecutor(upload_threads) as pool:
            ids = [i for group in pool.map(one, groups) for i in group]
        uploaded_s = time.time() - t0
        deadline = time.monotonic() + timeout
        with self.sessions() as s:
            while True:
                final = s.scalar(select(func.count()).select_from(Analysis)
                                 .where(Analysis.id.in_(ids), Analysis.status.in_(Status.FINAL)))
                if final == len(ids) or time.monotonic() > deadline:
                    break
                time.sleep(0.25)
                s.expire_all()
            rows = s.execute(select(Analysis.id, Analysis.status, Analysis.created_at, Analysis.started_at,
                                    Analysis.finished_at, Analysis.result, Analysis.error)
                             .where(Analysis.id.in_(ids))).all()
        done = [r for r in rows if r.status == Status.DONE]
        last = max(_ts(r.finished_at) for r in rows if r.finished_at)
        wall = last - t0
        per = [{"queue_wait_s": _ts(r.started_at) - _ts(r.created_at), "task_s": _ts(r.finished_at) - _ts(r.started_at),
                "timings": (r.result or {}).get("timings", {})} for r in done]
        return {"api": api, "files_per_request": step, "n": len(ids), "n_done": len(done), "n_failed": sum(r.status == Status.FAILED for r in rows),
                "n_unfinished": len(ids) - len([r for r in rows if r.status in Status.FINAL]),
                "errors": sorted({r.error for r in rows if r.error})[:10],
                "upload_phase_s": round(uploaded_s, 2), "wall_s": round(wall, 2),
                "ips": round(len(done) / wall, 3), "per_analysis": per, "ids": ids}

    def single_latency(self, paths: list[str], poll_s: float = 0.02, maps: bool = True) -> list[dict]:
        """One upload at a time: upload → verdict (`done`) seen through the status endpoint, then, with
        maps, verdict → maps `ready` the same way (the next upload waits for them, so maps never delay it)."""
        http = requests.Session()
        out = []
        for p in paths:
            t0 = time.perf_counter()
            sub = self.upload(http, p)
            body = self._poll(http, sub["status_url"], lambda b: b["status"] in Status.FINAL, poll_s)
            t_verdict = time.perf_counter()
            sample = {"ms": round(1000 * (t_verdict - t0), 1), "status": body["status"],
                      "total_s": (body.get("result") or {}).get("timings", {}).get("total_s")}
            if maps and body["status"] == Status.DONE:
                body = self._poll(http, sub["status_url"], lambda b: b.get("maps_state") in ("ready", "failed"), poll_s)
                sample |= {"maps_ms": round(1000 * (time.perf_counter() - t_verdict), 1), "maps_state": body["maps_state"]}
            out.append(sample)
        return out

    def _poll(self, http: requests.Session, status_url: str, until, poll_s: float, timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            body = http.get(f"{self.web.url}{status_url}", timeout=30).json()
            if until(body) or time.monotonic() > deadline:
                return body
            time.sleep(poll_s)

    def under_bulk(self, single_paths: list[str], bulk_paths: list[str], per_request: int = 50) -> dict:
        """Single uploads, one at a time, while a batch of bulk_paths runs: submitted as batches, the
        singles start once the worker has begun the bulk work. The bulk is left unfinished (the stack
        is thrown away); what it did meanwhile is reported."""
        def submit() -> None:
            http = requests.Session()
            for i in range(0, len(bulk_paths), per_request):
                self.post_files(http, bulk_paths[i:i + per_request])

        submitter = threading.Thread(target=submit, daemon=True)
        batch_rows = select(func.count()).select_from(Analysis).where(Analysis.batch_id.is_not(None))
        with self.sessions() as s:
            done_before = s.scalar(batch_rows.where(Analysis.status.in_(Status.FINAL)))
            t0 = time.time()
            submitter.start()
            while not s.scalar(batch_rows.where(Analysis.status.in_(Status.FINAL))) > done_before:
                time.sleep(0.1)  # the bulk is running: its first files are done
                s.expire_all()
            started = s.scalar(batch_rows.where(Analysis.status.in_(Status.FINAL)))
            samples = self.single_latency(single_paths, maps=False)
            s.expire_all()
            done_meanwhile = s.scalar(batch_rows.where(Analysis.status.in_(Status.FINAL))) - started
        t1 = time.time()
        submitter.join()
        with self.sessions() as s:
            waiting = s.scalar(batch_rows.where(Analysis.status.not_in(Status.FINAL)))
        return {"samples": samples, "bulk_files": len(bulk_paths), "bulk_done_during_singles": done_meanwhile,
                "bulk_still_waiting_after": waiting, "singles_window_s": round(t1 - t0, 1)}

    def status_without_rate_limit(self, analysis_id: str, seconds: float) -> dict:
        """The in-progress status load again on a second web server with the rate limiter off (a lever)."""
        from benchmarks import load

        os.environ["RATE_LIMIT_PER_MINUTE"] = "0"
        try:
            web = WebServer(self.overrides)
        except Exception as err:  # noqa: BLE001 - an optional figure never costs the run
            return {"error": repr(err)}
        finally:
            os.environ["RATE_LIMIT_PER_MINUTE"] = "1000000000"
        try:
            return load.status_load(f"{web.url}/api/v1/analyses/{analysis_id}", seconds)
        except Exception as err:  # noqa: BLE001
            return {"error": repr(err)}
        finally:
            web.stop()

    def queued_row(self) -> str:
        """An analysis that stays queued (nothing enqueued): what a poller asks about most."""
        with self.sessions() as s:
            a = Analysis(filename="poll.jpg", sha256="0" * 64, media_type="image/jpeg", size_bytes=1, width=1, height=1)
            s.add(a)
            s.commit()
            return a.id

    def main_pids(self) -> list[int]:
        """The Celery workers' main processes (the fleet's workers, or the one worker)."""
        return list(self.worker.pools().values()) if self.fleet else [self.worker.proc.pid]

    def pool_pids(self) -> list[int]:
        """The prefork pool processes (where the model lives)."""
        return [c for pid in self.main_pids() for c in children(pid)]

    def memory(self) -> dict:
        """Resident memory of every worker process (pool processes hold the model), and their total, MB."""
        pools = {pid: rss_mb(pid) for pid in self.pool_pids()}
        mains = {pid: rss_mb(pid) for pid in self.main_pids()}
        return {"pool_processes": pools, "main_processes": mains,
                "exiftool": [rss_mb(c) for pid in pools for c in children(pid)],
                "peak_rss_mb": max(v["peak_rss_mb"] for v in pools.values()),
                "total_rss_mb": round(sum(v["rss_mb"] for v in (*pools.values(), *mains.values())), 1)}

    def bulk_rate(self, seconds: float) -> dict:
        """Batch files finished per second over `seconds` with nothing else submitted (the batch still running)."""
        batch_done = (select(func.count()).select_from(Analysis)
                      .where(Analysis.batch_id.is_not(None), Analysis.status.in_(Status.FINAL)))
        with self.sessions() as s:
            before, t0 = s.scalar(batch_done), time.monotonic()
            time.sleep(seconds)
            s.expire_all()
            after, t1 = s.scalar(batch_done), time.monotonic()
        return {"files": after - before, "seconds": round(t1 - t0, 1), "ips": round((after - before) / (t1 - t0), 3)}


def rss_mb(pid: int) -> dict:
    """Current (VmRSS) and peak (VmHWM) resident memory of a process, MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, val = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(val.split()[0]) / 1024, 1)
    return {"rss_mb": out.get("VmRSS"), "peak_rss_mb": out.get("VmHWM")}


def _ts(dt: datetime) -> float:
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
