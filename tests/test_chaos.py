"""Chaos soak (issue 11): 300 uploads through two workers while pool processes and whole workers are killed,
Redis restarts and the webhook receiver goes away; afterwards nothing is lost, doubled, left open or orphaned.

PostgreSQL only: the soak lasts about 3.5 minutes, and a second run on SQLite would double that on a 2-core
machine; SQLite's lease, sweeper and outbox paths are exercised by test_leases_end_to_end, test_faults and
test_webhooks_end_to_end. Reproduce the printed counts with
`SHARED_DIR=../shared .venv/bin/python -m pytest tests/test_chaos.py -s` (TEST_POSTGRES_URL set).
"""
from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from shared.db import make_engine, make_sessionmaker
from shared.models import Analysis, Batch, Status, WebhookDelivery, WebhookEvent
from tests.chaos import Chaos, LeaseWatch, Web, owner_pid, plan
from tests.live import WebServer, Worker, emptied, isolated
from tests.receivers import Receiver
from tests.test_faults import private_redis  # noqa: F401 - private_redis is a fixture

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
# leases of 6 s renewed every 2 s; sweeps every second; webhook retries 0.5, 1, 2 ... 32 s (63 s in all)
ENV = {"LEASE_S": "6", "SWEEP_INTERVAL_S": "1", "TASK_SOFT_TIME_LIMIT": "20", "VISIBILITY_TIMEOUT": "60",
       "WEBHOOK_RETRY_BASE_S": "0.5", "WEBHOOK_POLL_S": "0.2", "WEBHOOK_READ_TIMEOUT_S": "2", "BATCH_CHUNK": "3",
       "RATE_LIMIT_PER_MINUTE": "100000"}
LOAD_S, CHAOS_AFTER_LOAD_S = 130, 20
# the backlog left after the load drains at the machine's pace (2 cores shared with two other test processes
# can leave a hundred analyses); waiting ends when nothing has moved for STALL_S (lost work stalls) or at
# SETTLE_MAX_S. STALL_S outlasts the quietest legitimate wait: a message a killed worker had reserved comes
# back after VISIBILITY_TIMEOUT (60 s), a webhook's longest back-off is 32 s
STALL_S, SETTLE_MAX_S = 90, 600
SAVED = re.compile(r"(?:analysis|batch) ([0-9a-f-]{36})")


