"""`deepfake-detect submit` against a running service (gunicorn + a real worker): batches, resume, results."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import zipfile

import pytest

from shared import keys
from tests.conftest import camera_like_jpeg, make_jpeg
from tests.live import BIN, ROOT, WebServer, Worker, app_for, isolated

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    overrides = isolated(tmp_path_factory.mktemp("submit"), "submit", link_allow_private=True)  # links on 127.0.0.1
    with app_for(overrides) as app:
        with app.extensions["db_sessionmaker"]() as s:
            _, token = keys.create(s, "cli")
            s.commit()
        worker = Worker(overrides).wait_ready()
        web = WebServer(overrides)
        yield web.url, token
        web.stop()
        worker.stop()


def run(*args: str) -> subprocess.CompletedProcess:
    # this checkout's code, whichever checkout the virtual environment's editable install points at
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([str(BIN / "deepfake-detect"), "submit", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300, env=env)


def test_submit_folder_and_zip_writes_results_and_resumes(server, tmp_path):
    url, token = server
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for i in range(3):
        camera_like_jpeg(folder / f"p{i}.jpg", size=(300 + 10 * i, 200))
    (folder / "sub" / "notes.txt").write_text("not an image")
    archive = tmp_path / "more.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("z1.jpg", make_jpeg((120, 90)))
    out = tmp_path / "results.csv"
    first = run("--server", url, "--key", token, "--out", str(out), "--batch-size", "3", str(folder), str(archive))
    assert first.returncode == 1, first.stderr  # one file failed (notes.txt): reported, exit status says so
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 5
    assert sorted(r["filename"] for r in rows) == ["notes.txt", "p0.jpg", "p1.jpg", "p2.jpg", "z1.jpg"]
    assert [r["status"] for r in rows if r["filename"] == "notes.txt"] == ["failed"]
    assert {r["filename"]: r["source"] for r in rows}["z1.jpg"] == f"{archive}!z1.jpg"
    assert {r["filename"]: r["source"] for r in rows}["notes.txt"] == str(folder / "sub" / "notes.txt")
    assert "created" in first.stderr and "5/5 finished" in first.stderr
    assert ": 3 images" in first.stderr and ": 2 images" in first.stderr  # the second batch: 1 file, then the ZIP
    # the same command again resumes the same batches (idempotency keys) and writes the same results
    again = run("--server", url, "--key", token, "--out", str(tmp_path / "again.jsonl"), "--batch-size", "3",
                str(folder), str(archive))
    assert again.stderr.count("resumed") == 2 and "created" not in again.stderr
    again_rows = [json.loads(line) for line in (tmp_path / "again.jsonl").read_text().splitlines()]
    assert {r["id"] for r in again_rows} == {r["id"] for r in rows}
    assert {r["id"]: r["source"] for r in again_rows} == {r["id"]: r["source"] for r in rows}


def test_submit_with_a_bad_key_says_so(server, tmp_path):
    url, _ = server
    photo = camera_like_jpeg(tmp_path / "x.jpg")
    result = run("--server", url, "--key", "wrong", str(photo))
    assert result.returncode != 0 and "401" in result.stderr


def test_a_retried_upload_sends_the_files_again(database_url, tmp_path):
    """Issue 11 item 10d: after a 503 (or 429) the client re-sent the already-read, empty file handles."""
    import hashlib

    from client.submit import Api

    overrides = isolated(tmp_path, "retry", database_url, redis_url="redis://127.0.0.1:1/0")  # the queue is down
    photo = camera_like_jpeg(tmp_path / "p.jpg")
    web = WebServer(overrides)
    try:
        api = Api(web.url, None)
        with open(photo, "rb") as fh:  # first answer: 503, batch saved; the retry must replay it (200)
            resp = api.call("POST", "/api/v1/batches", files=[("files", ("p.jpg", fh))],
                            headers={"Idempotency-Key": "retry-once"})
        assert resp.status_code == 200 and resp.headers["Idempotent-Replayed"] == "true"
        items = api.call("GET", resp.json()["status_url"]).json()["items"]
    finally:
        web.stop()
    assert [(i["status"], i["sha256"]) for i in items] == [("queued", hashlib.sha256(photo.read_bytes()).hexdigest())]


def test_a_server_that_is_down_is_said_in_words_not_a_traceback(tmp_path):
    from tests.receivers import closed_port_url

    (tmp_path / "a.jpg").write_bytes(make_jpeg())
    result = run("--server", closed_port_url().removesuffix("/hook"), str(tmp_path / "a.jpg"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "cannot reach the server at http://127.0.0.1:" in result.stderr and "connection refused" in result.stderr


def test_each_result_names_its_source_so_the_same_name_from_a_folder_and_a_zip_differ(tmp_path):
    from client.submit import sources, with_sources

    (tmp_path / "a.jpg").write_bytes(make_jpeg())
    with zipfile.ZipFile(tmp_path / "more.zip", "w") as z:
        z.writestr("inner/a.jpg", make_jpeg())
        z.writestr("inner/", "")
        z.writestr("b.jpg", make_jpeg())
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not really an archive")
    expected = sources([tmp_path / "a.jpg", tmp_path / "more.zip", tmp_path / "bad.zip"])
    assert expected == [("a.jpg", str(tmp_path / "a.jpg")), ("a.jpg", f"{tmp_path / 'more.zip'}!inner/a.jpg"),
                        ("b.jpg", f"{tmp_path / 'more.zip'}!b.jpg"), ("bad.zip", str(tmp_path / "bad.zip"))]
    records = [{"filename": n} for n in ("b.jpg", "a.jpg", "a.jpg", "bad.zip")]  # as the server listed them
    assert [r["source"] for r in with_sources(records, expected)] == [
        f"{tmp_path / 'more.zip'}!b.jpg", str(tmp_path / "a.jpg"), f"{tmp_path / 'more.zip'}!inner/a.jpg",
        str(tmp_path / "bad.zip")]


def test_submit_urls_writes_each_link_as_its_source_and_a_refused_one_as_a_row(server, tmp_path):
    """`--url` sends links for the server to fetch; a refused link is a row with its reason, not a traceback."""
    from tests.receivers import ImageServer

    url, token = server
    images = ImageServer(camera_like_jpeg(tmp_path / "linked.jpg").read_bytes())
    try:
        good, redirected, page = images.url("/photo.jpg"), images.url("/r/1"), images.url("/page.html")
        out = tmp_path / "links.csv"
        result = run("--server", url, "--key", token, "--out", str(out), "--url", good, "--url", page,
                     "--url", "ftp://example.org/a.jpg", "--url", redirected)
    finally:
        images.close()
    assert "Traceback" not in result.stderr
    assert result.returncode == 1, result.stderr  # two links were refused: said in the rows and the exit status
    rows = {r["source"]: r for r in csv.DictReader(io.StringIO(out.read_text()))}
    assert list(rows) == [good, page, "ftp://example.org/a.jpg", redirected]
    assert rows[good]["status"] == "done" and rows[good]["verdict"] in ("real", "uncertain", "fake")
    assert rows[good]["filename"] == "photo.jpg" and rows[good]["id"]
    assert rows[redirected]["id"] == rows[good]["id"] or rows[redirected]["status"] == "done"
    assert rows[page]["status"] == "refused" and rows[page]["error"].startswith("415 unsupported file type")
    assert rows[page]["verdict"] == "" and rows[page]["id"] == ""
    assert rows["ftp://example.org/a.jpg"]["error"] == "400 url must be an absolute http:// or https:// URL"
    assert "2 links refused" in result.stderr and f"link {page}: refused: 415" in result.stderr
