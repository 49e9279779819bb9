"""A batch of real images through a real worker: counts, export, reuse of earlier results, signed webhooks."""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import time

import pytest

from shared import keys
from tests.conftest import SHARED, camera_like_jpeg, make_jpeg
from tests.live import Worker, app_for, emptied, isolated
from tests.receivers import Receiver
from tests.test_faults import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stack(request, tmp_path_factory):
    url = emptied(request.getfixturevalue("postgres_url")) if request.param == "postgres" else None
    overrides = isolated(tmp_path_factory.mktemp("batch"), "batch", url, webhook_allow_private=True)
    with app_for(overrides) as app:
        worker = Worker(overrides, env={"WEBHOOK_RETRY_BASE_S": "0.5"}).wait_ready()
        yield app, worker
        worker.stop()


def real_images(tmp_path, n: int) -> list[tuple[bytes, str]]:
    """Photos and AI images from ../shared when present, else images made here; always some of our own."""
    found = []
    for folder in ("datasets/train/real/bsds500", "datasets/train/fake/imagen-2022-glid3",
                   "samples/camera-exif/jpg"):
        d = SHARED / folder
        if d.is_dir():
            found += [(p.read_bytes(), p.name) for p in sorted(d.iterdir()) if p.suffix.lower() == ".jpg"][:15]
    i = 0
    while len(found) < n:
        found.append((camera_like_jpeg(tmp_path / f"own{i}.jpg", size=(320 + i, 240)).read_bytes(), f"own{i}.jpg"))
        i += 1
    return found[:n]


def wait_batch(client, url: str, headers: dict, timeout: float = 400) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url, headers=headers).get_json()
        if body["status"] == "done":
            return body
        time.sleep(1)
    raise TimeoutError(f"batch not done: {body['counts']}")


def test_batch_of_50_with_bad_files_finishes_exports_and_calls_back(stack, tmp_path):
    app, worker = stack
    client = app.test_client()
    with app.extensions["db_sessionmaker"]() as s:
        key, token = keys.create(s, "batcher")
        s.commit()
        secret = key.webhook_secret
    headers = {"Authorization": f"Bearer {token}"}
    good = real_images(tmp_path, 50)
    jpeg = make_jpeg((300, 200), quality=95)
    bad = [(b"<html>not an image</html>", "page.html"), (b"", "empty.jpg"), (jpeg[: len(jpeg) // 3], "truncated.jpg")]
    receiver = Receiver((500, 200))
    resp = client.post("/api/v1/batches", headers=headers | {"Idempotency-Key": "e2e"},
                       data={"files": [(io.BytesIO(d), n) for d, n in good + bad], "name": "fifty",
                             "callback_url": receiver.url}, content_type="multipart/form-data")
    assert resp.status_code == 202, resp.get_json()
    batch = resp.get_json()
    assert batch["total"] == 53 and batch["counts"]["failed"] == 2  # html and empty refused on arrival
    done = wait_batch(client, batch["status_url"], headers)
    assert done["counts"] == {"queued": 0, "running": 0, "done": 50, "failed": 3}, "".join(worker.log)[-3000:]
    assert done["progress"] == 1.0
    rows = list(csv.DictReader(io.StringIO(client.get(batch["results_url"], headers=headers).get_data(as_text=True))))
    assert len(rows) == 53
    assert {r["verdict"] for r in rows if r["status"] == "done"} <= {"real", "uncertain", "fake"}
    assert all(r["model_version"] and r["sha256"] for r in rows if r["status"] == "done")
    assert {r["filename"] for r in rows if r["status"] == "failed"} == {"page.html", "empty.jpg", "truncated.jpg"}

    # webhook: first attempt answered 500, retried, second arrives with a valid signature
    calls = receiver.wait(2)
    assert len(calls) == 2, worker.log[-20:]
    last = calls[-1]
    ts, sig = last["headers"]["X-Deepfake-Timestamp"], last["headers"]["X-Deepfake-Signature"]
    expected = "sha256=" + hmac.new(secret.encode(), f"{ts}.".encode() + last["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(sig, expected)
    payload = json.loads(last["body"])
    assert payload["event"] == "batch.finished" and payload["batch_id"] == batch["id"]
    assert payload["counts"] == {"done": 50, "failed": 3}
    # each attempt is recorded before it is sent (a crash mid-send still leaves it, unanswered) and its answer
    # just after the receiver gave it: wait for the second attempt's answer, not only its record
    deliveries = wait_for(lambda: len(d := client.get(batch["status_url"], headers=headers)
                                      .get_json()["webhook_deliveries"]) == 2 and d[-1]["status_code"] and d,
                          10, "second attempt's answer not recorded")
    assert [(d["attempt"], d["succeeded"], d["status_code"]) for d in deliveries] == [(1, False, 500), (2, True, 200)]

    # resubmitting the same request creates nothing; a new batch of the same files reuses the results
    again = client.post("/api/v1/batches", headers=headers | {"Idempotency-Key": "e2e"},
                        data={"files": [(io.BytesIO(d), n) for d, n in good + bad], "name": "fifty",
                              "callback_url": receiver.url}, content_type="multipart/form-data")
    assert again.status_code == 200 and again.get_json()["id"] == batch["id"]
    second = client.post("/api/v1/batches", headers=headers,
                         data={"files": [(io.BytesIO(d), n) for d, n in good[:5]]},
                         content_type="multipart/form-data").get_json()
    wait_batch(client, second["status_url"], headers, timeout=120)
    items = client.get(second["status_url"], headers=headers).get_json()["items"]
    assert all(i["reused_from"] for i in items), items
    first_items = {i["sha256"]: i for i in done["items"]}
    for i in items:
        assert i["fake_probability"] == first_items[i["sha256"]]["fake_probability"]


def test_single_analysis_callback_and_near_duplicates(stack, tmp_path):
    app, _ = stack
    client = app.test_client()
    receiver = Receiver()
    photo = camera_like_jpeg(tmp_path / "orig.jpg", size=(600, 450))
    from PIL import Image

    smaller = tmp_path / "smaller.jpg"
    Image.open(photo).resize((300, 225)).save(smaller, "JPEG", quality=70)
    ids = []
    for path in (photo, smaller):
        r = client.post("/api/v1/analyses", data={"file": (io.BytesIO(path.read_bytes()), path.name),
                                                   "callback_url": receiver.url}, content_type="multipart/form-data")
        ids.append(r.get_json()["id"])
        deadline = time.monotonic() + 120
        while client.get(f"/api/v1/analyses/{ids[-1]}").get_json()["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.3)
    calls = receiver.wait(2)
    assert {json.loads(c["body"])["analysis_id"] for c in calls} == set(ids)
    body = client.get(f"/api/v1/analyses/{ids[1]}").get_json()
    assert [s["id"] for s in body["similar"]] == [ids[0]] and body["similar"][0]["distance_bits"] <= 6
    html = client.get(f"/analyses/{ids[1]}").get_data(as_text=True)
    assert "orig.jpg" in html and "near-identical" in html
