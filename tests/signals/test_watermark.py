"""Generator watermarks: embedded here with the invisible-watermark package, decoded by the extractor."""
import numpy as np
import pytest
from PIL import Image

from worker.signals import watermark
from worker.signals.watermark import REFERENCE_PATTERNS, decode_bits, package_max_dct, watermark_evidence


def embed(img: Image.Image, bits: list[int], order: str = "BGR") -> Image.Image:
    """Embed bits the way the reference pipelines do: WatermarkEncoder(...).encode(bgr, 'dwtDct')."""
    try:
        from imwatermark import WatermarkEncoder  # needs torch: the exact reference API when present
    except ImportError:
        WatermarkEncoder = None
    rgb = np.asarray(img.convert("RGB"))
    arr = np.ascontiguousarray(rgb[:, :, ::-1] if order == "BGR" else rgb)
    if WatermarkEncoder:
        encoder = WatermarkEncoder()
        encoder.set_watermark("bits", bits)
        out = encoder.encode(arr, "dwtDct")
    else:
        out = package_max_dct()(watermarks=bits, wmLen=len(bits)).encode(arr)
    return Image.fromarray(np.ascontiguousarray(out[:, :, ::-1] if order == "BGR" else out))


@pytest.fixture
def photo(samples):
    # dwtDct round-trips only on some images (see the module docstring); this one carries every pattern
    return Image.open(samples / "camera-exif/jpg/gps/DSCN0040.jpg").convert("RGB")


@pytest.mark.parametrize("name", list(REFERENCE_PATTERNS))
def test_embedded_pattern_is_decoded(photo, name):
    (ev,) = watermark_evidence(embed(photo, REFERENCE_PATTERNS[name]))
    assert (ev["kind"], ev["effect"], ev["strong"]) == ("watermark", "fake", True)
    assert ev["value"]["pattern"] == name and ev["value"]["accuracy"] >= 0.95


def test_sdxl_embedded_in_rgb_order_is_decoded(photo):
    """diffusers' SDXL watermarker hands RGB to an encoder that expects BGR."""
    name = "Stable Diffusion XL (0xB3EC907BB19E)"
    (ev,) = watermark_evidence(embed(photo, REFERENCE_PATTERNS[name], order="RGB"))
    assert ev["value"]["pattern"] == name and ev["value"]["order"] == "RGB"


def test_plain_photos_are_not_flagged(samples):
    paths = sorted((samples / "camera-exif/jpg/gps").glob("*.jpg"))[:4] + [samples / "camera-exif/jpg/Nikon_D70.jpg"]
    for path in paths:
        for ev in watermark_evidence(Image.open(path)):
            assert ev["effect"] == "neutral" and not ev.get("strong"), (path, ev)


def test_synthetic_images_are_not_flagged():
    rng = np.random.default_rng(1)
    for arr in (np.zeros((300, 300, 3), np.uint8), rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)):
        assert watermark_evidence(Image.fromarray(arr))[0]["effect"] == "neutral"


def test_small_image_is_skipped():
    (ev,) = watermark_evidence(Image.new("RGB", (100, 100)))
    assert ev["effect"] == "neutral" and "too small" in ev["reason"]


def test_vectorised_decode_matches_the_package(photo):
    bits = REFERENCE_PATTERNS["Stable Diffusion 2.x (SDV2)"]
    bgr = np.ascontiguousarray(np.asarray(embed(photo, bits))[:, :, ::-1])
    reference = package_max_dct()(watermarks=[], wmLen=len(bits)).decode(bgr)
    assert (decode_bits(bgr, len(bits)) == np.asarray(reference, dtype=int)).all()


def test_missing_package_is_reported(monkeypatch):
    def missing():
        raise ImportError("invisible-watermark is not installed")

    monkeypatch.setattr(watermark, "_bit_reader_class", missing)
    (ev,) = watermark_evidence(Image.new("RGB", (300, 300)))
    assert ev["effect"] == "neutral" and "skipped" in ev["reason"]
