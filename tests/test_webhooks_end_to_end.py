"""Webhooks through a real worker, real Redis and a real receiver on 127.0.0.1: no duplicates, no losses,
no worker held by a receiver that never answers."""
from __future__ import annotations

import io
import time

import pytest
import redis
from sqlalchemy import select

from shared.models import Batch, WebhookDelivery
from shared.settings import Settings
from tests.conftest import make_jpeg
from tests.live import Worker, app_for, emptied, isolated
from tests.receivers import RawReceiver, Receiver
from tests.test_faults import private_redis, submit_batch, wait_for  # noqa: F401 - private_redis is a fixture

pytestmark = pytest.mark.slow
FAST = {"WEBHOOK_RETRY_BASE_S": "0.1", "WEBHOOK_POLL_S": "0.2", "WEBHOOK_READ_TIMEOUT_S": "15"}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stack(request, tmp_path_factory):
    url = emptied(request.getfixturevalue("postgres_url")) if request.param == "postgres" else None
    overrides = isolated(tmp_path_factory.mktemp("hooks"), "hooks", url, webhook_allow_private=True)
    with app_for(overrides) as app:
        worker = Worker(overrides, env=FAST).wait_ready()
        yield app, worker
        worker.stop()


def analyse(client, seed: int, callback: str | None = None) -> str:
    data = {"file": (io.BytesIO(make_jpeg((120 + seed, 90), color=(seed * 7 % 255, 60, 90))), f"s{seed}.jpg")}
    resp = client.post("/api/v1/analyses", data=data | ({"callback_url": callback} if callback else {}),
                       content_type="multipart/form-data")
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["id"]


def is_final(client, analysis_id: str) -> bool:
    return client.get(f"/api/v1/analyses/{analysis_id}").get_json()["status"] in ("done", "failed")


def records(app, analysis_id: str) -> list[tuple]:
    with app.extensions["db_sessionmaker"]() as s:
        rows = s.scalars(select(WebhookDelivery).where(WebhookDelivery.analysis_id == analysis_id)
                         .order_by(WebhookDelivery.attempt))
        return [(r.attempt, r.status_code, r.error, r.succeeded) for r in rows]


def test_a_failing_receiver_gets_at_most_eight_attempts_and_the_success_once(stack):
    app, worker = stack
    client = app.test_client()
    recovering, broken = Receiver((500,) * 7 + (200,)), Receiver((500,))
    ids = [analyse(client, 1, recovering.url), analyse(client, 2, broken.url)]
    for receiver in (recovering, broken):
        assert len(receiver.wait(8, timeout=90)) == 8, "".join(worker.log)[-3000:]
    time.sleep(4)  # longer than the next backoff would be: no ninth attempt, no repeat of the success
    for receiver, analysis_id in zip((recovering, broken), ids):
        headers = [c["headers"] for c in receiver.calls]
        assert [h["X-Deepfake-Attempt"] for h in headers] == [str(n) for n in range(1, 9)]
        event_ids = {h.get("X-Deepfake-Event-Id") for h in headers}
        assert len(event_ids) == 1 and None not in event_ids  # one event, the same id on every attempt
    assert [c["code"] for c in recovering.calls].count(200) == 1
    assert records(app, ids[0]) == [(n, 500, "HTTP 500", False) for n in range(1, 8)] + [(8, 200, None, True)]
    assert records(app, ids[1]) == [(n, 500, "HTTP 500", False) for n in range(1, 9)]


