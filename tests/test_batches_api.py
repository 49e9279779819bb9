"""Batches, API keys, rate limits, filters and exports through the test client (jobs go to a real Redis)."""
from __future__ import annotations

import csv
import io
import json
import zipfile

import redis

from shared import keys
from shared.models import Analysis, Status
from tests.conftest import REDIS_URL, make_jpeg, make_png


def make_key(app, name="k", **kw):
    with app.extensions["db_sessionmaker"]() as s:
        key, token = keys.create(s, name, **kw)
        s.commit()
        return key.id, token


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def files(*pairs):
    return {"files": [(io.BytesIO(data), name) for data, name in pairs]}


def post_batch(client, data, headers=None, **form):
    return client.post("/api/v1/batches", data=data | form, headers=headers or {}, content_type="multipart/form-data")


def test_batch_of_files_with_a_bad_one_is_accepted_and_chunked(client, app, queue_name):
    good = [(make_jpeg(color=(i * 25, 9, 9)), f"g{i}.jpg") for i in range(10)]
    resp = post_batch(client, files(*good, (b"just text", "notes.txt"), (make_png(), "p.png")), name="holiday")
    assert resp.status_code == 202, resp.get_json()
    body = resp.get_json()
    assert body["total"] == 12 and body["name"] == "holiday" and body["status"] == "running"
    assert body["counts"] == {"queued": 11, "running": 0, "done": 0, "failed": 1}
    detail = client.get(body["status_url"]).get_json()
    failed = [i for i in detail["items"] if i["status"] == "failed"]
    assert [f["filename"] for f in failed] == ["notes.txt"]
    # 11 queued analyses in chunks of BATCH_CHUNK (8): two jobs, each carrying ids only, on the bulk queue
    jobs = [json.loads(m) for m in redis.Redis.from_url(REDIS_URL).lrange(queue_name + "-bulk", 0, -1)]
    assert [j["headers"]["task"] for j in jobs] == ["deepfake.analyze_chunk"] * 2
    assert redis.Redis.from_url(REDIS_URL).llen(queue_name) == 0  # people's uploads do not queue behind them
    assert client.get(f"/api/v1/analyses/{failed[0]['id']}").get_json()["error"].startswith("unsupported file type")


def test_zip_archive_entries_are_unpacked_safely(client):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("photos/a.jpg", make_jpeg())
        z.writestr("../../etc/evil.jpg", make_jpeg(color=(0, 0, 200)))
        z.writestr("readme.txt", "not an image")
        z.writestr("bomb.bin", b"\0" * (20 * 1024 * 1024))  # compresses ~1000:1
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w") as zi:
            zi.writestr("x.jpg", make_jpeg())
        z.writestr("nested.zip", inner.getvalue())
        z.mkdir("empty-dir")
    resp = post_batch(client, {"files": [(io.BytesIO(buf.getvalue()), "upload.zip")]})
    assert resp.status_code == 202, resp.get_json()
    body = client.get(resp.get_json()["status_url"]).get_json()
    by_name = {i["filename"]: i for i in body["items"]}
    assert set(by_name) == {"a.jpg", "evil.jpg", "readme.txt", "bomb.bin", "nested.zip"}
    assert by_name["a.jpg"]["status"] == by_name["evil.jpg"]["status"] == "queued"
    reasons = {n: client.get(by_name[n]["status_url"]).get_json()["error"] for n in ("readme.txt", "bomb.bin", "nested.zip")}
    assert "unsupported" in reasons["readme.txt"]
    assert "zip bomb" in reasons["bomb.bin"]
    assert "archives inside archives" in reasons["nested.zip"]


def test_idempotency_key_replays_and_conflicts(client, app):
    data = lambda: files((make_jpeg(), "a.jpg"), (make_png(), "b.png"))  # noqa: E731
    first = post_batch(client, data(), headers={"Idempotency-Key": "job-42"})
    again = post_batch(client, data(), headers={"Idempotency-Key": "job-42"})
    assert first.status_code == 202 and again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    with app.extensions["db_sessionmaker"]() as s:
        assert s.query(Analysis).count() == 2
    other = post_batch(client, files((make_jpeg(color=(1, 1, 1)), "c.jpg")), headers={"Idempotency-Key": "job-42"})
    assert other.status_code == 409


