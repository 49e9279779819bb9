"""The result page's preview: upright, downscaled, never the original bytes, behind the analysis's own routes."""
from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import update

from shared import cleanup, keys, preview, storage
from shared.models import Analysis, Status
from tests.conftest import make_jpeg
from tests.test_pages import csrf_token


def rotated_jpeg(size=(2400, 1350), orientation=6) -> bytes:
    """A landscape JPEG whose EXIF says "rotate 90° to view": upright it is portrait."""
    img = Image.new("RGB", size, (200, 30, 30))
    img.paste((10, 200, 10), (0, 0, size[0] // 4, size[1] // 4))  # a green block top-left as stored
    exif = img.getexif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif, quality=90)
    return buf.getvalue()


def test_render_applies_orientation_and_downscales(tmp_path):
    path = tmp_path / "r.jpg"
    path.write_bytes(rotated_jpeg())
    with Image.open(io.BytesIO(preview.render(path, 10**8))) as out:
        assert out.format == "JPEG" and out.mode == "RGB"
        assert out.size == (900, 1600)  # 1350x2400 upright, long side PREVIEW_SIDE
        assert out.getpixel((out.width - 20, 20))[1] > 150  # the block is now top-right
        assert "exif" not in out.info  # the original's metadata does not travel


def test_render_refuses_what_is_over_the_pixel_limit_or_unreadable(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (300, 300)).save(path)
    with pytest.raises(preview.NoPreview, match="limit"):
        preview.render(path, 300 * 299)
    path.write_bytes(make_jpeg()[:100])
    with pytest.raises(preview.NoPreview):
        preview.render(path, 10**8)


def _upload(client, data: bytes, headers=None, url="/api/v1/analyses") -> str:
    resp = client.post(url, data={"file": (io.BytesIO(data), "r.jpg")}, headers=headers or {},
                       content_type="multipart/form-data")
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["id"]


def _finish(app, analysis_id: str) -> None:
    """What the worker does that matters here: the analysis is done (its file was decoded)."""
    with app.extensions["db_sessionmaker"]() as s:
        s.execute(update(Analysis).where(Analysis.id == analysis_id).values(
            status=Status.DONE, verdict="uncertain", result={"evidence": [], "maps": [], "reasons": []}))
        s.commit()


def test_page_preview_is_upright_and_small_then_gone_after_delete(app, client):
    original = rotated_jpeg()
    analysis_id = _upload(client, original)
    assert client.get(f"/analyses/{analysis_id}/preview").status_code == 409  # not decoded by the worker yet
    _finish(app, analysis_id)
    status = client.get(f"/analyses/{analysis_id}/status").get_json()
    assert status["preview_url"] == f"/analyses/{analysis_id}/preview"
    resp = client.get(status["preview_url"])
    assert resp.status_code == 200 and resp.mimetype == "image/jpeg"
    assert resp.data != original and "private" in resp.headers["Cache-Control"]
    with Image.open(io.BytesIO(resp.data)) as out:
        assert out.size == (900, 1600)
    assert client.get(status["preview_url"], headers={"If-None-Match": resp.headers["ETag"]}).status_code == 304
    client.post(f"/analyses/{analysis_id}/delete", data={"csrf_token": csrf_token(client), "confirm": "yes"})
    gone = client.get(f"/analyses/{analysis_id}/preview")
    assert gone.status_code == 404


def test_purged_analysis_preview_is_410_and_not_offered(app, client, overrides):
    analysis_id = _upload(client, rotated_jpeg())
    _finish(app, analysis_id)
    with app.extensions["db_sessionmaker"]() as s:
        assert cleanup.purge_older_than(s, storage.store_for(app.config["SETTINGS"]), days=-1) == 1
    resp = client.get(f"/analyses/{analysis_id}/preview")
    assert resp.status_code == 410 and "purged" in resp.get_data(as_text=True)
    body = client.get(f"/api/v1/analyses/{analysis_id}/preview")
    assert body.status_code == 410 and "purged" in body.get_json()["error"]
    assert "preview_url" not in client.get(f"/analyses/{analysis_id}/status").get_json()


def test_api_preview_is_only_for_the_keys_own_analyses(app, client):
    with app.extensions["db_sessionmaker"]() as s:
        _, mine = keys.create(s, "mine")
        _, theirs = keys.create(s, "theirs")
        s.commit()
    analysis_id = _upload(client, rotated_jpeg(), {"Authorization": f"Bearer {mine}"})
    _finish(app, analysis_id)
    body = client.get(f"/api/v1/analyses/{analysis_id}", headers={"Authorization": f"Bearer {mine}"}).get_json()
    assert body["preview_url"] == f"/api/v1/analyses/{analysis_id}/preview"
    assert client.get(body["preview_url"], headers={"Authorization": f"Bearer {mine}"}).status_code == 200
    assert client.get(body["preview_url"], headers={"Authorization": f"Bearer {theirs}"}).status_code == 404
    assert client.get(f"/analyses/{analysis_id}/preview").status_code == 404  # not the local user's


def big_grey16_png(width=10000, height=9999) -> bytes:
    """A 16-bit grey PNG of about 100 M pixels that is small on disk (all zero), written row by row."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z, row, parts = zlib.compressobj(9), b"\0" * (1 + 2 * width), []
    parts.extend(z.compress(row) for _ in range(height))
    idat = b"".join(parts) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture
def no_decoding(monkeypatch):
    """Any image decoded in this process from here on fails the test."""
    from PIL import ImageFile

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"the web decoded a {self.size} image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


def test_a_huge_image_preview_is_never_decoded_by_the_web(app, client, no_decoding):
    """10000x9999 at 16 bits (small on disk) took 2.4 s and ~960 MB per request when the web decoded it."""
    import time

    analysis_id = _upload(client, big_grey16_png())
    _finish(app, analysis_id)
    started = time.monotonic()
    resp = client.get(f"/api/v1/analyses/{analysis_id}/preview")  # no stored preview: too large to make here
    assert resp.status_code == 404 and "no stored preview" in resp.get_json()["error"]
    assert time.monotonic() - started < 0.5
    sha = client.get(f"/api/v1/analyses/{analysis_id}").get_json()["sha256"]
    made = preview.encode(Image.new("I;16", (1000, 999)))  # what the worker stores beside the thumbnail
    preview.save(storage.store_for(app.config["SETTINGS"]), sha, made)
    for _ in range(3):
        resp = client.get(f"/api/v1/analyses/{analysis_id}/preview")
        assert resp.status_code == 200 and resp.mimetype == "image/jpeg" and resp.data == made


def test_a_small_preview_is_made_once_then_read_from_storage(app, client):
    analysis_id = _upload(client, rotated_jpeg())
    _finish(app, analysis_id)
    first = client.get(f"/analyses/{analysis_id}/preview")
    assert first.status_code == 200
    sha = client.get(f"/api/v1/analyses/{analysis_id}").get_json()["sha256"]
    stored = storage.store_for(app.config["SETTINGS"]).open_derived(sha, preview.PREVIEW_NAME)
    assert stored is not None and stored.read() == first.data


def test_the_worker_stores_the_preview_before_the_analysis_is_done(app, client, request):
    """The runner's chunk: the preview comes from the image decoded for the verdict, upright and downscaled; the
    web then serves it without decoding anything."""
    from worker.pipeline import Resources
    from worker.runner import run_chunk

    analysis_id = _upload(client, rotated_jpeg())
    res = Resources(app.config["SETTINGS"])
    try:
        run_chunk([analysis_id], res)
    finally:
        res.close()
    sha = client.get(f"/api/v1/analyses/{analysis_id}").get_json()["sha256"]
    stored = storage.store_for(app.config["SETTINGS"]).open_derived(sha, preview.PREVIEW_NAME)
    assert stored is not None
    with Image.open(stored) as out:
        assert out.format == "JPEG" and out.size == (900, 1600)
        assert out.getpixel((out.width - 20, 20))[1] > 150  # upright: the block is top-right
    request.getfixturevalue("no_decoding")
    resp = client.get(f"/analyses/{analysis_id}/preview")
    assert resp.status_code == 200 and resp.mimetype == "image/jpeg"
