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
    messages = [json.loads(m) for m in redis.Redis.from_url(REDIS_URL).lrange(overrides["queue"], 0, -1)]
    limits = sorted(tuple(m["headers"]["timelimit"]) for m in messages)
    assert limits == [(80, 50), (130, 100), (180, 150)]  # (hard, soft) for 1, 2 and 3 analyses
    app.extensions["db_engine"].dispose()
