"""Forensic maps: shape, cost and that they light up what they are meant to show."""
import io

import numpy as np
import pytest
from PIL import Image

from worker.signals.forensics import MAP_LABELS, OUTPUT_MAX_SIDE, ela_map, noise_map


def _photo() -> Image.Image:
    rng = np.random.default_rng(0)
    base = np.linspace(40, 220, 480 * 360).reshape(360, 480)  # a smooth gradient with mild texture
    arr = np.clip(base[:, :, None] + rng.normal(0, 3, (360, 480, 3)), 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def test_ela_highlights_a_pasted_region():
    buf = io.BytesIO()
    _photo().save(buf, "JPEG", quality=60)
    forged = Image.open(buf).convert("RGB")
    patch = Image.fromarray(np.random.default_rng(1).integers(0, 256, (100, 120, 3), dtype=np.uint8))
    forged.paste(patch, (300, 200))
    ela = np.asarray(ela_map(forged), dtype=float).mean(axis=2)
    assert ela[200:300, 300:420].mean() > 2 * ela[:180].mean()


def test_noise_map_highlights_a_noisy_region():
    arr = np.full((300, 400, 3), 120, np.uint8)
    arr[100:200, 100:200] = np.clip(120 + np.random.default_rng(0).normal(0, 12, (100, 100, 3)), 0, 255)
    noise = np.asarray(noise_map(Image.fromarray(arr)), dtype=float)
    assert noise[110:190, 110:190].mean() > 10 * (noise[:90].mean() + 1)


def test_large_images_are_downscaled():
    big = Image.new("RGB", (5000, 3000), "white")
    for make in (ela_map, noise_map):
        out = make(big)
        assert max(out.size) == OUTPUT_MAX_SIDE and abs(out.width / out.height - 5 / 3) < 0.01


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "I;16", "1", "CMYK"])
def test_any_mode_and_tiny_images(mode):
    for size in ((1, 1), (3, 2)):
        assert ela_map(Image.new(mode, size)).size == size
        assert noise_map(Image.new(mode, size)).size == size


def test_labels_say_what_maps_cannot_show():
    assert set(MAP_LABELS) == {"ela", "noise"}
    assert all("cannot" in text for text in MAP_LABELS.values())


def test_real_sample(samples):
    img = Image.open(samples / "camera-exif/jpg/gps/DSCN0010.jpg")
    assert ela_map(img).mode == "RGB" and noise_map(img).mode == "L"
