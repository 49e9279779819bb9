"""Three machines in one: a web and two workers that share no disk, only PostgreSQL, Redis and the object store.

Each process gets a data folder of its own (scratch copies, an UPLOAD_DIR that must stay empty) and each worker
its own exiftool and model; uploads and maps live in a bucket on the session's real S3 server (Ceph radosgw).
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from PIL import Image
from sqlalchemy import select

from shared.models import Analysis
from tests.conftest import camera_like_jpeg, make_jpeg
from tests.live import WebServer, Worker, app_for, emptied, isolated, wait_final, wait_maps

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
PREFIX = "deepfake"


@dataclass
class Machines:
    app: object  # the web app on the same settings, for reading the database
    web: WebServer
    workers: list[Worker]
    disks: list[Path]  # each process's own data folder
    bucket: str

    def get(self, path: str) -> requests.Response:
        return requests.get(self.web.url + path, timeout=30)

    def status(self, path: str) -> dict:
        return self.get(path).json()


@pytest.fixture(scope="module")
def machines(s3_server, postgres_url, tmp_path_factory):
    bucket = s3_server.bucket()
    common = isolated(tmp_path_factory.mktemp("common"), "scale", emptied(postgres_url),
                      storage_url=s3_server.url(bucket, PREFIX))
    disks = [tmp_path_factory.mktemp(name) for name in ("web", "machine-a", "machine-b")]
    own = [common | {"data_dir": d, "upload_dir": d / "uploads"} for d in disks]
    with app_for(own[0]) as app:
        workers = [Worker(o, name=d.name, env=s3_server.env) for o, d in zip(own[1:], disks[1:])]
        web = WebServer(own[0], env=s3_server.env)
        try:
            for w in workers:
                w.wait_ready()
            yield Machines(app, web, workers, disks, bucket)
        finally:
            web.stop()
            for w in workers:
                w.stop()


def files_left(machines: Machines) -> list[str]:
    """Files on the machines' own disks other than their secret key: uploads, maps, scratch copies."""
    return [str(p) for d in machines.disks for p in d.rglob("*") if p.is_file() and p.name != "secret_key"]


def test_an_upload_is_analysed_and_served_without_a_shared_disk(machines, s3_server, tmp_path):
    photo = camera_like_jpeg(tmp_path / "photo.jpg", size=(480, 360)).read_bytes()
    posted = requests.post(machines.web.url + "/api/v1/analyses", files={"file": ("photo.jpg", photo)}, timeout=30)
    assert posted.status_code == 202, posted.text
    url = posted.json()["status_url"]
    assert wait_final(machines.status, url)["status"] == "done", machines.web.log_tail()
    body = wait_maps(machines.status, url)
    assert body["maps_state"] == "ready", body

    thumb, ela, preview = (machines.get(u) for u in (body["result"]["thumbnail_url"],
                                                     next(m["url"] for m in body["result"]["maps"]),
                                                     body["preview_url"]))
    for response, kind in ((thumb, "image/jpeg"), (ela, "image/png"), (preview, "image/jpeg")):
        assert response.status_code == 200 and response.headers["Content-Type"] == kind, response.text[:300]
        Image.open(io.BytesIO(response.content)).verify()
    page = machines.get(body["page_url"])
    assert page.status_code == 200 and "photo.jpg" in page.text

    sha = body["sha256"]
    stored = s3_server.keys(machines.bucket)
    assert f"{PREFIX}/{sha[:2]}/{sha[2:4]}/{sha}" in stored
    assert {f"{PREFIX}/derived/{sha[:2]}/{sha}/{m['name']}" for m in body["result"]["maps"]} <= set(stored)
    assert not files_left(machines), "a machine kept a file: the store is the only place files live"

    assert requests.delete(machines.web.url + url, timeout=30).status_code in (200, 204)
    assert not [k for k in s3_server.keys(machines.bucket) if sha in k]
    assert machines.get(body["result"]["thumbnail_url"]).status_code == 404


def pool_pids(worker: Worker) -> set[int]:
    """The worker's pool processes, whose pids the leases name (lease owner host:pid:token)."""
    pid = worker.proc.pid
    return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def test_two_workers_share_a_batch_of_200_and_run_each_analysis_once(machines):
    files = [("files", (f"img{i:03}.jpg", make_jpeg((96, 96), color=(i, 255 - i, 7 * i % 256)), "image/jpeg"))
             for i in range(200)]
    started = time.monotonic()
    posted = requests.post(machines.web.url + "/api/v1/batches", files=files, timeout=120)
    assert posted.status_code == 202, posted.text
    batch, posted_s = posted.json(), time.monotonic() - started
    deadline = time.monotonic() + 240
    while (body := machines.status(batch["status_url"]))["status"] != "done":
        assert time.monotonic() < deadline, (body["counts"], [w.log[-5:] for w in machines.workers])
        time.sleep(1)
    elapsed = time.monotonic() - started
    assert body["counts"] == {"queued": 0, "running": 0, "done": 200, "failed": 0}, body["counts"]

    with machines.app.extensions["db_sessionmaker"]() as s:
        rows = s.execute(select(Analysis.pipeline_runs, Analysis.lease_owner, Analysis.maps_state)
                         .where(Analysis.batch_id == batch["id"])).all()
    assert len(rows) == 200 and {r.pipeline_runs for r in rows} == {1}  # each analysed once, by one worker
    ran = [int(r.lease_owner.split(":")[1]) for r in rows]
    by_worker = [sum(pid in pool_pids(w) for pid in ran) for w in machines.workers]
    assert sum(by_worker) == 200 and all(by_worker), f"the work was not split: {by_worker}"
    assert {r.maps_state for r in rows} == {None}  # a batch makes no maps unless asked
    assert not files_left(machines)
    print(f"200 images stored in {posted_s:.1f} s, analysed by two workers in {elapsed:.1f} s; split {by_worker}")
