"""The worker's sweeper: which analyses it re-enqueues, its heartbeat, and hourly retention."""
from __future__ import annotations

import ast
import json
import secrets
from datetime import timedelta

import redis
from celery import Celery

from shared import heartbeat, storage
from shared.models import Analysis, Maps, Status, utcnow
from shared.settings import Settings
from tests.conftest import REDIS_URL
from worker.sweep import Sweeper, epoch_key


def _sweeper(overrides, **extra) -> Sweeper:
    settings = Settings.from_env(**(overrides | extra))
    return Sweeper(settings, Celery("test", broker=settings.redis_url, set_as_current=False), hostname="h1")


def _add(app, **fields) -> str:
    # a file of its own unless asked: one owner's identical single uploads cannot be in flight twice
    a = Analysis(filename="x.jpg", sha256=fields.pop("sha256", None) or secrets.token_hex(32), media_type="image/jpeg", size_bytes=1,
                 **fields)
    with app.extensions["db_sessionmaker"]() as s:
        s.add(a)
        s.commit()
    return a.id


def _queued_ids(queue: str) -> list[str]:
    messages = [json.loads(m) for m in redis.Redis.from_url(REDIS_URL).lrange(queue, 0, -1)]
    return [ast.literal_eval(m["headers"]["argsrepr"])[0] for m in messages]


def test_sweep_requeues_lost_work_only(app, overrides):
    old = utcnow() - timedelta(minutes=10)
    never_published = _add(app, status=Status.QUEUED, created_at=old)
    published = _add(app, status=Status.QUEUED, created_at=old, enqueued_at=old)
    stuck = _add(app, status=Status.RUNNING, created_at=old, started_at=old - timedelta(hours=1), enqueued_at=old)
    _add(app, status=Status.DONE, created_at=old)
    sweeper = _sweeper(overrides)
    client = redis.Redis.from_url(REDIS_URL)
    client.set(epoch_key(sweeper.settings), "now")  # the broker kept its data
    assert sweeper.sweep_once() == 2
    assert sorted(_queued_ids(overrides["queue"])) == sorted([never_published, stuck])
    assert heartbeat.alive(client, overrides["queue"]) == ["h1"]
    client.delete(epoch_key(sweeper.settings))  # the broker lost everything: all unfinished go again
    assert sweeper.sweep_once() == 3 and published in _queued_ids(overrides["queue"])
    client.delete(epoch_key(sweeper.settings))
    sweeper.engine.dispose()


def test_lost_reanalyses_go_back_on_the_bulk_queue(app, overrides):
    """The bulk re-analysis command saves thousands of rows; re-sent after an outage they must not crowd people out."""
    old = utcnow() - timedelta(minutes=10)
    person = _add(app, status=Status.QUEUED, created_at=old)
    rerun = _add(app, status=Status.QUEUED, created_at=old, reanalysis_of=person)
    sweeper = _sweeper(overrides)
    client = redis.Redis.from_url(REDIS_URL)
    client.set(epoch_key(sweeper.settings), "now")
    assert sweeper.sweep_once() == 2
    assert _queued_ids(overrides["queue"]) == [person] and _queued_ids(overrides["bulk_queue"]) == [rerun]
    client.delete(epoch_key(sweeper.settings))
    sweeper.engine.dispose()


def test_maps_jobs_are_sent_again_only_when_the_broker_lost_them(app, overrides):
    pending = _add(app, status=Status.DONE, maps_state=Maps.PENDING)
    running = _add(app, status=Status.DONE, maps_state=Maps.RUNNING, maps_started_at=utcnow())
    for state in (Maps.READY, Maps.FAILED, None):
        _add(app, status=Status.DONE, maps_state=state)
    sweeper = _sweeper(overrides)
    client = redis.Redis.from_url(REDIS_URL)
    client.set(epoch_key(sweeper.settings), "now")  # the broker kept its data: a long maps queue is left be
    sweeper.sweep_once()
    assert _queued_ids(overrides["maps_queue"]) == []
    client.delete(epoch_key(sweeper.settings))
    sweeper.sweep_once()
    assert sorted(_queued_ids(overrides["maps_queue"])) == sorted([pending, running])
    with app.extensions["db_sessionmaker"]() as s:
        assert s.get(Analysis, running).maps_state == Maps.PENDING  # the job sent now can claim it
    client.delete(epoch_key(sweeper.settings))
    sweeper.engine.dispose()


def test_retention_purge_runs_from_the_sweeper(app, overrides):
    sha = "cd" * 32
    path = storage.path_for(app.config["SETTINGS"].upload_dir, sha)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x")
    analysis_id = _add(app, sha256=sha, status=Status.DONE, verdict="real", created_at=utcnow() - timedelta(days=9))
    sweeper = _sweeper(overrides, retention_days=7)
    sweeper.purge_if_due()
    assert not path.exists()
    with app.extensions["db_sessionmaker"]() as s:
        kept = s.get(Analysis, analysis_id)
        assert kept.verdict == "real" and kept.purged_at is not None
    sweeper.engine.dispose()


