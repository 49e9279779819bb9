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


def test_a_worker_locking_the_rows_meanwhile_never_fails_the_upload(overrides):
    """After publishing, the web records enqueued_at on the rows; a worker taking their leases in another order
    can make PostgreSQL abort one side as a deadlock. The chaos soak saw that as a 500 on POST /api/v1/batches.
    Here a second connection locks the rows in the opposite order: the web's side must never raise."""
    import threading
    import time

    import pytest
    from sqlalchemy import update
    from sqlalchemy.exc import DBAPIError

    from shared.db import make_engine
    from shared.models import Analysis
    from web.analyses import services
    from web import create_app

    if not overrides["database_url"].startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: it cannot deadlock")
    app = create_app(overrides)
    ids = sorted(f"00000000-0000-4000-8000-00000000000{k}" for k in (1, 2))
    with app.extensions["db_sessionmaker"]() as s:
        s.add_all(Analysis(id=i, filename="a.jpg", sha256=i[-1] * 64, media_type="image/jpeg", size_bytes=1)
                  for i in ids)
        s.commit()
    engine = make_engine(overrides["database_url"])
    other = engine.connect()
    tx = other.begin()
    other.execute(update(Analysis).where(Analysis.id == ids[1]).values(attempts=5))  # holds the second row
    outcome = {}

    def web_side():
        with app.app_context(), app.extensions["db_sessionmaker"]() as session:
            try:
                services.enqueue(session, ids)  # locks the first row, then waits for the second
                outcome["ok"] = True
            except Exception as exc:  # noqa: BLE001 - the assertion below shows it
                outcome["error"] = exc

    t = threading.Thread(target=web_side)
    t.start()
    time.sleep(0.5)
    try:
        other.execute(update(Analysis).where(Analysis.id == ids[0]).values(attempts=6))  # waits for the first: deadlock
        tx.commit()
    except DBAPIError:  # PostgreSQL chose this side
        tx.rollback()
    t.join(30)
    other.close()
    engine.dispose()
    app.extensions["db_engine"].dispose()
    assert outcome == {"ok": True}
