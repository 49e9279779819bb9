"""worker.maps: the three forensic maps, the attention overlay and what it costs."""
from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

import keras

from worker import detector, maps
from worker.signals.forensics import OUTPUT_MAX_SIDE


def _brightness_model(size=224):
    """A tiny detector whose P(fake) rises with brightness, so Grad-CAM must point at bright areas."""
    inp = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    x = keras.layers.Conv2D(1, 3, padding="same", kernel_initializer="ones", bias_initializer="zeros",
                            activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(1, activation="sigmoid", kernel_initializer=keras.initializers.Constant(0.02))
    out = dense(x)  # small weight: the sigmoid does not saturate, so gradients stay informative
    return keras.Model(inp, out)


@pytest.fixture(scope="module")
def det():
    return detector.Detector(_brightness_model())


def _dark_with_bright_square(w=640, h=480):
    arr = np.full((h, w, 3), 50, np.uint8)
    arr[: h // 3, : w // 3] = 230  # top-left
    return Image.fromarray(arr)


def test_without_detector_only_ela_and_noise(tmp_path):
    info = maps.write_maps(_dark_with_bright_square(), tmp_path)
    assert [m["name"] for m in info] == ["ela.png", "noise.png"]


def test_attention_map_written_and_labelled(tmp_path, det):
    info = maps.write_maps(_dark_with_bright_square(), tmp_path, det)
    assert [m["name"] for m in info] == ["ela.png", "noise.png", "attention.png"]
    att = info[-1]
    assert att["title"] == "Model attention (Grad-CAM)"
    assert "not that anything there was generated or edited" in att["label"]
    with Image.open(tmp_path / "attention.png") as im:
        assert im.format == "PNG" and im.mode == "RGB" and im.size == (640, 480)


def test_attention_points_at_what_raised_the_probability(det):
    out = np.asarray(maps.attention_overlay_map(det, _dark_with_bright_square()), dtype=float)
    warmth = out[..., 0] - out[..., 2]  # red minus blue
    assert warmth[20:140, 20:190].mean() > 60  # the bright square: red end of the ramp
    assert warmth[330:, 450:].mean() < 0  # the dark rest: blue end


def test_areas_the_detector_did_not_score_are_grey(det):
    # 224x800 normalises unchanged (short side 224 <= 512) -> 224 px crops at x 0 and 576 only
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (224, 800, 3), dtype=np.uint8))
    out = np.asarray(maps.attention_overlay_map(det, img), dtype=int)
    middle = out[:, 300:500]
    assert (middle[..., 0] == middle[..., 1]).all() and (middle[..., 1] == middle[..., 2]).all()
    assert (out[:, :40, 0] != out[:, :40, 2]).any()


def test_large_photo_is_reduced_before_grad_cam(monkeypatch, det):
    seen = []
    real = detector.attention_map

    def spy(d, im):
        seen.append(im.size)
        return real(d, im)

    monkeypatch.setattr(detector, "attention_map", spy)
    big = Image.new("RGB", (4000, 3000), (90, 90, 90))
    t = time.perf_counter()
    out = maps.attention_overlay_map(det, big)
    elapsed = time.perf_counter() - t
    assert seen == [(800, 600)]  # 12 MP box-reduced 5x: short side still >= 512 for the model's own resize
    # but drawn over the image at the other maps' size, so that the viewer can lay it over the preview
    assert out.size == (OUTPUT_MAX_SIDE, OUTPUT_MAX_SIDE * 3 // 4)
    assert elapsed < 5  # tiny model: this is the overlay's own cost (well under 1 s when the CPU is free)


def test_model_without_feature_map_skips_attention_only(tmp_path):
    inp = keras.Input((32, 32, 3))
    flat = keras.layers.Flatten()(inp)
    dense = detector.Detector(keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(flat)))
    info = maps.write_maps(Image.new("RGB", (64, 48), "gray"), tmp_path, dense)
    assert [m["name"] for m in info] == ["ela.png", "noise.png"]


def test_overlay_of_flat_heat_and_tiny_images():
    for size in ((1, 1), (3, 2), (2000, 10)):
        img = Image.new("RGB", size, "white")
        out = maps.overlay(img, np.zeros((5, 5), np.float32))
        assert max(out.size) <= OUTPUT_MAX_SIDE and out.mode == "RGB"


@pytest.mark.parametrize("size", [(4001, 2999), (1999, 1333), (3000, 4000), (640, 480), (2049, 1537)])
def test_maps_have_the_previews_geometry(tmp_path, det, size):
    """The map viewer lays each map over the preview: every map within a pixel of the preview's size."""
    import io

    from shared import preview
    from worker.signals import forensics

    img = Image.new("RGB", size, (90, 120, 60))
    with Image.open(io.BytesIO(preview.encode(img))) as shown:
        expected = shown.size
    info = maps.write_maps(forensics.analysis_copy(img), tmp_path, det)
    for m in info:
        with Image.open(tmp_path / m["name"]) as out:
            assert all(abs(a - b) <= 1 for a, b in zip(out.size, expected)), (m["name"], out.size, expected)