class Load:
    """Submits the plan from two threads over LOAD_S, deleting some analyses soon after (queued or running)."""

    def __init__(self, web: Web, jobs, callback: str, rng: random.Random):
        self.web, self.jobs, self.callback, self.rng = web, list(jobs), callback, rng
        self.singles: dict[str, bool] = {}  # id -> asked for a callback
        self.batches: dict[str, tuple[bool, int]] = {}  # id -> (callback, files sent)
        self.refused = Counter()
        self.deleted: dict[str, str | None] = {}  # id -> its batch
        self.lock = threading.Lock()
        self.timers: list[threading.Timer] = []
        self.delete_answers = Counter()
        self.crashed: list[str] = []
        self.shas: dict[str, str] = {}  # id -> its file's digest, to explain an orphan
        self.deleted_while = Counter()  # the status each deleted analysis had just before

    def run(self) -> None:
        pace = 2 * LOAD_S / len(self.jobs)
        threads = [threading.Thread(target=self._guarded, args=(self._submit, self.jobs[i::2], pace))
                   for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for t in self.timers:
            t.join()

    def _guarded(self, step, *args) -> None:
        try:
            step(*args)
        except Exception as exc:  # noqa: BLE001 - kept for the assertion: a thread's exception is otherwise lost
            self.crashed.append(repr(exc))

    def _submit(self, jobs, pace: float) -> None:
        for job in jobs:
            data = {"callback_url": self.callback} if job.callback else {}
            if job.batch:
                resp = self.web.call("POST", "/api/v1/batches", data=data,
                                     files=[("files", (n, b)) for n, b in job.files])
            else:
                resp = self.web.call("POST", "/api/v1/analyses", data=data, files={"file": job.files[0]})
            with self.lock:
                if resp.status_code in (202, 503):
                    body = resp.json()
                    new_id = body.get("id") or SAVED.search(body.get("error", "")).group(1)
                    shared = new_id in self.singles  # identical bytes in flight: the same analysis, deleted once
                    self.shas[new_id] = body.get("sha256")
                    if job.batch:
                        self.batches[new_id] = (job.callback, len(job.files))
                    else:
                        self.singles[new_id] = job.callback
                    if not shared and self.rng.random() < (0.3 if job.batch else 0.1):  # soon: queued or running
                        timer = threading.Timer(self.rng.uniform(0, 1.5), self._guarded,
                                                args=(self._delete, new_id, job.batch))
                        self.timers.append(timer)
                        timer.start()
                else:
                    self.refused[(resp.status_code, job.files[0][0] if not job.batch else "batch")] += 1
            time.sleep(pace)

    def _delete(self, target: str, is_batch: bool) -> None:
        batch_id = None
        if is_batch:  # one item of the batch, unfinished if there is one
            items = self.web.call("GET", f"/api/v1/batches/{target}").json()["items"]
            items = [i for i in items if i["status"] in ("queued", "running")] or items
            batch_id, item = target, self.rng.choice(items)
            target, self.shas[item["id"]] = item["id"], item["sha256"]
        before = self.web.call("GET", f"/api/v1/analyses/{target}").json()["status"]
        resp = self.web.call("DELETE", f"/api/v1/analyses/{target}")
        with self.lock:
            self.delete_answers[resp.status_code] += 1
            if resp.status_code in (200, 204):
                self.deleted[target] = batch_id
                self.deleted_while[before] += 1


def unsettled(sessions, upload_dir: Path) -> tuple[int, int, int, int]:
    """What is left to settle: unfinished analyses, open batches, webhooks waiting, orphan files."""
    with sessions() as s:
        return (s.scalar(select(func.count()).where(Analysis.status.not_in(Status.FINAL))),
                s.scalar(select(func.count()).select_from(Batch).where(Batch.finished_at.is_(None))),
                s.scalar(select(func.count()).where(WebhookEvent.state.in_(["pending", "sending"]))),
                len(orphans(upload_dir, set(s.scalars(select(Analysis.sha256))))))


def wait_settled(sessions, upload_dir: Path) -> None:
    """Wait while the backlog still moves: until all is settled, nothing changed for STALL_S, or SETTLE_MAX_S."""
    start = last_move = time.monotonic()
    left = unsettled(sessions, upload_dir)
    while any(left) and time.monotonic() - last_move < STALL_S and time.monotonic() - start < SETTLE_MAX_S:
        time.sleep(1)
        now = unsettled(sessions, upload_dir)
        if now != left:
            left, last_move = now, time.monotonic()
    print(f"\nchaos soak: settled after {time.monotonic() - start:.0f} s; left {left}")


def orphans(upload_dir: Path, kept: set[str]) -> list[Path]:
    """Stored files no analysis needs: uploads and derived folders of digests no row has, left-over temp files."""
    files = [p for p in upload_dir.rglob("*") if p.is_file()]
    derived = [p for p in files if p.relative_to(upload_dir).parts[0] == "derived"]
    return [p for p in files if p not in derived and p.name not in kept] + [
        p for p in derived if p.parent.name not in kept]


def reason_class(error: str) -> str:
    return re.sub(r"\d+", "N", error.split(":")[0].split(";")[0])[:60]


def test_chaos_soak(tmp_path, postgres_url, private_redis):  # noqa: F811 - the fixture
    redis_url, procs, restart = private_redis
    overrides = isolated(tmp_path, "chaos", emptied(postgres_url), redis_url=redis_url, webhook_allow_private=True)
    sessions = make_sessionmaker(make_engine(overrides["database_url"]))

    def make_worker(name: str) -> Worker:
        return Worker(overrides, name=name, env=ENV)

    workers = [make_worker(n) for n in ("w1", "w2")]
    for w in workers:
        w.wait_ready()
    server = WebServer(overrides, env=ENV)
    web, receivers = Web(server.url), [Receiver()]
    watch = LeaseWatch(sessions)
    chaos = Chaos(random.Random(11), workers, make_worker, (redis_url, procs, restart), receivers)
    load = Load(web, plan(random.Random(12)), receivers[0].url, random.Random(13))
    try:
        watch.start()
        chaos.start()
        load.run()
        time.sleep(CHAOS_AFTER_LOAD_S)
        chaos.stop.set()
        chaos.join()  # everything is up again: the last action ends by bringing back what it took away
        wait_settled(sessions, overrides["upload_dir"])
        time.sleep(3)  # a late duplicate (same event and attempt) would arrive now
        watch.stop.set()
        try:
            check(sessions, load, chaos, watch, web, receivers, overrides["upload_dir"])
        except AssertionError as exc:  # show the server's side of any 5xx
            raise AssertionError(f"{exc}\n--- web server log ---\n{server.log_tail()}") from exc
    finally:
        watch.stop.set()
        chaos.stop.set()
        for w in chaos.all_workers:
            if w.proc.poll() is None:
                w.stop()
        server.stop()
        for r in receivers:
            r.close()
        sessions.kw["bind"].dispose()


def check(sessions, load: Load, chaos: Chaos, watch: LeaseWatch, web: Web, receivers, upload_dir: Path) -> None:
    with sessions() as s:
        rows = s.execute(select(Analysis.id, Analysis.status, Analysis.error, Analysis.batch_id, Analysis.sha256,
                                Analysis.attempts, Analysis.pipeline_runs, Analysis.reused_from)).all()
        batches = {b.id: b for b in s.scalars(select(Batch))}
        events = s.execute(select(WebhookEvent.id, WebhookEvent.kind, WebhookEvent.object_id,
                                  WebhookEvent.state)).all()
        records = s.scalar(select(func.count()).select_from(WebhookDelivery))
    by_id = {r.id: r for r in rows}
    logs = "".join("".join(w.log) for w in chaos.all_workers)

    assert not load.crashed and not chaos.crashed, (load.crashed, chaos.crashed)
    # 1. every analysis is done, or failed with its reason; deleted ones are gone
    assert {r.status for r in rows} <= set(Status.FINAL), Counter(r.status for r in rows)
    assert not [r.id for r in rows if r.status == Status.FAILED and not (r.error or "").strip()]
    assert set(load.delete_answers) <= {200, 204}, load.delete_answers
    assert not set(load.deleted) & set(by_id), "a deleted analysis came back"
    assert set(load.singles) - set(load.deleted) <= set(by_id), "an accepted upload was lost"

    # 2. no pipeline ran twice at once. The lease watcher saw each running analysis's owners (host:pid:token);
    # a lease changes hands only after its owner's process was SIGKILLed (so never while it still ran), and
    # pipeline_runs <= 1 + the leases that lapsed with a killed owner (a lapsed lease is the only way to rerun).
    overlaps, reruns = [], []
    for analysis_id, seen in watch.owners.items():
        for (a, _), (b, b_seen) in zip(seen, seen[1:]):
            if chaos.killed.get(owner_pid(a), float("inf")) > b_seen:
                overlaps.append((analysis_id, a, b))
    for r in rows:
        lapsed = [o for o, _ in watch.owners.get(r.id, []) if owner_pid(o) in chaos.killed]
        if r.pipeline_runs > 1 + len(lapsed) or r.pipeline_runs > r.attempts:
            reruns.append((r.id, r.pipeline_runs, r.attempts, lapsed))
    assert not overlaps, f"a lease was taken from a live owner: {overlaps[:5]}"
    assert not reruns, f"the pipeline ran again without a lapsed lease: {reruns[:5]}"

    # 3. every batch's counts are right
    for batch_id, (_, sent) in load.batches.items():
        body = web.call("GET", f"/api/v1/batches/{batch_id}").json()
        gone = sum(1 for b in load.deleted.values() if b == batch_id)
        assert body["total"] == sent - gone == sum(1 for r in rows if r.batch_id == batch_id), body
        counts = body["counts"]
        assert (counts["queued"], counts["running"], counts["done"] + counts["failed"]) == (0, 0, body["total"])
        assert body["progress"] == 1.0 and batches[batch_id].finished_at is not None, body

    # 4. every webhook event arrived at least once, never twice under one attempt number
    calls = [c for r in receivers for c in r.calls]
    per_attempt = Counter((c["headers"]["X-Deepfake-Event-Id"], c["headers"]["X-Deepfake-Attempt"]) for c in calls)
    assert max(per_attempt.values(), default=1) == 1, [k for k, n in per_attempt.items() if n > 1][:5]
    received = {c["headers"]["X-Deepfake-Event-Id"] for c in calls}
    bodies = b"\n".join(c["body"] for c in calls)
    wanted = [i for i, cb in load.singles.items() if cb and i not in load.deleted]
    wanted += [i for i, (cb, _) in load.batches.items() if cb]
    assert not [i for i in wanted if i.encode() not in bodies], "a callback never arrived"
    # an event is cancelled only when its analysis was deleted (after finishing) before it could be delivered
    undelivered = [e for e in events if (e.id not in received or e.state != "delivered")
                   and not (e.state == "cancelled" and e.object_id in load.deleted)]
    assert not undelivered, undelivered[:5]

    # 5. the web never answered 5xx, except the documented 503 (upload saved, runs later) while Redis was down
    errors = [a for a in web.answers if a[2] >= 500 and not (a[2] == 503 and "queue is unavailable" in a[3])]
    assert not errors, errors[:5]

    # 6. no orphan files: every stored upload and derived folder belongs to an existing analysis
    left = orphans(upload_dir, {r.sha256 for r in rows})
    assert not left, [(p.relative_to(upload_dir), [(i, watch.owners.get(i), [owner_pid(o) in chaos.killed for o, _
                         in watch.owners.get(i, [])]) for i in load.deleted if load.shas.get(i) in p.parts])
                         for p in left[:5]]

    summary = {
        "files planned": sum(len(j.files) for j in load.jobs), "singles accepted": len(load.singles),
        "batches accepted": len(load.batches), "refused at the boundary": {f"{c} {n}": k for (c, n), k in
                                                                          sorted(load.refused.items())},
        "503 while Redis was down (kept, ran later)": sum(1 for a in web.answers if a[2] == 503),
        "analyses": len(rows), "done": sum(r.status == Status.DONE for r in rows),
        "failed by reason": dict(Counter(reason_class(r.error) for r in rows if r.status == Status.FAILED)),
        "deleted": len(load.deleted), "deleted while": dict(load.deleted_while), **chaos.done,
        "pipeline runs": sum(r.pipeline_runs for r in rows), "analyses run twice (lease lapsed with a kill)":
            sum(r.pipeline_runs > 1 for r in rows), "leases taken": sum(r.attempts for r in rows),
        "duplicate deliveries dropped (live lease)": logs.count("leased by another worker"),
        "duplicates answered from an earlier result": sum(r.reused_from is not None for r in rows),
        "webhook events": len(events), "webhook events cancelled (deleted first)":
            sum(e.state == "cancelled" for e in events), "webhook attempts received": len(calls), "delivery records": records,
        "web requests": len(web.answers),
    }
    print("\nchaos soak:", json.dumps(summary, indent=1))
