"""Upload → real Redis → real Celery worker process → database → polled result; and the CLI."""
from __future__ import annotations

import hashlib
import io
import json
import subprocess

import pytest

from tests.conftest import camera_like_jpeg, make_jpeg
from tests.live import BIN, ROOT, Worker, app_for, emptied, isolated, wait_final, wait_maps

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stack(request, tmp_path_factory):
    """A worker process and an app sharing one database, upload folder and queue."""
    url = emptied(request.getfixturevalue("postgres_url")) if request.param == "postgres" else None
    overrides = isolated(tmp_path_factory.mktemp("e2e"), "e2e", url)
    with app_for(overrides) as app:
        worker = Worker(overrides).wait_ready()
        yield app, worker, overrides
        worker.stop()


def upload(client, data: bytes, name: str) -> dict:
    resp = client.post("/api/v1/analyses", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()


def test_photo_gets_a_verdict_written_by_the_worker(stack, tmp_path):
    app, worker, _ = stack
    client = app.test_client()
    photo = camera_like_jpeg(tmp_path / "camera.jpg")
    sub = upload(client, photo.read_bytes(), "camera.jpg")
    body = wait_final(lambda url: client.get(url).get_json(), sub["status_url"])
    assert body["status"] == "done", body.get("error") or "".join(worker.log)[-3000:]
    assert body["verdict"] in ("real", "uncertain", "fake")
    assert 0.0 <= body["fake_probability"] <= 1.0
    assert body["metadata_score"] > 0.5  # camera make, model, exposure, lens and dates were written
    assert body["reasons"], "a verdict comes with its reasons"
    kinds = {e["kind"] for e in body["evidence"]}
    assert {"model", "metadata_score"} <= kinds
    from worker.detector import load

    shipped = load(str(ROOT / "models" / "ensemble.json"))
    assert body["model_version"] == shipped.version
    members = body["result"]["detectors"]
    assert [d["name"] for d in members] == [m.name for m in shipped.members]  # every detector's score is shown
    assert all(d["version"] == hashlib.sha256((ROOT / "models" / f"{d['name']}.keras").read_bytes()).hexdigest()
               for d in members)
    assert [s["perturbation"] for s in body["result"]["robustness"]][0] == "original"
    # the thumbnail and maps follow the verdict, from their own job
    body = wait_maps(lambda url: client.get(url).get_json(), sub["status_url"])
    assert body["maps_state"] == "ready", body.get("maps_error")
    assert client.get(f"/analyses/{sub['id']}/files/thumbnail.jpg").status_code == 200
    assert [m["name"] for m in body["result"]["maps"]] == ["ela.png", "noise.png", "attention.png"]
    for m in body["result"]["maps"]:
        assert client.get(m["url"]).headers["Content-Type"] == "image/png"
    # metadata page shows what exiftool read, grouped
    html = client.get(f"/analyses/{sub['id']}/metadata").get_data(as_text=True)
    assert "Canon EOS 40D" in html and "<h2>EXIF" in html


def test_truncated_image_fails_with_its_reason_and_the_worker_goes_on(stack):
    app, worker, _ = stack
    client = app.test_client()
    data = make_jpeg((400, 300), quality=95)
    bad = upload(client, data[: len(data) // 3], "truncated.jpg")
    good = upload(client, make_jpeg((300, 200)), "fine.jpg")
    bad_body = wait_final(lambda url: client.get(url).get_json(), bad["status_url"])
    assert bad_body["status"] == "failed"
    assert "truncated" in bad_body["error"] or "corrupt" in bad_body["error"]
    assert wait_final(lambda url: client.get(url).get_json(), good["status_url"])["status"] == "done"
    assert worker.proc.poll() is None


def test_job_delivered_twice_writes_one_result(stack):
    app, worker, overrides = stack
    client = app.test_client()
    sub = upload(client, make_jpeg((128, 128), color=(1, 2, 3)), "twice.jpg")
    first = wait_final(lambda url: client.get(url).get_json(), sub["status_url"])
    app.extensions["celery_client"].send_task("deepfake.analyze", args=[sub["id"]], queue=overrides["queue"])
    marker = upload(client, make_jpeg((96, 96)), "after.jpg")  # the queue is FIFO: once this is done, so is the repeat
    wait_final(lambda url: client.get(url).get_json(), marker["status_url"])
    again = client.get(sub["status_url"]).get_json()
    assert again["finished_at"] == first["finished_at"] and again["attempts"] == 1 and again["pipeline_runs"] == 1


def test_cli_gives_the_same_probability_as_the_worker(stack, tmp_path):
    app, _, _ = stack
    client = app.test_client()
    photo = camera_like_jpeg(tmp_path / "same.jpg", size=(500, 400))
    sub = upload(client, photo.read_bytes(), "same.jpg")
    body = wait_final(lambda url: client.get(url).get_json(), sub["status_url"])
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    run = subprocess.run([str(BIN / "deepfake-detect"), "predict", "--json", str(photo), str(bad)],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 1, run.stderr[-2000:]
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 2
    ok, err = lines
    assert ok["sha256"] == body["sha256"] and ok["verdict"] == body["verdict"]
    assert ok["fake_probability"] == pytest.approx(body["fake_probability"], abs=1e-6)
    assert ok["metadata_score"] == pytest.approx(body["metadata_score"])
    assert set(ok) >= {"file", "sha256", "fake_probability", "metadata_score", "verdict", "reasons", "evidence"}
    assert err["file"] == str(bad) and "error" in err
