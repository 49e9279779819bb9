"""A pool process killed (OOM killer, hard time limit) is replaced once, and the replacement takes work."""
from __future__ import annotations

import io
import os
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import make_jpeg
from tests.live import Worker, app_for, isolated, wait_for

pytestmark = pytest.mark.slow


def pool_pid(worker: Worker) -> int:
    """The worker's one pool process."""
    pid = worker.proc.pid
    children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    assert len(children) == 1, children
    return children[0]


def test_a_killed_pool_process_is_replaced_once_and_takes_work(tmp_path):
    overrides = isolated(tmp_path, "pool")
    with app_for(overrides) as app:
        # each pool process takes 6 s more to load, as on a busy machine (tests/slow_start.py)
        worker = Worker(overrides, app="tests.slow_start").wait_ready()
        try:
            first = pool_pid(worker)
            os.kill(first, signal.SIGKILL)
            # the replacement loads the model and exiftool before it reports UP; Celery must wait for it
            wait_for(lambda: "".join(worker.log).count("worker process ready") >= 2, 60,
                     "no replacement came up:\n" + "".join(worker.log)[-3000:])
            replacement = pool_pid(worker)
            assert replacement != first
            client = app.test_client()
            resp = client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg()), "a.jpg")},
                               content_type="multipart/form-data")
            assert resp.status_code == 202
            started = time.monotonic()
            body = wait_for(lambda: (b := client.get(resp.get_json()["status_url"]).get_json())["status"]
                            in ("done", "failed") and b, 30, "the replacement took no work")
            assert body["status"] == "done", body
            assert time.monotonic() - started < 15
            log = "".join(worker.log)
            assert "Timed out waiting for UP message" not in log, log[-3000:]
            assert log.count("worker process ready") == 2, log[-3000:]  # replaced once, not killed again
            assert pool_pid(worker) == replacement
        finally:
            worker.stop()
