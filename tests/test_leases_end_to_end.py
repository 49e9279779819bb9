"""Exactly one pipeline run per analysis with two real workers: duplicate deliveries, deletion mid-run, reuse.

Issue 11, items 5 and 7: the same analysis ran twice at once; deleting a running analysis stranded its chunk;
a key saw which other key's analysis its result was copied from, even after that one was deleted or purged.
"""
from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from shared import keys, storage
from shared.cleanup import purge_older_than
from shared.models import Analysis, utcnow
from tests.live import Worker, app_for, emptied, isolated, wait_for, wait_maps

pytestmark = pytest.mark.slow
# leases renewed each second: a run longer than 3 s keeps its lease only by renewal; both sweepers every second;
# a chunk of 3 runs as one slice, so all three are running together when one is deleted
FAST = {"LEASE_S": "3", "SWEEP_INTERVAL_S": "1", "BULK_SLICE": "3"}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stack(request, tmp_path_factory):
    """Two worker processes and an app sharing one database, upload folder and queue."""
    url = emptied(request.getfixturevalue("postgres_url")) if request.param == "postgres" else None
    overrides = isolated(tmp_path_factory.mktemp("leases"), "leases", url, batch_chunk=3)
    with app_for(overrides) as app:
        workers = [Worker(overrides, name=n, env=FAST) for n in ("w1", "w2")]
        try:
            yield app, [w.wait_ready() for w in workers], overrides
        finally:
            for w in workers:
                w.stop()


def big_jpeg(seed: int, size=(2400, 1800)) -> bytes:
    """A large noisy photo-sized JPEG, so a run lasts a few seconds."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def upload(client, data: bytes, name: str, headers=None) -> dict:
    resp = client.post("/api/v1/analyses", data={"file": (io.BytesIO(data), name)}, headers=headers or {},
                       content_type="multipart/form-data")
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()


def final(client, url: str, headers=None, timeout: float = 120) -> dict:
    return wait_for(lambda: (b := client.get(url, headers=headers or {}).get_json())["status"] in ("done", "failed")
                    and b, timeout, f"{url} did not finish")


def succeeded(workers) -> int:
    return sum("".join(w.log).count("succeeded in") for w in workers)


def test_a_duplicate_delivery_while_it_runs_does_nothing(stack):
    app, workers, overrides = stack
    client = app.test_client()
    before = succeeded(workers)
    sub = upload(client, big_jpeg(1), "twice.jpg")
    # the same job again at once: each idle worker takes one delivery, both while the first is running
    app.extensions["celery_client"].send_task("deepfake.analyze", args=[sub["id"]], queue=overrides["queue"])
    body = final(client, sub["status_url"])
    wait_for(lambda: succeeded(workers) >= before + 2, 60, "the duplicate delivery was not consumed")
    body = client.get(sub["status_url"]).get_json()
    assert body["status"] == "done", body
    assert "leased by another worker" in "".join("".join(w.log) for w in workers), "the runs did not overlap"
    assert body["attempts"] == 1, "the second delivery took the analysis over while it ran"
    assert body["pipeline_runs"] == 1


def test_deleting_a_running_analysis_lets_its_chunk_finish(stack):
    app, workers, overrides = stack
    client = app.test_client()
    files = [(io.BytesIO(big_jpeg(10 + i)), f"big{i}.jpg") for i in range(3)]
    batch = client.post("/api/v1/batches", data={"files": files}, content_type="multipart/form-data").get_json()
    status = lambda: client.get(batch["status_url"]).get_json()  # noqa: E731
    wait_for(lambda: status()["counts"]["running"] == 3, 60, "the chunk did not start")
    victim = status()["items"][0]
    assert client.delete(f"/api/v1/analyses/{victim['id']}").status_code in (200, 204)
    assert status()["counts"]["running"] == 2, "the chunk finished before the delete; nothing was tested"
    done = wait_for(lambda: (s := status())["status"] == "done" and s, 60, "the chunk-mates were left running")
    assert done["counts"] == {"queued": 0, "running": 0, "done": 2, "failed": 0}
    assert (done["total"], done["progress"]) == (2, 1.0)
    derived = storage.derived_dir(overrides["upload_dir"], victim["sha256"])
    assert not derived.exists() and not storage.path_for(overrides["upload_dir"], victim["sha256"]).exists()
    assert "Traceback" not in "".join("".join(w.log) for w in workers)


def test_reuse_never_crosses_keys_nor_names_a_deleted_or_purged_analysis(stack):
    app, workers, overrides = stack
    client = app.test_client()
    with app.extensions["db_sessionmaker"]() as s:
        headers_a, headers_b = ({"Authorization": f"Bearer {keys.create(s, n)[1]}"} for n in ("a", "b"))
        s.commit()
    data = big_jpeg(99, size=(640, 480))
    a1 = final(client, upload(client, data, "a1.jpg", headers_a)["status_url"], headers_a)
    b1 = final(client, upload(client, data, "b1.jpg", headers_b)["status_url"], headers_b)
    assert b1["reused_from"] is None and b1["pipeline_runs"] == 1  # key B learns nothing about key A's upload
    a2 = final(client, upload(client, data, "a2.jpg", headers_a)["status_url"], headers_a)
    assert a2["reused_from"] == a1["id"] and a2["pipeline_runs"] == 0
    assert client.delete(f"/api/v1/analyses/{a1['id']}", headers=headers_a).status_code in (200, 204)
    a2 = wait_maps(lambda url: client.get(url, headers=headers_a).get_json(), a2["status_url"])
    assert a2["reused_from"] is None and client.get(a2["result"]["thumbnail_url"], headers=headers_a).status_code == 200
    with app.extensions["db_sessionmaker"]() as s:  # retention: every analysis of the file is old now
        s.query(Analysis).filter(Analysis.sha256 == a2["sha256"]).update({"created_at": utcnow().replace(year=2000)})
        s.commit()
        purge_older_than(s, storage.store_for(app.config["SETTINGS"]), 7)
    a3 = final(client, upload(client, data, "a3.jpg", headers_a)["status_url"], headers_a)
    assert a3["reused_from"] is None and a3["pipeline_runs"] == 1
    a3 = wait_maps(lambda url: client.get(url, headers=headers_a).get_json(), a3["status_url"])
    assert client.get(a3["result"]["thumbnail_url"], headers=headers_a).status_code == 200


def test_two_workers_sweepers_send_a_lapsed_analysis_once(stack):
    from datetime import timedelta

    from web.analyses.uploads import store

    app, workers, _ = stack
    client = app.test_client()
    before = sum("".join(w.log).count("re-enqueued") for w in workers)
    hour_ago = utcnow() - timedelta(hours=1)
    a = store("lapsed.jpg", io.BytesIO(big_jpeg(7, size=(800, 600))), app.config["SETTINGS"])
    a.status, a.started_at, a.enqueued_at, a.attempts = "running", hour_ago, hour_ago, 1
    a.lease_owner, a.lease_expires_at = "a-worker-that-died", utcnow() - timedelta(seconds=1)
    with app.extensions["db_sessionmaker"]() as s:
        s.add(a)
        s.commit()
    body = final(client, f"/api/v1/analyses/{a.id}")
    time.sleep(3)  # a few more rounds of both sweepers
    assert sum("".join(w.log).count("re-enqueued") for w in workers) - before == 1
    body = client.get(f"/api/v1/analyses/{a.id}").get_json()
    assert (body["status"], body["attempts"], body["pipeline_runs"]) == ("done", 2, 1)