def test_keys_see_only_their_own_work(client, app):
    _, alice = make_key(app, "alice")
    _, bob = make_key(app, "bob")
    mine = client.post("/api/v1/analyses", data={"file": (io.BytesIO(make_jpeg()), "a.jpg")},
                       headers=auth(alice), content_type="multipart/form-data").get_json()
    batch = post_batch(client, files((make_jpeg(), "b.jpg")), headers=auth(alice)).get_json()
    for url in (mine["status_url"], batch["status_url"], batch["results_url"]):
        assert client.get(url, headers=auth(bob)).status_code == 404
        assert client.get(url).status_code == 404  # nor the anonymous user
        assert client.get(url, headers=auth(alice)).status_code == 200
    assert client.delete(mine["status_url"], headers=auth(bob)).status_code == 404
    assert client.get("/api/v1/analyses", headers=auth(bob)).get_json()["total"] == 0
    assert client.get("/api/v1/analyses", headers=auth(alice)).get_json()["total"] == 2


def test_bad_revoked_and_required_keys(client, app, overrides):
    key_id, token = make_key(app)
    assert client.get("/api/v1/analyses", headers=auth("nope")).status_code == 401
    assert client.get("/api/v1/analyses", headers={"Authorization": "Basic abc"}).status_code == 401
    with app.extensions["db_sessionmaker"]() as s:
        keys.revoke(s, key_id)
        s.commit()
    assert client.get("/api/v1/analyses", headers=auth(token)).get_json()["error"] == "unknown or revoked API key"
    from web import create_app

    strict = create_app(overrides | {"require_api_key": True})
    resp = strict.test_client().get("/api/v1/analyses")
    assert resp.status_code == 401 and "API key is required" in resp.get_json()["error"]
    assert strict.test_client().get("/api/v1/openapi.json").status_code == 200
    strict.extensions["db_engine"].dispose()


