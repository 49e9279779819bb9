"""`make run` as a user runs it: Redis started when none answers, worker and web up, Ctrl-C stops what it started."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from shared.redis_check import ping
from tests.conftest import camera_like_jpeg
from tests.live import ROOT, free_port, process_tree, still_running
from tests.test_metrics import parse

pytestmark = pytest.mark.slow


def command_line(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_run_script_serves_a_verdict_and_ctrl_c_stops_everything(tmp_path):
    port, redis_port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    assert not ping(redis_url)
    env = dict(os.environ, DATA_DIR=str(tmp_path / "data"), PORT=str(port), REDIS_URL=redis_url,
               WEB_WORKERS="1", PYTHONUNBUFFERED="1")
    for name in ("DATABASE_URL", "UPLOAD_DIR", "CELERY_QUEUE", "SECRET_KEY", "PROMETHEUS_MULTIPROC_DIR",
                 "METRICS_TOKEN"):
        env.pop(name, None)
    log = open(tmp_path / "run.log", "w+")
    # its own process group, as a terminal gives it; Ctrl-C is SIGINT to that whole group
    proc = subprocess.Popen(["bash", "scripts/run.sh"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while "running at" not in (tmp_path / "run.log").read_text():
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "run.log").read_text()[-3000:]
            time.sleep(0.05)
        assert requests.get(base + "/healthz", timeout=2).status_code == 200  # the URL it printed answers at once
        while time.monotonic() < deadline:
            try:
                if requests.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            time.sleep(1)
        else:
            pytest.fail("service not ready:\n" + (tmp_path / "run.log").read_text()[-3000:])
        assert ping(redis_url), "run.sh should have started its own Redis"
        photo = camera_like_jpeg(tmp_path / "p.jpg")
        sub = requests.post(base + "/api/v1/analyses", files={"file": ("p.jpg", io.BytesIO(photo.read_bytes()))},
                            timeout=10).json()
        deadline = time.monotonic() + 120
        while (body := requests.get(base + sub["status_url"], timeout=5).json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert body["status"] == "done" and body["verdict"] in ("real", "uncertain", "fake")
        assert (tmp_path / "data" / "deepfake.db").exists()
        # the worker's pool process wrote its stage timings where the web (another process) reads them
        scrape = parse(requests.get(base + "/metrics", timeout=5).text)
        assert scrape[("deepfake_pipeline_stage_seconds_count", (("stage", "total"),))] == 1
    finally:
        # every process it started, by pid tree: the fleet's workers run in process groups of their own
        tree = process_tree(proc.pid)
        commands = [command_line(pid) for pid in tree]
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("run.sh did not stop on Ctrl-C")
    time.sleep(1)
    left = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert not left, f"processes left running: {left}"
    assert not still_running(tree), f"processes left running: {still_running(tree)}"
    for pool in ("interactive", "general"):  # the check saw the fleet's workers
        assert any(f"--hostname={pool}-" in cmd for cmd in commands), commands
    assert not ping(redis_url), "the Redis it started is still running"
    assert "running at" in (tmp_path / "run.log").read_text()
