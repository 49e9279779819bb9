"""Bulk never blocks a person (issue 12): with one worker busy on a 40-image batch, a single upload overtakes it.

Single uploads, batch chunks and maps have their own queues, and a worker takes from them in priority order;
a running chunk yields between its slices of BULK_SLICE files, so the upload waits at most for one slice, not
for the chunk, let alone the whole batch.
"""
from __future__ import annotations

import io
import time

import pytest
from sqlalchemy import select

from shared.models import Analysis
from tests.conftest import make_jpeg
from tests.live import Worker, app_for, emptied, isolated, wait_final

pytestmark = pytest.mark.slow
CHUNK, SLICE = 6, 2


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stack(request, tmp_path):
    url = emptied(request.getfixturevalue("postgres_url")) if request.param == "postgres" else None
    overrides = isolated(tmp_path, "priority", url, batch_chunk=CHUNK)
    with app_for(overrides) as app:  # every queue, one job at a time
        worker = Worker(overrides, env={"BATCH_CHUNK": str(CHUNK), "BULK_SLICE": str(SLICE)}).wait_ready()
        yield app, worker
        worker.stop()


def test_a_single_upload_gets_its_verdict_while_a_batch_of_40_runs(stack):
    app, worker = stack
    client = app.test_client()
    files = [(io.BytesIO(make_jpeg((240, 240), color=(i * 6, 255 - i * 6, 90))), f"b{i}.jpg") for i in range(40)]
    batch = client.post("/api/v1/batches", data={"files": files}, content_type="multipart/form-data").get_json()
    deadline = time.monotonic() + 120
    while client.get(batch["status_url"]).get_json()["counts"]["queued"] == 40:  # the first chunk has started
        assert time.monotonic() < deadline, "".join(worker.log)[-3000:]
        time.sleep(0.2)
    single = client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg((240, 240), color=(1, 2, 3))),
                                                            "person.jpg")},
                         content_type="multipart/form-data").get_json()
    assert wait_final(lambda url: client.get(url).get_json(), single["status_url"], 300)["status"] == "done"
    deadline = time.monotonic() + 600
    while client.get(batch["status_url"]).get_json()["status"] != "done":
        assert time.monotonic() < deadline, "".join(worker.log)[-3000:]
        time.sleep(0.5)

    with app.extensions["db_sessionmaker"]() as s:
        person = s.get(Analysis, single["id"])
        items = s.scalars(select(Analysis).where(Analysis.batch_id == batch["id"])).all()
    assert len(items) == 40 and all(a.status == "done" for a in items)
    last = max(a.finished_at for a in items)
    assert person.finished_at < last, "the single upload waited for the whole batch"
    # it overtook the queued chunks, and the running chunk yielded: no slice started after the upload was
    # queued (one may have begun in the moment between its row's commit and its job's publication)
    assert sum(person.created_at < a.started_at < person.started_at for a in items) <= SLICE
    assert "chunk yields to a single upload" in "".join(worker.log)
    wait = (person.started_at - person.created_at).total_seconds()
    batch_s = (last - min(a.started_at for a in items)).total_seconds()
    assert wait < batch_s / 3, (wait, batch_s)
