"""Tests for models.preprocess: the single preprocessing definition."""

import numpy as np
import pytest
from PIL import Image

from models import preprocess as pp


def _img(w, h, mode="RGB", seed=0):
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return Image.fromarray(arr).convert(mode)


@pytest.mark.parametrize("w,h,n", [(100, 80, 1), (224, 224, 1), (256, 256, 1), (300, 200, 2),
                                   (500, 375, 4), (512, 512, 4), (4000, 3000, 4)])
def test_inference_crops_shape_and_count(w, h, n):
    crops = pp.inference_crops(_img(w, h))
    assert crops.shape == (n, pp.INPUT_SIZE, pp.INPUT_SIZE, 3)
    assert crops.dtype == np.uint8


def test_inference_crops_deterministic():
    img = _img(600, 400)
    assert np.array_equal(pp.inference_crops(img), pp.inference_crops(img))


def test_small_image_upscaled_not_padded():
    img = Image.new("RGB", (50, 40), (200, 10, 10))
    crop = pp.inference_crops(img)[0]
    assert (crop == [200, 10, 10]).all()  # no padding border anywhere


def test_normalise_caps_short_side_and_never_upscales_midsize():
    assert min(pp.normalise(_img(3000, 2000)).size) == pp.MAX_SIDE
    assert pp.normalise(_img(375, 500)).size == (375, 500)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16"])
def test_any_mode_becomes_rgb(mode):
    img = _img(300, 260).convert(mode)
    assert pp.inference_crops(img).shape[-1] == 3


def test_transparent_pixels_composited_on_white():
    img = Image.new("RGBA", (240, 240), (0, 0, 0, 0))
    assert (pp.inference_crops(img) == 255).all()


def test_train_crop_shape_and_seeded():
    img = _img(512, 512)
    a = pp.train_crop(img, np.random.default_rng(3))
    b = pp.train_crop(img, np.random.default_rng(3))
    assert a.shape == (pp.INPUT_SIZE, pp.INPUT_SIZE, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)


def test_random_downscale_range_and_floor():
    rng = np.random.default_rng(0)
    for _ in range(20):
        out = pp.random_downscale(_img(512, 400), rng)
        assert pp.INPUT_SIZE <= min(out.size) <= 400
    assert pp.random_downscale(_img(230, 230), rng).size[0] >= pp.INPUT_SIZE


def test_jpeg_reencode_changes_pixels_but_not_size():
    img = _img(256, 256)
    out = pp.jpeg(img, 50)
    assert out.size == img.size and not np.array_equal(np.asarray(out), np.asarray(img))


def test_split_is_deterministic_and_keeps_groups_together(tmp_path):
    from models import data

    for name in ("cat-ldif-1", "cat-ldif-2", "cat-dmin-1", "dog-ldif-1"):
        (tmp_path / "fake" / "imagen-2022-x").mkdir(parents=True, exist_ok=True)
        (tmp_path / "fake" / "imagen-2022-x" / f"{name}.jpg").write_bytes(b"")
    items = data.list_items(tmp_path)
    groups = {i.group for i in items}
    assert groups == {"imagen-2022:cat", "imagen-2022:dog"}
    for g in groups:
        assert len({data.is_val(i) for i in items if i.group == g}) == 1
    assert data.split(items) == data.split(items)


def test_old_random_split_keeps_groups_apart():
    """The superseded within-source split (models.evaluate --split): no picture or prompt on both sides.
    Model choices use the source-held-out folds of models.folds instead (tests/test_crossval.py)."""
    from models import data

    root = data.default_data_dir()
    if not root.is_dir():
        pytest.skip(f"needs the training data at {root} (../shared beside the checkout or $SHARED_DIR)")
    train, val = data.split(data.list_items(root))
    assert not {i.group for i in train} & {i.group for i in val}
    assert 0.15 < len(val) / (len(train) + len(val)) < 0.25


def test_metrics_auc_platt_thresholds():
    from models import metrics

    y = np.r_[np.zeros(50), np.ones(50)]
    p = np.r_[np.linspace(0, 0.6, 50), np.linspace(0.4, 1, 50)]
    pairs = (p[y == 1][:, None] > p[y == 0][None]) + 0.5 * (p[y == 1][:, None] == p[y == 0][None])
    assert metrics.roc_auc(y, p) == pytest.approx(pairs.mean())
    assert metrics.roc_auc(y, 1 - p) == pytest.approx(1 - metrics.roc_auc(y, p))
    th = metrics.choose_thresholds(y, p)
    assert metrics.rates(y, p, th["fake"])["fpr"] <= 0.05
    assert 1 - metrics.rates(y, p, th["real"])["tpr"] <= 0.05 and th["real"] <= th["fake"]
    a, b = metrics.fit_platt(metrics.logit(p), y)
    assert metrics.log_loss(y, metrics.sigmoid(a * metrics.logit(p) + b)) <= metrics.log_loss(y, p) + 1e-9