def test_two_sweepers_never_send_the_same_stuck_analysis_twice(app, overrides):
    import threading

    old = utcnow() - timedelta(minutes=10)
    stuck = _add(app, status=Status.RUNNING, created_at=old, started_at=old, enqueued_at=old, attempts=1,
                 lease_owner="dead", lease_expires_at=utcnow() - timedelta(seconds=5))
    alive = _add(app, status=Status.RUNNING, created_at=old, started_at=old - timedelta(hours=1), enqueued_at=old,
                 attempts=1, lease_owner="busy", lease_expires_at=utcnow() + timedelta(minutes=5))
    first, second = _sweeper(overrides), _sweeper(overrides)
    second.hostname = second.owner = "h2"
    redis.Redis.from_url(REDIS_URL).set(epoch_key(first.settings), "now")
    counts: list[int] = []
    start = threading.Barrier(2)

    def sweep(s: Sweeper) -> None:
        start.wait()
        counts.append(s.sweep_once())

    threads = [threading.Thread(target=sweep, args=(s,)) for s in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(counts) == [0, 1] and _queued_ids(overrides["queue"]) == [stuck]
    # the next rounds send nothing again: the stuck one went back to queued, the live lease is left alone
    assert first.sweep_once() + second.sweep_once() == 0
    with app.extensions["db_sessionmaker"]() as s:
        assert s.get(Analysis, stuck).status == Status.QUEUED and s.get(Analysis, alive).status == Status.RUNNING
    assert alive not in _queued_ids(overrides["queue"])
    redis.Redis.from_url(REDIS_URL).delete(epoch_key(first.settings))
    first.engine.dispose()
    second.engine.dispose()


def test_another_sweeper_takes_over_when_the_holder_stops(app, overrides):
    from sqlalchemy import update

    from shared.models import Lock

    first, second = _sweeper(overrides), _sweeper(overrides)
    second.owner = "h2"
    assert first.lead() and not second.lead() and first.lead()
    with app.extensions["db_sessionmaker"]() as s:  # the first worker died: its lock is no longer renewed
        s.execute(update(Lock).values(expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    assert second.lead() and not first.lead()
    first.engine.dispose()
    second.engine.dispose()


def test_a_batch_whose_last_open_item_was_deleted_is_finished_with_its_webhook(app, client, overrides):
    from shared.models import Batch

    with app.extensions["db_sessionmaker"]() as s:
        batch = Batch(total=2, callback_url="http://127.0.0.1:9/hook")
        s.add(batch)
        s.commit()
    _add(app, status=Status.DONE, batch_id=batch.id)
    queued = _add(app, status=Status.QUEUED, batch_id=batch.id, enqueued_at=utcnow())
    assert client.delete(f"/api/v1/analyses/{queued}").status_code in (200, 204)
    sweeper = _sweeper(overrides)
    redis.Redis.from_url(REDIS_URL).set(epoch_key(sweeper.settings), "now")
    sweeper.sweep_once()
    body = client.get(f"/api/v1/batches/{batch.id}").get_json()
    assert (body["status"], body["total"], body["progress"]) == ("done", 1, 1.0)
    messages = [json.loads(m) for m in redis.Redis.from_url(REDIS_URL).lrange(overrides["queue"], 0, -1)]
    assert [m["headers"]["task"] for m in messages] == ["deepfake.deliver_webhook"]
    assert sweeper.close_batches() == []  # once
    redis.Redis.from_url(REDIS_URL).delete(epoch_key(sweeper.settings))
    sweeper.engine.dispose()


def test_the_sweeper_removes_maps_a_killed_worker_left_for_a_deleted_analysis(app, overrides):
    """Found by the chaos soak: deleted while running, then its worker killed after writing the thumbnail."""
    import os

    from worker import sweep

    upload_dir = app.config["SETTINGS"].upload_dir
    orphan, fresh, owned = (storage.derived_dir(upload_dir, c * 64) for c in "abc")
    for folder in (orphan, fresh, owned):
        folder.mkdir(parents=True)
        (folder / "thumbnail.jpg").write_bytes(b"x")
    for folder in (orphan, owned):  # untouched for longer than the grace (2 x LEASE_S)
        os.utime(folder, (0, 0))
    _add(app, sha256="c" * 64, status=Status.DONE)
    sweeper = _sweeper(overrides, lease_s=5)
    for _ in range(sweep.ORPHAN_SCAN_EVERY):
        sweeper.collect_orphans()
    assert not orphan.exists(), "a deleted analysis's maps were left behind"
    assert fresh.exists(), "a folder a worker may be writing right now was removed"
    assert (owned / "thumbnail.jpg").exists(), "an existing analysis lost its maps"
    sweeper.engine.dispose()
