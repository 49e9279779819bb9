"""What the web publishes: a job's time limits are TASK_SOFT_TIME_LIMIT per analysis it holds."""
from __future__ import annotations

import io
import json

import redis

from tests.conftest import REDIS_URL, make_jpeg


def test_a_chunk_gets_the_time_limit_of_each_of_its_analyses(overrides):
    from web import create_app

    app = create_app(overrides | {"batch_chunk": 3, "task_soft_time_limit": 50})
    files = [(io.BytesIO(make_jpeg(color=(i, 9, 9))), f"{i}.jpg") for i in range(5)]
    resp = app.test_client().post("/api/v1/batches", data={"files": files}, content_type="multipart/form-data")
    single = app.test_client().post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg()), "one.jpg")},
                                    content_type="multipart/form-data")
    assert resp.status_code == 202 and single.status_code == 202
    queued = {q: [json.loads(m) for m in redis.Redis.from_url(REDIS_URL).lrange(q, 0, -1)]
              for q in (overrides["queue"], overrides["bulk_queue"], overrides["maps_queue"])}
    limits = sorted(tuple(m["headers"]["timelimit"]) for m in queued[overrides["queue"]] + queued[overrides["bulk_queue"]])
    assert limits == [(80, 50), (130, 100), (180, 150)]  # (hard, soft) for 1, 2 and 3 analyses
    # the person's upload on the interactive queue, the batch's chunks on the bulk queue, no maps yet
    assert [m["headers"]["task"] for m in queued[overrides["queue"]]] == ["deepfake.analyze"]
    assert [m["headers"]["task"] for m in queued[overrides["bulk_queue"]]] == ["deepfake.analyze_chunk"] * 2
    assert queued[overrides["maps_queue"]] == []
    app.extensions["db_engine"].dispose()


def test_metrics_show_the_depth_of_every_queue(client, overrides):
    """/metrics lists the interactive, bulk and maps queues (Settings.queues, the one list of them)."""
    redis.Redis.from_url(REDIS_URL).rpush(overrides["maps_queue"], "{}")
    text = client.get("/metrics").get_data(as_text=True)
    for queue in (overrides["queue"], overrides["bulk_queue"]):
        assert f'deepfake_queue_depth{{queue="{queue}"}} 0.0' in text
    assert f'deepfake_queue_depth{{queue="{overrides["maps_queue"]}"}} 1.0' in text
