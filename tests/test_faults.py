"""Faults lose nothing: a worker killed with SIGKILL mid-batch, Redis restarted mid-batch, the database gone."""
from __future__ import annotations

import io
import shutil
import subprocess
import uuid

import pytest
import redis
from sqlalchemy import text

from shared.db import make_engine
from shared.migrate import upgrade
from tests.conftest import POSTGRES_URL, REDIS_URL, make_jpeg
from tests.live import Worker, free_port, isolated, wait_for

pytestmark = pytest.mark.slow
# Short limits so a lost job comes back within a minute or so; the soft limit still leaves room for a
# chunk on a busy 2-core machine (the job returns VISIBILITY_TIMEOUT, at least hard limit + 10 s, after a kill).
FAST = {"TASK_SOFT_TIME_LIMIT": "30", "VISIBILITY_TIMEOUT": "60", "SWEEP_INTERVAL_S": "1"}


def make_overrides(tmp, redis_url=REDIS_URL, url=None):
    return isolated(tmp, "faults", url, redis_url=redis_url, batch_chunk=3)


def submit_batch(client, n: int, seed: int = 0) -> dict:
    files = [(io.BytesIO(make_jpeg((200 + i, 150), color=(seed, i * 9 % 255, 40))), f"f{i}.jpg") for i in range(n)]
    resp = client.post("/api/v1/batches", data={"files": files}, content_type="multipart/form-data")
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()


def test_worker_killed_with_sigkill_mid_batch_loses_nothing(tmp_path):
    from web import create_app

    overrides = make_overrides(tmp_path)
    app = create_app(overrides)
    client = app.test_client()
    first = Worker(overrides, name="doomed", env=FAST).wait_ready()
    batch = submit_batch(client, 12)
    status = lambda: client.get(batch["status_url"]).get_json()  # noqa: E731
    wait_for(lambda: status()["counts"]["running"] > 0 and status()["counts"]["done"] >= 3, 120, "work running")
    first.kill9()
    mid = status()["counts"]
    assert mid["done"] + mid["failed"] < 12, "the batch finished before the kill; nothing was tested"
    second = Worker(overrides, name="rescuer", env=FAST).wait_ready()
    try:
        final = wait_for(lambda: (s := status())["status"] == "done" and s, 240, "batch did not finish after the kill")
        assert final["counts"] == {"queued": 0, "running": 0, "done": 12, "failed": 0}, "".join(second.log)[-3000:]
    finally:
        second.stop()
        app.extensions["db_engine"].dispose()
        redis.Redis.from_url(REDIS_URL).delete(overrides["queue"])


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of our own (no persistence), so the test can stop and restart it."""
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is missing: scripts/setup.sh installs it")
    port = free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(tmp_path)]
    procs = [subprocess.Popen(args, stdout=subprocess.DEVNULL)]
    url = f"redis://127.0.0.1:{port}/0"
    wait_for(lambda: _pings(url), 10, "redis did not start")

    def restart():
        procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL))
        wait_for(lambda: _pings(url), 10, "redis did not restart")

    yield url, procs, restart
    for p in procs:
        p.kill()
        p.wait()


def _pings(url: str) -> bool:
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False


def test_redis_restart_mid_batch_loses_nothing(tmp_path, private_redis):
    from web import create_app

    url, procs, restart = private_redis
    overrides = make_overrides(tmp_path, redis_url=url)
    app = create_app(overrides)
    client = app.test_client()
    worker = Worker(overrides, env=FAST).wait_ready()
    try:
        batch = submit_batch(client, 15, seed=77)
        status = lambda: client.get(batch["status_url"]).get_json()  # noqa: E731
        wait_for(lambda: status()["counts"]["done"] >= 3, 120, "no progress")
        redis.Redis.from_url(url).shutdown(nosave=True)  # the queue's contents are gone with it
        procs[0].wait()
        # while it is down: uploads get a clear 503 (and are kept); reading results still works
        down = client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg(color=(3, 3, 3))), "d.jpg")},
                           content_type="multipart/form-data")
        assert down.status_code == 503 and "queue is unavailable" in down.get_json()["error"]
        assert client.get(batch["status_url"]).status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["checks"]["redis"].startswith("unavailable")
        restart()
        final = wait_for(lambda: (s := status())["status"] == "done" and s, 240, "batch did not finish after restart")
        assert final["counts"]["done"] == 15 and final["counts"]["failed"] == 0, "".join(worker.log)[-3000:]
        saved_id = down.get_json()["error"].split("analysis ")[1].split()[0]
        wait_for(lambda: client.get(f"/api/v1/analyses/{saved_id}").get_json()["status"] == "done", 120,
                 "the upload refused with 503 was never analysed")
    finally:
        worker.stop()
        app.extensions["db_engine"].dispose()


def test_database_unreachable_gives_503(tmp_path):
    from web import create_app

    app = create_app(make_overrides(tmp_path, url="postgresql://postgres@127.0.0.1:1/nowhere"))
    client = app.test_client()
    for resp in (client.get("/api/v1/analyses"), client.get("/api/v1/analyses/abc"),
                 client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg()), "a.jpg")},
                             content_type="multipart/form-data")):
        assert resp.status_code == 503 and "database is unavailable" in resp.get_json()["error"]
    assert client.get("/history").status_code == 503
    assert client.get("/readyz").get_json()["checks"]["database"].startswith("unavailable")


@pytest.mark.postgres
def test_worker_retries_while_the_database_is_gone(tmp_path):
    """The database vanishes (renamed) before the worker reads the job; the task retries until it is back."""
    if not POSTGRES_URL:
        pytest.skip("TEST_POSTGRES_URL is not set")
    from web import create_app

    name = f"deepfake_retry_{uuid.uuid4().hex[:8]}"
    admin = make_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    overrides = make_overrides(tmp_path, url=url)
    app = create_app(overrides)
    client = app.test_client()
    sub = client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg()), "r.jpg")},
                      content_type="multipart/form-data").get_json()
    app.extensions["db_engine"].dispose()
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" RENAME TO "{name}_away"'))
    worker = Worker(overrides, env=FAST).wait_ready()
    try:
        wait_for(lambda: "Retry in" in "".join(worker.log), 60, "the task did not retry")
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}_away" RENAME TO "{name}"'))
        wait_for(lambda: client.get(sub["status_url"]).get_json()["status"] == "done", 120, "not done after retry")
    finally:
        worker.stop()
        app.extensions["db_engine"].dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}_away" WITH (FORCE)'))
        admin.dispose()
