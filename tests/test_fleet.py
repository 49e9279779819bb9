"""`python -m worker.fleet` as it runs: an interactive pool beside a general one, stopped and failed as a whole."""
from __future__ import annotations

import io
import os
import signal
import socket
import time

import pytest
from celery import Celery
from sqlalchemy import select

from shared.models import Analysis
from tests.conftest import REDIS_URL, make_jpeg
from tests.live import Fleet, app_for, children, isolated, process_tree, still_running, wait_final, wait_for

pytestmark = pytest.mark.slow
CHUNK, SLICE, NICE = 8, 2, 10
POOLS = {"WORKER_INTERACTIVE": "1", "WORKER_CONCURRENCY": "1", "BULK_NICE": str(NICE)}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    overrides = isolated(tmp_path_factory.mktemp("fleet"), "fleet", batch_chunk=CHUNK)
    with app_for(overrides) as app:
        fleet = Fleet(overrides, env=POOLS | {"BATCH_CHUNK": str(CHUNK), "BULK_SLICE": str(SLICE)})
        try:
            yield app, fleet.wait_up(pools=2, processes=2), overrides
        finally:
            fleet.stop()


def owner_pid(a: Analysis) -> int:
    return int(a.lease_owner.split(":")[1])  # lease owner: host:pid:token


def test_both_pools_come_up_with_their_queues_and_the_general_one_niced(stack):
    _, fleet, overrides = stack
    pools = fleet.pools()
    assert set(pools) == {"interactive", "general"}
    names = {name: f"{name}-{fleet.proc.pid}@{socket.gethostname()}" for name in pools}
    control = Celery(broker=REDIS_URL).control
    replies = control.inspect(destination=list(names.values()), timeout=5).active_queues() or {}
    queues = {name: [q["name"] for q in replies.get(node, [])] for name, node in names.items()}
    everything = [overrides[k] for k in ("queue", "bulk_queue", "maps_queue")]
    assert sorted(queues["interactive"]) == [overrides["queue"]] and sorted(queues["general"]) == sorted(everything)
    base = os.getpriority(os.PRIO_PROCESS, fleet.proc.pid)
    for name, nice in (("interactive", base), ("general", min(19, base + NICE))):
        procs = [pools[name], *children(pools[name])]
        assert len(procs) == 2 and {os.getpriority(os.PRIO_PROCESS, p) for p in procs} == {nice}, name
    log = "".join(fleet.log)
    assert f"pool general (pid {pools['general']}): queues {','.join(everything)}, concurrency 1, nice {NICE}" in log
    assert "worker process warm-up: the first forward pass took" in log


def test_a_single_upload_runs_on_the_interactive_pool_while_the_general_one_runs_a_batch(stack):
    app, fleet, _ = stack
    client = app.test_client()
    files = [(io.BytesIO(make_jpeg((240, 240), color=(i * 9, 255 - i * 9, 60))), f"b{i}.jpg") for i in range(16)]
    batch = client.post("/api/v1/batches", data={"files": files}, content_type="multipart/form-data").get_json()
    wait_for(lambda: client.get(batch["status_url"]).get_json()["counts"]["queued"] < 16, 120,
             "the batch never started:\n" + "".join(fleet.log)[-3000:])
    single = client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg((240, 240), color=(1, 2, 3))),
                                                            "person.jpg")},
                         content_type="multipart/form-data").get_json()
    assert wait_final(lambda url: client.get(url).get_json(), single["status_url"], 120)["status"] == "done"
    wait_for(lambda: client.get(batch["status_url"]).get_json()["status"] == "done", 300, "the batch never finished")

    with app.extensions["db_sessionmaker"]() as s:
        person = s.get(Analysis, single["id"])
        items = s.scalars(select(Analysis).where(Analysis.batch_id == batch["id"])).all()
    pools = fleet.pools()
    assert owner_pid(person) in children(pools["interactive"])
    assert {owner_pid(a) for a in items} <= set(children(pools["general"]))
    # the general pool was in the middle of a slice when the upload started: it did not wait for it
    assert any(a.started_at <= person.started_at <= a.finished_at for a in items)


def bare_fleet(tmp_path) -> Fleet:
    """A fleet whose pool processes load no model: supervision does not need one, and it starts in seconds."""
    return Fleet(isolated(tmp_path, "bare"), env=POOLS | {"WORKER_PRELOAD": "0"}).wait_up(pools=2)


def test_sigterm_stops_every_worker_and_pool_process(tmp_path):
    fleet = bare_fleet(tmp_path)
    tree = process_tree(fleet.proc.pid)
    assert len(tree) >= 5, tree  # the fleet, two workers, a pool process each
    fleet.proc.send_signal(signal.SIGTERM)
    assert fleet.proc.wait(60) == 0
    assert wait_for(lambda: not still_running(tree), 10, f"left running: {still_running(tree)}") is True
    assert "stopping every pool (warm shutdown)" in "".join(fleet.log)


def test_a_killed_pool_stops_the_others_and_the_fleet_exits_non_zero(tmp_path):
    fleet = bare_fleet(tmp_path)
    tree = process_tree(fleet.proc.pid)
    os.kill(fleet.pools()["general"], signal.SIGKILL)  # its pool process is orphaned: the fleet kills its group
    started = time.monotonic()
    assert fleet.proc.wait(60) != 0
    assert time.monotonic() - started < 30
    assert wait_for(lambda: not still_running(tree), 10, f"left running: {still_running(tree)}") is True
    assert "pool general exited (code -9); stopping the others" in "".join(fleet.log)


@pytest.mark.parametrize("env, cores, expected", [
    ({}, 2, [("interactive", "analyses", 1, 0), ("general", "analyses,bulk,maps", 1, 10)]),
    ({}, 8, [("interactive", "analyses", 1, 0), ("general", "analyses,bulk,maps", 7, 10)]),
    ({"worker_interactive": 2, "worker_concurrency": 3, "bulk_nice": 5}, 2,
     [("interactive", "analyses", 2, 0), ("general", "analyses,bulk,maps", 3, 5)]),
    ({"worker_interactive": 0}, 2, [("worker", "analyses,bulk,maps", 2, 0)]),
    ({"worker_queues": "bulk,maps"}, 4, [("worker", "bulk,maps", 4, 0)]),  # no uploads taken: nobody to keep fast
])
def test_plan_sizes_the_pools_from_the_cores(tmp_path, env, cores, expected):
    from shared.settings import Settings
    from worker.fleet import plan

    settings = Settings.from_env(data_dir=tmp_path, secret_key="k", queue="analyses", bulk_queue="bulk",
                                 maps_queue="maps", **env)
    assert [(p.name, ",".join(p.queues), p.concurrency, p.nice) for p in plan(settings, cores)] == expected
