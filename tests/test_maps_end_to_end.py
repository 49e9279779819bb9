"""Verdict first (issue 12): an analysis is done before its maps, which a maps job makes afterwards, once.

The analyses worker here consumes only the interactive and bulk queues, so the maps it asks for wait on the
maps queue where the test can see them; a maps-only worker (a dedicated pool) is started later to make them.
"""
from __future__ import annotations

import io
import json
import time
from contextlib import contextmanager

import pytest
import redis

from shared import storage
from shared.cleanup import purge_older_than
from shared.models import Analysis, utcnow
from tests.conftest import REDIS_URL, camera_like_jpeg, make_jpeg
from tests.live import WebServer, Worker, app_for, emptied, isolated, wait_final, wait_maps
from tests.test_browser import ARGS, CHROMIUM

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stack(request, tmp_path_factory):
    url = emptied(request.getfixturevalue("postgres_url")) if request.param == "postgres" else None
    overrides = isolated(tmp_path_factory.mktemp("maps"), "maps", url)
    with app_for(overrides) as app:
        worker = Worker(overrides, env={"WORKER_QUEUES": f"{overrides['queue']},{overrides['bulk_queue']}"})
        workers = [worker.wait_ready()]
        yield app, workers, overrides
        for w in workers:
            w.stop()


def _maps_jobs(overrides, at_least: int = 0) -> list[str]:
    """The analysis ids of the maps jobs waiting on the maps queue (the worker publishes after its commit)."""
    deadline = time.monotonic() + 15
    while True:
        jobs = [json.loads(m)["headers"]["argsrepr"] for m in
                redis.Redis.from_url(REDIS_URL).lrange(overrides["maps_queue"], 0, -1)]
        if len(jobs) >= at_least or time.monotonic() > deadline:
            return jobs
        time.sleep(0.2)


@contextmanager
def _browser_page(overrides, path: str):
    """A real browser on a gunicorn serving the same stack, at `path`."""
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: scripts/setup.sh --test installs it")
    from playwright.sync_api import sync_playwright

    web = WebServer(overrides)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            page = browser.new_page()
            page.goto(web.url + path)
            yield page
            browser.close()
    finally:
        web.stop()


def _get(client):
    return lambda url: client.get(url).get_json()


