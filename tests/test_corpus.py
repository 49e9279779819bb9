"""Every sample file and a set of hostile files through the API and a real worker: no 5xx, nothing stuck,
no worker dies."""
from __future__ import annotations

import io
import struct
import time
import zipfile
import zlib

import pytest
from PIL import Image

from tests import hostile
from tests.conftest import SHARED, make_jpeg
from tests.live import Worker, app_for, isolated

pytestmark = pytest.mark.slow


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def crafted() -> dict[str, bytes]:
    """Hostile and broken files made here."""
    bomb = io.BytesIO()
    Image.new("1", (30000, 30000)).save(bomb, "PNG")
    small = io.BytesIO()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(small, "PNG")
    png = small.getvalue()
    ztxt = png[:33] + _png_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"A" * (100 << 20), 9)) + png[33:]
    jpeg = make_jpeg((400, 300), quality=95)
    polyglot = jpeg + b"<html><script>alert(1)</script></html>" + b"PK\x03\x04"
    return {"pixel-bomb.png": bomb.getvalue(), "zero.jpg": b"", "text.jpg": b"just some text\n" * 20,
            "page.html": b"<!doctype html><script>alert(1)</script>", "truncated.jpg": jpeg[: len(jpeg) // 2],
            "ztxt-100mb.png": ztxt, "polyglot.jpg": polyglot, "header-only.png": png[:40],
            "gif-as-jpg.jpg": _gif(), "fake-heic.heic": b"\0\0\0\x18ftypheic" + b"\0" * 100,
            # issue 11: regex bombs in A1111 text, a gzip bomb in the alpha LSBs, a 16-bit big-endian TIFF, a sliver
            "a1111-quadratic.png": hostile.a1111_quadratic(200_000), "a1111-exponential.png": hostile.a1111_exponential(60),
            "stealth-bomb.png": hostile.stealth_bomb(256, side=2048), "grey16be.tif": hostile.tiff("I;16B"),
            "sliver.png": hostile.sliver()}


def _gif() -> bytes:
    buf = io.BytesIO()
    frames = [Image.new("P", (40, 30), i) for i in range(3)]
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    return buf.getvalue()


def zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(3):
            z.writestr(f"layer{i}.jpg", b"\0" * (50 << 20))
    return buf.getvalue()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    overrides = isolated(tmp_path_factory.mktemp("corpus"), "corpus")
    with app_for(overrides) as app:
        worker = Worker(overrides).wait_ready()
        yield app, worker
        worker.stop()


def test_every_file_gets_a_4xx_or_a_final_analysis(stack):
    app, worker = stack
    client = app.test_client()
    files = crafted()
    samples = SHARED / "samples"
    if samples.is_dir():
        files |= {str(p.relative_to(samples)): p.read_bytes() for p in sorted(samples.rglob("*")) if p.is_file()}
    else:
        print(f"note: {samples} is absent; the corpus test runs on the crafted files only")
    accepted, refused = {}, {}
    for name, data in files.items():
        resp = client.post("/api/v1/analyses", data={"file": (io.BytesIO(data), name.rsplit("/", 1)[-1])},
                           content_type="multipart/form-data")
        assert resp.status_code < 500, (name, resp.status_code, resp.get_data(as_text=True)[:300])
        body = resp.get_json()
        assert body is not None, name
        if resp.status_code == 202:
            accepted[name] = body["status_url"]
        else:
            assert 400 <= resp.status_code < 500 and body["error"], name
            refused[name] = (resp.status_code, body["error"])
    assert refused["pixel-bomb.png"][0] == 413 and refused["ztxt-100mb.png"][0] == 413
    assert refused["zero.jpg"][0] == 400 and refused["text.jpg"][0] == 415 and refused["page.html"][0] == 415
    bomb = client.post("/api/v1/batches", data={"files": [(io.BytesIO(zip_bomb()), "bomb.zip")]},
                       content_type="multipart/form-data")
    assert bomb.status_code in (202, 413), bomb.get_json()
    if bomb.status_code == 202:
        assert bomb.get_json()["counts"]["failed"] == 3

    deadline = time.monotonic() + 900
    final = {}
    while len(final) < len(accepted) and time.monotonic() < deadline:
        for name, url in accepted.items():
            if name not in final:
                body = client.get(url).get_json()
                if body["status"] in ("done", "failed"):
                    final[name] = body
        time.sleep(1)
        assert worker.proc.poll() is None, "".join(worker.log)[-3000:]
    stuck = set(accepted) - set(final)
    assert not stuck, f"not finished: {sorted(stuck)[:10]}"
    for name, body in final.items():
        if body["status"] == "failed":
            assert body["error"], name
        else:
            assert body["verdict"] in ("real", "uncertain", "fake"), name
    assert final["truncated.jpg"]["status"] == "failed"
    assert final["gif-as-jpg.jpg"]["status"] == "done"
    assert {n: final[n]["status"] for n in ("a1111-quadratic.png", "a1111-exponential.png", "grey16be.tif")} == \
        dict.fromkeys(("a1111-quadratic.png", "a1111-exponential.png", "grey16be.tif"), "done")
    assert "decompression bomb" in final["stealth-bomb.png"]["error"]
    assert "too narrow" in final["sliver.png"]["error"]
    print(f"corpus: {len(accepted)} accepted ({sum(b['status'] == 'done' for b in final.values())} done), "
          f"{len(refused)} refused with 4xx")