def test_rate_limit_answers_429(client, app):
    _, token = make_key(app, rate_limit_per_minute=3)
    codes = [client.get("/api/v1/analyses", headers=auth(token)).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    resp = client.get("/api/v1/analyses", headers=auth(token))
    assert "rate limit" in resp.get_json()["error"] and int(resp.headers["Retry-After"]) <= 60


def test_max_batch_files_answers_413(client, app):
    _, token = make_key(app, max_batch_files=2)
    resp = post_batch(client, files(*[(make_jpeg(color=(i, 0, 0)), f"{i}.jpg") for i in range(3)]), headers=auth(token))
    assert resp.status_code == 413 and "at most 2" in resp.get_json()["error"]


def test_the_part_limit_follows_the_keys_file_limit_and_says_it_is_the_part_limit(client, app, overrides):
    """Werkzeug's 1,000-part default is not a key's limit: 1,004 (not images, so quickly refused) files pass for a key
    allowed 1,200; more parts than a key's files and fields are a 413 that names parts, not megabytes."""
    _, big = make_key(app, "big", max_batch_files=1200)
    resp = post_batch(client, files(*[(b"x", f"{i}.jpg") for i in range(1004)]), headers=auth(big))
    assert resp.status_code == 202, resp.get_json()
    assert resp.get_json()["total"] == 1004
    _, small = make_key(app, "small", max_batch_files=3)
    resp = post_batch(client, files(*[(b"", f"{i}.jpg") for i in range(40)]), headers=auth(small))
    assert resp.status_code == 413
    message = resp.get_json()["error"]
    assert "multipart parts" in message and "at most 3 files" in message and "MB" not in message
    from web import create_app  # the upload page's batches are the keyless user's: MAX_BATCH_FILES

    pages = create_app({**overrides, "max_batch_files": 3}).test_client()
    resp = pages.post("/batches", data=files(*[(b"", f"{i}.jpg") for i in range(40)]),
                      headers={"Accept": "application/json"}, content_type="multipart/form-data")
    assert resp.status_code == 413 and "at most 3 files" in resp.get_json()["error"]


def test_batch_requires_files_and_a_valid_callback(client):
    assert post_batch(client, {}).status_code == 400
    resp = post_batch(client, files((make_jpeg(), "a.jpg")), callback_url="ftp://x")
    assert resp.status_code == 400 and "callback_url" in resp.get_json()["error"]


def test_export_formats_and_csv_injection(client, app):
    batch = post_batch(client, files((make_jpeg(), "=HYPERLINK(evil).jpg"), (b"nope", "bad.jpg"))).get_json()
    text = client.get(batch["results_url"] + "?format=csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2 and rows[0]["filename"].startswith("'=")
    assert {"sha256", "verdict", "fake_probability", "metadata_score", "top_reasons", "model_version"} <= set(rows[0])
    lines = client.get(batch["results_url"] + "?format=jsonl").get_data(as_text=True).splitlines()
    assert [json.loads(x)["status"] for x in lines] == ["queued", "failed"]
    assert len(client.get(batch["results_url"] + "?format=json").get_json()) == 2
    assert client.get(batch["results_url"] + "?format=xml").status_code == 400


def test_filters_and_sorting(client, app):
    with app.extensions["db_sessionmaker"]() as s:
        for i, (verdict, p, prov) in enumerate([("fake", 0.9, True), ("real", 0.1, False), ("uncertain", 0.5, False)]):
            s.add(Analysis(filename=f"img{i}.jpg", sha256=f"{i:064x}", media_type="image/jpeg", size_bytes=1,
                           status="done", verdict=verdict, fake_probability=p, has_provenance=prov))
        s.commit()
    get = lambda q: client.get("/api/v1/analyses?" + q).get_json()  # noqa: E731
    assert [a["verdict"] for a in get("verdict=fake")["items"]] == ["fake"]
    assert [a["filename"] for a in get("has_provenance=true")["items"]] == ["img0.jpg"]
    assert [a["fake_probability"] for a in get("sort=fake_probability")["items"]] == [0.1, 0.5, 0.9]
    assert get("filename=img1")["total"] == 1
    assert get("created_after=2999-01-01")["total"] == 0 and get("created_before=2999-01-01")["total"] == 3
    for bad in ("verdict=maybe", "sort=nope", "created_after=yesterday", "per_page=1000", "page=0"):
        resp = client.get("/api/v1/analyses?" + bad)
        assert resp.status_code == 400, bad
    html = client.get("/history?verdict=real").get_data(as_text=True)
    assert "img1.jpg" in html and "img0.jpg" not in html


def test_delete_batch_removes_rows_and_files(client, app):
    batch = post_batch(client, files((make_jpeg(color=(5, 5, 5)), "x.jpg"), (make_png(), "y.png"))).get_json()
    upload_dir = app.config["SETTINGS"].upload_dir
    assert len([p for p in upload_dir.rglob("*") if p.is_file()]) == 2
    assert client.delete(batch["status_url"]).status_code == 204
    assert client.get(batch["status_url"]).status_code == 404
    assert not [p for p in upload_dir.rglob("*") if p.is_file()]


def test_deleting_one_of_two_analyses_of_the_same_file_keeps_the_file(client, app):
    data = make_jpeg(color=(7, 7, 7))
    post = lambda: client.post("/api/v1/analyses", data={"file": (io.BytesIO(data), "d.jpg")},  # noqa: E731
                               content_type="multipart/form-data").get_json()
    a = post()
    with app.extensions["db_sessionmaker"]() as s:  # finished, so the next upload is an analysis of its own
        s.get(Analysis, a["id"]).status = Status.DONE
        s.commit()
    b = post()
    upload_dir = app.config["SETTINGS"].upload_dir
    assert client.delete(a["status_url"]).status_code == 204
    assert len([p for p in upload_dir.rglob("*") if p.is_file()]) == 1
    assert client.delete(b["status_url"]).status_code == 204
    assert not [p for p in upload_dir.rglob("*") if p.is_file()]


def test_rate_limit_is_not_enforced_while_redis_is_down(overrides):
    """Flask-Limiter swallows storage errors: the API keeps answering (the error is logged), as before."""
    from web import create_app

    app = create_app(overrides | {"redis_url": "redis://127.0.0.1:1/0"})
    try:
        _, token = make_key(app, rate_limit_per_minute=1)
        client = app.test_client()
        assert [client.get("/api/v1/batches", headers=auth(token)).status_code for _ in range(3)] == [200] * 3
    finally:
        app.extensions["db_engine"].dispose()