def test_a_receiver_that_never_answers_does_not_delay_the_next_analysis(stack):
    app, worker = stack
    client = app.test_client()
    silent = RawReceiver(hold_s=120)
    first = analyse(client, 3, silent.url)
    wait_for(lambda: silent.opened, 60, "the webhook was never sent")
    second = analyse(client, 4)
    wait_for(lambda: is_final(client, second) or silent.closed, 60, "neither finished")
    assert is_final(client, second) and not silent.closed, (
        "the analysis queued after the webhook waited for the receiver's timeout\n" + "".join(worker.log)[-3000:])
    assert is_final(client, first)
    silent.close()


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_batch_that_finishes_while_redis_is_down_still_calls_back_once(request, tmp_path, private_redis, database):
    url, procs, restart = private_redis
    db = emptied(request.getfixturevalue("postgres_url")) if database == "postgres" else None
    overrides = isolated(tmp_path, "redisdown", db, redis_url=url, batch_chunk=8, webhook_allow_private=True)
    receiver = Receiver()
    with app_for(overrides) as app:
        client = app.test_client()
        soft_s = 15  # short, so that the wait past a one-analysis job's hard limit below is short too
        hard_s = Settings.from_env(task_soft_time_limit=soft_s).task_time_limit
        worker = Worker(overrides, env=FAST | {"SWEEP_INTERVAL_S": "1", "TASK_SOFT_TIME_LIMIT": str(soft_s)}).wait_ready()
        try:
            files = [(io.BytesIO(make_jpeg((400 + i, 300), color=(i * 30, 20, 200))), f"r{i}.jpg") for i in range(8)]
            resp = client.post("/api/v1/batches", data={"files": files, "callback_url": receiver.url},
                               content_type="multipart/form-data")
            assert resp.status_code == 202, resp.get_json()
            batch = resp.get_json()
            status = lambda: client.get(batch["status_url"]).get_json()  # noqa: E731
            wait_for(lambda: status()["counts"]["running"] > 0, 120, "the chunk never started")
            redis.Redis.from_url(url).shutdown(nosave=True)
            procs[0].wait()
            down_at = time.monotonic()
            assert status()["status"] == "running", "the batch finished before Redis went down; nothing was tested"
            # a batch refused whole at submit also finishes while Redis is down
            bad = client.post("/api/v1/batches", data={"files": [(io.BytesIO(b"not an image"), "x.txt")],
                                                       "callback_url": receiver.url},
                              content_type="multipart/form-data")
            assert bad.status_code == 202, bad.get_json()
            wait_for(lambda: status()["status"] == "done", 120, "the batch did not finish while Redis was down")
            # down past a task's hard time limit: a task that waits for the broker to publish its webhook is
            # killed there, and that webhook is gone
            time.sleep(max(0.0, down_at + hard_s + 15 - time.monotonic()))
            restart()
            calls = receiver.wait(2, timeout=60)
            time.sleep(3)
            got = sorted(c["body"].decode().split('"batch_id": "')[1][:36] for c in calls)
            assert got == sorted([batch["id"], bad.get_json()["id"]]), "".join(worker.log)[-3000:]
            with app.extensions["db_sessionmaker"]() as s:
                assert s.scalar(select(Batch.finished_at).where(Batch.id == batch["id"])) is not None
        finally:
            worker.stop()
            receiver.close()


def test_a_job_queued_before_the_outbox_is_delivered_once(stack):
    """deliver_webhook jobs published by the previous version (even twice) become one outbox event."""
    from celery import Celery

    from shared import tasks as names
    from shared.models import utcnow

    app, worker = stack
    receiver = Receiver()
    with app.extensions["db_sessionmaker"]() as s:
        batch = Batch(name="old", callback_url=receiver.url, total=0, finished_at=utcnow())
        s.add(batch)
        s.commit()
    settings = app.config["SETTINGS"]
    sender = Celery("old-web", broker=settings.redis_url, set_as_current=False)
    for _ in range(2):
        sender.send_task(names.DELIVER_WEBHOOK, args=["batch", batch.id], queue=settings.queue)
    assert len(receiver.wait(1)) == 1, "".join(worker.log)[-3000:]
    time.sleep(3)
    assert len(receiver.calls) == 1 and receiver.calls[0]["headers"]["X-Deepfake-Event-Id"]
    receiver.close()
