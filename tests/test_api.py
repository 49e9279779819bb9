"""API v1 through the Flask test client, on SQLite and PostgreSQL, enqueuing on a real Redis."""
from __future__ import annotations

import io
import json

import redis
from PIL import Image

from shared.models import Analysis
from tests.conftest import REDIS_URL, make_jpeg, make_png


def post(client, data: bytes, name="photo.jpg"):
    return client.post("/api/v1/analyses", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_upload_is_stored_committed_and_enqueued_by_name(client, app, queue_name):
    data = make_jpeg()
    resp = post(client, data)
    assert resp.status_code == 202, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "queued" and body["filename"] == "photo.jpg"
    assert resp.headers["Location"] == body["status_url"] == f"/api/v1/analyses/{body['id']}"

    import hashlib
    sha = hashlib.sha256(data).hexdigest()
    assert body["sha256"] == sha
    stored = app.config["SETTINGS"].upload_dir / sha[:2] / sha[2:4] / sha
    assert stored.read_bytes() == data

    # the job on the real broker names the task and carries only the id
    raw = redis.Redis.from_url(REDIS_URL).lrange(queue_name, 0, -1)
    assert len(raw) == 1
    message = json.loads(raw[0])
    assert message["headers"]["task"] == "deepfake.analyze"
    assert message["headers"]["argsrepr"] == repr((body["id"],)) or body["id"] in message["headers"]["argsrepr"]


def test_status_of_queued_analysis_and_unknown_id(client):
    body = post(client, make_png(), "x.png").get_json()
    resp = client.get(body["status_url"])
    assert resp.status_code == 200
    got = resp.get_json()
    assert got["status"] == "queued" and got["media_type"] == "image/png"
    assert got["width"] == 40 and got["height"] == 30 and "result" not in got
    missing = client.get("/api/v1/analyses/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert "no analysis" in missing.get_json()["error"]


def test_same_file_twice_is_stored_once_and_shares_the_analysis_in_flight(client, app):
    data = make_jpeg()
    a = post(client, data).get_json()
    b = post(client, data, "again.jpg").get_json()
    assert a["id"] == b["id"] and a["sha256"] == b["sha256"]  # still queued: one run answers both
    files = [p for p in app.config["SETTINGS"].upload_dir.rglob("*") if p.is_file()]
    assert len(files) == 1


def test_rejects_non_images_with_a_clear_415(client, app):
    for payload, name in [(b"hello, I am text", "a.jpg"), (b"<html><script>alert(1)</script></html>", "x.png"),
                          (b"", "empty.jpg"), (b"%PDF-1.4\n", "doc.pdf")]:
        resp = post(client, payload, name)
        assert resp.status_code in (400, 415), (name, resp.status_code)
        assert resp.get_json()["error"]
    # nothing stored for refused files
    assert not [p for p in app.config["SETTINGS"].upload_dir.rglob("*") if p.is_file()]


def test_truncated_header_is_refused_but_truncated_pixels_are_left_to_the_worker(client):
    data = make_jpeg((300, 200))
    assert post(client, data[:20]).status_code == 415  # not even a header
    assert post(client, data[: len(data) // 2]).status_code == 202  # header fine; the worker reports it


def test_missing_file_field_is_400(client):
    resp = client.post("/api/v1/analyses", data={}, content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "file" in resp.get_json()["error"]


def test_upload_over_size_limit_is_413(overrides):
    from web import create_app

    app = create_app(overrides | {"max_upload_mb": 1})
    resp = post(app.test_client(), make_jpeg() + b"\0" * (2 * 1024 * 1024))
    assert resp.status_code == 413
    assert "MB" in resp.get_json()["error"]
    app.extensions["db_engine"].dispose()


def test_pixel_bomb_is_413(client):
    buf = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buf, "PNG")  # 400 MP that compresses to a few KB
    resp = post(client, buf.getvalue(), "bomb.png")
    assert resp.status_code == 413
    assert "pixels" in resp.get_json()["error"]


def _png_with_chunk(kind: bytes, data: bytes) -> bytes:
    """A small PNG with one more chunk after its image data (just before IEND), where Pillow's open never looks."""
    import struct
    import zlib

    png = make_png()
    chunk = struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return png[:-12] + chunk + png[-12:]


def test_an_uncompressed_text_chunk_over_the_limit_is_413_at_upload(client):
    from shared.limits import TEXT_MAX_BYTES

    xmp = b"XML:com.adobe.xmp\0\0\0\0\0" + b"<x:xmpmeta>" + b" " * TEXT_MAX_BYTES
    resp = post(client, _png_with_chunk(b"iTXt", xmp), "xmp.png")
    assert resp.status_code == 413, resp.get_json()
    assert f"iTXt text chunk is {len(xmp):,} bytes" in resp.get_json()["error"]
    assert "1,048,576" in resp.get_json()["error"]
    resp = post(client, _png_with_chunk(b"tEXt", b"Comment\0" + b"A" * (TEXT_MAX_BYTES + 1)), "t.png")
    assert resp.status_code == 413 and "tEXt" in resp.get_json()["error"]
    assert post(client, _png_with_chunk(b"tEXt", b"Comment\0" + b"A" * (TEXT_MAX_BYTES - 8)), "ok.png").status_code == 202


def test_list_is_newest_first_and_paginated(client):
    ids = [post(client, make_jpeg(color=(i * 20, 0, 0)), f"{i}.jpg").get_json()["id"] for i in range(5)]
    page1 = client.get("/api/v1/analyses?per_page=2").get_json()
    assert page1["total"] == 5 and page1["pages"] == 3
    assert [a["id"] for a in page1["items"]] == ids[::-1][:2]
    page3 = client.get("/api/v1/analyses?per_page=2&page=3").get_json()
    assert [a["id"] for a in page3["items"]] == ids[:1]


def test_queue_down_gives_503_and_keeps_the_analysis(overrides, app):
    from web import create_app

    down = create_app(overrides | {"redis_url": "redis://127.0.0.1:1/0"})
    resp = post(down.test_client(), make_jpeg())
    assert resp.status_code == 503
    assert "queue" in resp.get_json()["error"]
    with down.extensions["db_sessionmaker"]() as s:
        assert s.query(Analysis).count() == 1  # saved, to be re-queued by the worker's sweep
    down.extensions["db_engine"].dispose()


def test_security_headers(client):
    resp = client.get("/api/v1/analyses")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]


def _raw_multipart(field: str, filename: bytes, data: bytes) -> bytes:
    return (b"--XX\r\nContent-Disposition: form-data; name=\"" + field.encode() + b"\"; filename=\"" + filename +
            b"\"\r\nContent-Type: image/jpeg\r\n\r\n" + data + b"\r\n--XX--\r\n")


def test_non_utf8_file_name_is_a_precise_400(client, app):
    """Issue 11 item 10c: raw non-UTF-8 bytes in the multipart file name were answered 'no file was sent'."""
    for url, field in (("/api/v1/analyses", "file"), ("/api/v1/batches", "files")):
        resp = client.post(url, data=_raw_multipart(field, b"caf\xe9\xff.jpg", make_jpeg()),
                           content_type="multipart/form-data; boundary=XX")
        assert resp.status_code == 400
        assert "UTF-8" in resp.get_json()["error"] and "no file" not in resp.get_json()["error"]
    assert not [p for p in app.config["SETTINGS"].upload_dir.rglob("*") if p.is_file()]
    ok = client.post("/api/v1/analyses", data=_raw_multipart("file", "café.jpg".encode(), make_jpeg()),
                     content_type="multipart/form-data; boundary=XX")
    assert ok.status_code == 202 and ok.get_json()["filename"] == "café.jpg"
