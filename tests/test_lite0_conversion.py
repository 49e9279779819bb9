"""The converted EfficientNet-Lite0 ImageNet weights classify real ImageNet photos correctly."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED = Path(os.environ.get("SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared"))
SAMPLE = SHARED / "datasets" / "train" / "real" / "imagenet-sample"
# The ImageNet-1k class index is the rank of the class's wnid among the 1000 sorted wnids.
# imagenet-sample holds one photo per class but lacks 51 classes; the first gap is class 66
# (n01753488, horned viper), so the first 66 files sorted by name are classes 0..65.
FIRST_CONTIGUOUS = 66


def _photos(n):
    if not SAMPLE.is_dir():
        pytest.skip(f"needs ImageNet sample photos at {SAMPLE} (../shared beside the checkout or $SHARED_DIR)")
    files = sorted(SAMPLE.glob("n*.jpg"))[:FIRST_CONTIGUOUS]
    assert files[0].name.startswith("n01440764") and files[-1].name.startswith("n01751748")  # tench .. sea snake
    return files[:n]


def _standard_eval_crop(path, size=224):
    """Resize short side to 256/224*size, centre crop (the usual ImageNet evaluation)."""
    img = Image.open(path).convert("RGB")
    s = round(size * 256 / 224) / min(img.size)
    img = img.resize((round(img.width * s), round(img.height * s)), Image.Resampling.BICUBIC)
    left, top = (img.width - size) // 2, (img.height - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.float32)


def test_converted_weights_imagenet_top1():
    from models import lite0

    files = _photos(50)
    model = lite0.load_imagenet_weights(lite0.build_classifier(224))
    logits = model.predict(np.stack([_standard_eval_crop(f) for f in files]), verbose=0)
    top = np.argsort(-logits, axis=1)
    labels = np.arange(len(files))
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
