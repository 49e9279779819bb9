"""Content-addressed storage and byte sniffing."""
from __future__ import annotations

import hashlib
import io

import pytest

from shared import images, storage
from tests.conftest import make_jpeg, make_png


def test_save_stream_is_content_addressed(tmp_path):
    data = b"x" * 5000
    sha, size, path, created = storage.save_stream(io.BytesIO(data), tmp_path, 10_000)
    assert sha == hashlib.sha256(data).hexdigest() and size == 5000 and created
    assert path == tmp_path / sha[:2] / sha[2:4] / sha and path.read_bytes() == data
    assert storage.save_stream(io.BytesIO(data), tmp_path, 10_000)[3] is False


def test_too_large_leaves_nothing(tmp_path):
    with pytest.raises(storage.TooLarge):
        storage.save_stream(io.BytesIO(b"y" * 3000), tmp_path, 2000)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_path_for_rejects_anything_but_a_digest(tmp_path):
    for bad in ["../../etc/passwd", "a" * 63, "G" * 64]:
        with pytest.raises(ValueError):
            storage.path_for(tmp_path, bad)


def test_sniff_from_bytes():
    assert images.sniff(make_jpeg()).name == "JPEG"
    assert images.sniff(make_png()).name == "PNG"
    assert images.sniff(b"RIFF\0\0\0\0WEBPVP8 ").name == "WebP"
    assert images.sniff(b"\0\0\0\x18ftypheic\0\0\0\0").name == "HEIF"
    assert images.sniff(b"GIF89a....").name == "GIF"
    assert images.sniff(b"<html>") is None and images.sniff(b"") is None
