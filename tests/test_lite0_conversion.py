"""The converted EfficientNet-Lite0 ImageNet weights classify real ImageNet photos correctly."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED = Path(os.environ.get("SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared"))
SAMPLE = SHARED / "datasets" / "train" / "real" / "imagenet-sample"
# The ImageNet-1k class index is the rank of the class's wnid among the 1000 sorted wnids. imagenet-sample
# holds one photo of some classes only (the set shrank in 2026-12), so the test labels the photos of the
# first 66 classes by this table instead of by their position in the folder.
FIRST_WNIDS = """n01440764 n01443537 n01484850 n01491361 n01494475 n01496331 n01498041 n01514668 n01514859 n01518878
n01530575 n01531178 n01532829 n01534433 n01537544 n01558993 n01560419 n01580077 n01582220 n01592084
n01601694 n01608432 n01614925 n01616318 n01622779 n01629819 n01630670 n01631663 n01632458 n01632777
n01641577 n01644373 n01644900 n01664065 n01665541 n01667114 n01667778 n01669191 n01675722 n01677366
n01682714 n01685808 n01687978 n01688243 n01689811 n01692333 n01693334 n01694178 n01695060 n01697457
n01698640 n01704323 n01728572 n01728920 n01729322 n01729977 n01734418 n01735189 n01737021 n01739381
n01740131 n01742172 n01744401 n01748264 n01749939 n01751748""".split()  # tench .. sea snake: classes 0..65
MIN_PHOTOS = 30


def _photos(n):
    """(files, ImageNet class indices) of up to n sample photos of the first 66 classes."""
    if not SAMPLE.is_dir():
        pytest.skip(f"needs ImageNet sample photos at {SAMPLE} (../shared beside the checkout or $SHARED_DIR)")
    assert FIRST_WNIDS == sorted(FIRST_WNIDS) and len(FIRST_WNIDS) == 66
    files = [f for f in sorted(SAMPLE.glob("n*.jpg")) if f.name[:9] in FIRST_WNIDS][:n]
    assert len(files) >= min(n, MIN_PHOTOS), f"only {len(files)} photos of the first 66 ImageNet classes in {SAMPLE}"
    return files, np.array([FIRST_WNIDS.index(f.name[:9]) for f in files])


def _standard_eval_crop(path, size=224):
    """Resize short side to 256/224*size, centre crop (the usual ImageNet evaluation)."""
    img = Image.open(path).convert("RGB")
    s = round(size * 256 / 224) / min(img.size)
    img = img.resize((round(img.width * s), round(img.height * s)), Image.Resampling.BICUBIC)
    left, top = (img.width - size) // 2, (img.height - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.float32)


def test_converted_weights_imagenet_top1():
    from models import lite0

    files, labels = _photos(50)
    model = lite0.load_imagenet_weights(lite0.build_classifier(224))
    logits = model.predict(np.stack([_standard_eval_crop(f) for f in files]), verbose=0)
    top = np.argsort(-logits, axis=1)
    top1 = float((top[:, 0] == labels).mean())
    top5 = float(np.mean([labels[i] in top[i, :5] for i in range(len(files))]))
    assert top1 >= 0.75 and top5 >= 0.9, f"top-1 {top1:.2f}, top-5 {top5:.2f}"


def test_model_has_only_standard_layers(tmp_path):
    import keras

    from models import lite0

    model = lite0.build_classifier(224)
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.models.load_model(path, compile=False)
    assert again.count_params() == model.count_params()
    assert {type(l).__module__.split(".")[0] for l in model.layers} == {"keras"}