def test_done_before_maps_batch_maps_on_demand_then_ready_and_404_410(stack, tmp_path):
    app, workers, overrides = stack
    client = app.test_client()
    photo = camera_like_jpeg(tmp_path / "camera.jpg").read_bytes()
    single = client.post("/api/v1/analyses", data={"file": (io.BytesIO(photo), "camera.jpg")},
                         content_type="multipart/form-data").get_json()
    body = wait_final(_get(client), single["status_url"])
    # done with its verdict, and no maps yet: they wait for their own job on the maps queue
    assert body["status"] == "done" and body["verdict"] in ("real", "uncertain", "fake"), body.get("error")
    assert body["maps_state"] == "pending" and body["result"]["maps"] == [] and "thumbnail_url" not in body["result"]
    assert not any(e["kind"] == "forensic_map" for e in body["evidence"])
    assert client.get(f"/api/v1/analyses/{single['id']}/files/ela.png").status_code == 409
    assert _maps_jobs(overrides, 1) == [repr([single["id"]])]

    # a batch without maps=true: verdicts only; nothing on the maps queue
    batch = client.post("/api/v1/batches", data={"files": [(io.BytesIO(make_jpeg(color=(i * 40, 9, 9))), f"{i}.jpg")
                                                           for i in range(3)]},
                        content_type="multipart/form-data").get_json()
    items = client.get(batch["status_url"]).get_json()["items"]
    finals = [wait_final(_get(client), i["status_url"]) for i in items]
    assert all(f["status"] == "done" and f["maps_state"] == "not_requested" for f in finals), finals
    assert len(_maps_jobs(overrides)) == 1
    # opening one item's result page (twice) and asking for another's map file each queue its maps, once
    opened, asked = finals[0]["id"], finals[1]["id"]
    assert client.get(f"/analyses/{opened}").status_code == 200
    assert client.get(f"/analyses/{opened}").status_code == 200
    assert client.get(f"/api/v1/analyses/{asked}/files/noise.png").status_code == 409
    assert client.get(f"/api/v1/analyses/{asked}/files/noise.png").status_code == 409
    assert sorted(_maps_jobs(overrides)) == sorted(repr([x]) for x in (single["id"], opened, asked))
    assert client.get(finals[2]["status_url"]).get_json()["maps_state"] == "not_requested"

    # the result page shows the verdict at once, says the maps are coming, and shows them when a maps-only
    # worker (a dedicated pool) has made them, without a reload
    with _browser_page(overrides, single["page_url"]) as page:
        page.wait_for_selector("#verdict-box:not([hidden])", timeout=30_000)
        assert page.inner_text("#verdict") == body["verdict"]
        assert "being made" in page.inner_text("#maps-note") and page.locator("#maps img").count() == 0
        workers.append(Worker(overrides, name="maps", env={"WORKER_QUEUES": overrides["maps_queue"]}).wait_ready())
        page.locator("#maps img").nth(2).wait_for(timeout=120_000)  # (the page's CSP forbids evaluated strings)
        assert page.locator("#maps img").count() == 3
        assert page.locator("#maps-note").is_hidden()
        assert page.locator(".evidence-group li", has_text="Error level analysis").count() >= 1
    for analysis_id in (single["id"], opened, asked):
        ready = wait_maps(_get(client), f"/api/v1/analyses/{analysis_id}")
        assert ready["maps_state"] == "ready", (ready.get("maps_error"), "".join(workers[-1].log)[-3000:])
        assert [m["name"] for m in ready["result"]["maps"]] == ["ela.png", "noise.png", "attention.png"]
        assert {e["source"] for e in ready["evidence"] if e["kind"] == "forensic_map"} == {
            "ela.png", "noise.png", "attention.png"}
        assert ready["verdict"] == client.get(f"/api/v1/analyses/{analysis_id}").get_json()["verdict"]
        for m in ready["result"]["maps"]:
            resp = client.get(m["url"])
            assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/png"
        assert client.get(ready["result"]["thumbnail_url"]).headers["Content-Type"] == "image/jpeg"
    # a second delivery of a maps job claims nothing: the maps stay as they were
    before = client.get(single["status_url"]).get_json()["result"]["timings"]["maps_s"]
    app.extensions["celery_client"].send_task("deepfake.make_maps", args=[single["id"]], queue=overrides["maps_queue"])
    marker = finals[2]["id"]
    client.get(f"/analyses/{marker}")  # queued after the repeat: once its maps are ready, the repeat has run
    assert wait_maps(_get(client), f"/api/v1/analyses/{marker}")["maps_state"] == "ready"
    assert client.get(single["status_url"]).get_json()["result"]["timings"]["maps_s"] == before
    assert "Traceback" not in "".join(workers[-1].log)

    # purged: 410 for its map files; deleted: 404
    ela = f"/api/v1/analyses/{opened}/files/ela.png"
    with app.extensions["db_sessionmaker"]() as s:
        s.query(Analysis).filter(Analysis.id == opened).update({"created_at": utcnow().replace(year=2000)})
        s.commit()
        purge_older_than(s, storage.store_for(app.config["SETTINGS"]), 7)
    assert client.get(ela).status_code == 410 and "purged" in client.get(ela).get_json()["error"]
    assert client.get(f"/analyses/{opened}/files/ela.png").status_code == 410
    assert client.delete(f"/api/v1/analyses/{asked}").status_code in (200, 204)
    gone = client.get(f"/api/v1/analyses/{asked}/files/ela.png")
    assert gone.status_code == 404 and asked in gone.get_json()["error"]


def test_batch_with_maps_true_gets_its_maps_after_its_verdicts(stack):
    app, workers, overrides = stack
    client = app.test_client()
    if len(workers) == 1:  # run alone: the maps pool of the test above was not started
        workers.append(Worker(overrides, name="maps", env={"WORKER_QUEUES": overrides["maps_queue"]}).wait_ready())
    batch = client.post("/api/v1/batches", data={"maps": "true", "files": [
        (io.BytesIO(make_jpeg(color=(9, i * 50, 9))), f"m{i}.jpg") for i in range(2)]},
                        content_type="multipart/form-data").get_json()
    items = client.get(batch["status_url"]).get_json()["items"]
    for item in items:
        assert wait_final(_get(client), item["status_url"])["status"] == "done"
        ready = wait_maps(_get(client), item["status_url"])
        assert ready["maps_state"] == "ready" and len(ready["result"]["maps"]) == 3
