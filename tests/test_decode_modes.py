"""Every mode Pillow decodes goes through the pipeline's functions, forensic maps included (issue 11)."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.hostile import sliver, tiff
from worker import decode, maps, phash
from worker.errors import AnalysisError
from worker.signals import forensics
from worker.signals.generator import generator_evidence
from worker.signals.watermark import watermark_evidence

MODES = ["I;16", "I;16B", "I;16L", "I", "F", "CMYK", "LA", "P", "PA", "1", "L", "RGB", "RGBA", "YCbCr", "LAB"]


@pytest.mark.parametrize("mode", MODES)
def test_mode_through_the_pipeline_functions(mode, tmp_path):
    path = tmp_path / "image.tif"
    path.write_bytes(tiff(mode, size=(300, 260)))
    with Image.open(path) as raw:
        assert raw.mode == {"I;16L": "I;16"}.get(mode, mode)  # TIFF reads little-endian 16-bit back as I;16
        for forensic_map in (forensics.ela_map(raw), forensics.noise_map(raw)):  # on the file's own mode too
            assert forensic_map.size == (300, 260)
    img = decode.load_image(path, 100_000_000)
    pixels = np.asarray(img)
    assert img.mode == "RGB" and img.size == (300, 260)
    # the gradient survives: neither clipped to white/black nor flattened (16-bit and float greys were)
    assert 100 < pixels.mean() < 155 and pixels.std() > 50, (mode, pixels.mean(), pixels.std())
    decode.check_upscale(img, 224)
    written = maps.write_maps(forensics.analysis_copy(img), tmp_path / "derived")
    assert [m["name"] for m in written] == ["ela.png", "noise.png"]
    assert len(phash.dhash(img)) == 16
    assert watermark_evidence(img)[0]["kind"] == "watermark"
    assert generator_evidence(str(path), {}, img) == []
    decode.thumbnail(img, tmp_path / "derived" / "thumbnail.jpg")


def test_wide_greys_keep_their_scale():
    for mode in ("I;16B", "I;16L", "I;16"):
        assert decode.to_rgb(Image.frombytes(mode, (2, 1), b"\x00\x00\xff\xff")).getpixel((1, 0)) == (255, 255, 255)
    floats = Image.fromarray(np.array([[0.0, 0.5, np.nan, np.inf]], np.float32), "F")
    assert [decode.to_rgb(floats).getpixel((x, 0))[0] for x in range(4)] == [0, 127, 0, 0]
    hdr = Image.fromarray(np.array([[-1000, 0, 1000]], np.int32), "I")
    assert [decode.to_rgb(hdr).getpixel((x, 0))[0] for x in range(3)] == [0, 127, 255]


def test_a_sliver_is_refused_before_the_detector_blows_it_up(tmp_path):
    path = tmp_path / "sliver.png"
    path.write_bytes(sliver())  # 100 bytes; 4.4 GB once normalised for the model
    img = decode.load_image(path, 100_000_000)
    with pytest.raises(AnalysisError, match="too narrow to analyse"):
        decode.check_upscale(img, 224)
    decode.check_upscale(Image.new("RGB", (16000, 500)), 224)  # a panorama is fine


def test_pillow_text_limits_come_from_shared_limits():
    from PIL import PngImagePlugin

    from shared import limits

    assert PngImagePlugin.MAX_TEXT_CHUNK == limits.TEXT_MAX_BYTES
    assert PngImagePlugin.MAX_TEXT_MEMORY == limits.TEXT_TOTAL_BYTES
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "PNG")
    assert decode.to_rgb(Image.open(buf)).mode == "RGB"
