"""Decoding and metadata reading on real files: camera JPEG/HEIC/TIFF, orientation, PNG, GIF, broken files."""
from __future__ import annotations

import io
import os
import shutil
import struct
import time

import pytest
from PIL import Image

from tests.conftest import camera_like_jpeg, shared_path, write_tags
from worker import decode, exif
from worker.errors import AnalysisError

LIMIT = 100_000_000


@pytest.fixture(scope="module")
def reader():
    r = exif.ExifReader(timeout=30)
    yield r
    r.close()


def test_camera_formats_decode_to_rgb(reader):
    for rel in ("camera-exif/jpg/Canon_40D.jpg", "camera-exif/heic/IMG_5195.HEIC", "camera-exif/tiff/BSG1.tiff",
                "exiftool-fixtures/PNG.png", "exiftool-fixtures/GIF.gif", "exiftool-fixtures/RIFF.webp"):
        path = shared_path("samples", *rel.split("/"))
        img = decode.load_image(path, LIMIT)
        assert img.mode == "RGB" and img.width > 0, rel
        tags = reader.read(path)
        assert tags.get("File:FileType"), rel
        assert "SourceFile" not in tags and "File:Directory" not in tags  # our server path never leaks


def test_orientation_is_applied():
    folder = shared_path("samples", "camera-exif", "jpg", "orientation")
    upright = decode.load_image(folder / "landscape_1.jpg", LIMIT).size
    for i in range(2, 9):
        assert decode.load_image(folder / f"landscape_{i}.jpg", LIMIT).size == upright, i


def test_broken_camera_files_fail_with_a_reason():
    folder = shared_path("samples", "camera-exif", "jpg", "invalid")
    outcomes = []
    for path in sorted(folder.iterdir()):
        try:
            decode.load_image(path, LIMIT)
            outcomes.append("ok")
        except AnalysisError as exc:
            assert str(exc)
            outcomes.append("failed")
    assert outcomes  # every file either decodes or fails cleanly; nothing else escapes


def test_exif_read_and_group_camera_tags(tmp_path, reader):
    path = camera_like_jpeg(tmp_path / "c.jpg")
    groups = exif.group(reader.read(path))
    assert groups["EXIF"]["Make"] == "Canon" and groups["EXIF"]["Model"] == "Canon EOS 40D"
    assert list(groups)[0] == "File"


def test_huge_metadata_values_are_cut(tmp_path, reader):
    path = camera_like_jpeg(tmp_path / "big.jpg")
    write_tags(path, "-ImageDescription=" + "A" * 60_000)
    value = reader.read(path)["EXIF:ImageDescription"]
    assert len(value) < 21_000 and "cut" in value


def test_hung_exiftool_is_killed_and_restarted(tmp_path):
    slow = exif.ExifReader(timeout=0.001)  # nothing finishes in 1 ms: the timer kills the process
    path = camera_like_jpeg(tmp_path / "s.jpg")
    with pytest.raises(AnalysisError, match="longer than"):
        slow.read(path)
    slow.timeout = 30
    assert slow.read(path)["EXIF:Make"] == "Canon"  # a fresh exiftool took over
    slow.close()


def jpeg_with_exif(tiff: bytes) -> bytes:
    """A small Pillow JPEG carrying `tiff` (a little-endian TIFF structure) as its EXIF segment."""
    app1 = b"Exif\x00\x00" + tiff
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 90, 90)).save(buf, "JPEG")
    jpeg = buf.getvalue()
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]


def wide_ifd(entries: int = 5000) -> bytes:
    """An EXIF IFD of 5,000 ASCII entries (about 60 KB, the most one JPEG segment holds)."""
    body = b"".join(struct.pack("<HHI4s", 0x8000 + i % 0x1000, 2, 4, b"abc\x00") for i in range(entries))
    return b"II*\x00" + struct.pack("<IH", 8, entries) + body + struct.pack("<I", 0)


def nested_ifds(depth: int = 3000) -> bytes:
    """EXIF IFDs each pointing to the next (ExifIFD 0x8769): exiftool recurses once per level."""
    ifds, offset = b"", 8
    for level in range(depth):
        nxt = offset + 18 if level < depth - 1 else 0
        ifds += struct.pack("<HHHII", 1, 0x8769, 4, 1, nxt) + struct.pack("<I", 0)
        offset += 18
    return b"II*\x00" + struct.pack("<I", 8) + ifds


def test_an_exif_ifd_of_5000_entries_is_read_in_well_under_a_second(tmp_path, reader):
    path = tmp_path / "wide.jpg"
    path.write_bytes(jpeg_with_exif(wide_ifd()))
    started = time.monotonic()
    tags = reader.read(path)
    assert time.monotonic() - started < 1
    assert tags["File:FileType"] == "JPEG"


def test_exiftool_dying_on_a_file_fails_it_at_once_with_the_reason_and_restarts(tmp_path, monkeypatch):
    # an exiftool with 80 MB of address space (a container's memory limit): it starts and reads small files,
    # and dies ("Out of memory!") within a fraction of a second on IFDs nested 3,000 deep
    shim = tmp_path / "bin" / "exiftool"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nulimit -v 80000\nexec {shutil.which("exiftool")} "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}:{os.environ['PATH']}")
    bomb, good = tmp_path / "nested.jpg", camera_like_jpeg(tmp_path / "good.jpg")
    bomb.write_bytes(jpeg_with_exif(nested_ifds()))
    reader = exif.ExifReader(timeout=30)
    try:
        assert reader.read(good)["EXIF:Make"] == "Canon"
        started = time.monotonic()
        # its last words are "Out of memory!" or, when the cap bites first elsewhere, Perl's recursion warning
        with pytest.raises(AnalysisError, match=r"exiftool died on this file \((?:.*memory|Deep recursion)") as failed:
            reader.read(bomb)
        assert time.monotonic() - started < 1, failed.value  # not the 30 s time limit
        assert reader.read(good)["EXIF:Make"] == "Canon"  # a fresh exiftool took over
    finally:
        reader.close()


def test_pixel_bomb_and_non_images_fail_cleanly(tmp_path):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (12000, 12000)).save(bomb)
    with pytest.raises(AnalysisError, match="pixels"):
        decode.load_image(bomb, 50_000_000)
    text = tmp_path / "t.jpg"
    text.write_text("hello")
    with pytest.raises(AnalysisError, match="not a readable image"):
        decode.load_image(text, LIMIT)


def test_transparent_png_is_composited_on_white(tmp_path):
    buf = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(buf, "PNG")
    path = tmp_path / "a.png"
    path.write_bytes(buf.getvalue())
    assert decode.load_image(path, LIMIT).getpixel((0, 0)) == (255, 255, 255)
