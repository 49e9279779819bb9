"""Frozen ImageNet Lite0 features at several depths, and their per-image cache for cross-validation.

The content detector is a logistic head over these features. Early layers carry low-level
statistics (noise, demosaicing, upsampling traces) that the last layer averages away, so the head
sees the mean and the mean square of every tap, not only the 1280 top channels. Everything here is
standard Keras layers, so the shipped model (``models.content``) loads without custom code.
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from models import preprocess

TAPS = ("stem_relu", "block2_add", "block4_add", "block7_add", "block10_add", "block14_add")
TRAIN_CROPS = 4  # augmented crops per image for fitting heads
VIEWS = ("original", "jpeg_q75", "scale_0.5")  # scored views: the upload, and the robustness targets
CACHE = Path(__file__).resolve().parents[1] / "data" / "cache"


def feature_model(size: int = preprocess.INPUT_SIZE):
    """Lite0 trunk -> concat(GAP(top), GAP(tap), GAP(tap^2) for each tap): one vector per crop."""
    import keras
    from keras import layers

    from models import lite0

    trunk = lite0.pretrained_backbone(size)
    parts = [layers.GlobalAveragePooling2D(name="pool")(trunk.output)]
    for name in TAPS:
        t = trunk.get_layer(name).output
        parts.append(layers.GlobalAveragePooling2D(name=f"{name}_mean")(t))
        sq = layers.Multiply(name=f"{name}_sq")([t, t])
        parts.append(layers.GlobalAveragePooling2D(name=f"{name}_meansq")(sq))
    out = layers.Concatenate(name="features")(parts)
    return keras.Model(trunk.input, out, name="lite0_features")


def views(img, size: int = preprocess.INPUT_SIZE) -> dict:
    """The scored views of one image, each after the shared normalisation."""
    from worker.detector import perturbed

    v = perturbed(img, size)
    return {k: v[k] for k in VIEWS}


def _cache_path(items, tag: str) -> Path:
    h = hashlib.sha256(json.dumps([tag, TAPS, TRAIN_CROPS, VIEWS, [(i.path, i.label) for i in items]]).encode())
    return CACHE / f"{tag}-{h.hexdigest()[:16]}.npz"


def extract(items, crop_fn, embed, tag: str, log=print, chunk: int = 64) -> dict:
    """Per-image crop embeddings, cached on disk.

    crop_fn(img, rng) -> {"train": (K,s,s,3), view: (n,s,s,3) ...} uint8 crops; embed(batch) -> (n, d).
    Returns {"train": (N, K, d), view: (sum n, d), view + "_idx": (N + 1,) offsets}.
    """
    path = _cache_path(items, tag)
    if path.is_file():
        with np.load(path) as z:
            return dict(z)
    out: dict[str, list] = {}
    t0 = time.time()

    def prep(k):
        rng = np.random.default_rng([7, k])
        return crop_fn(preprocess.load_image(items[k].path), rng)

    with ThreadPoolExecutor(2) as ex:
        for start in range(0, len(items), chunk):
            sets = list(ex.map(prep, range(start, min(start + chunk, len(items)))))
            keys = list(sets[0])
            flat = np.concatenate([s[k] for s in sets for k in keys])
            emb = embed(flat)
            pos = 0
            for s in sets:
                for k in keys:
                    n = len(s[k])
                    out.setdefault(k, []).append(emb[pos:pos + n])
                    pos += n
            done = min(start + chunk, len(items))
            el = time.time() - t0
            log(f"{tag} features {done}/{len(items)}  {el / 60:.1f} min, eta {el / done * (len(items) - done) / 60:.1f} min")
    res = {"train": np.stack(out.pop("train"))}
    for k, parts in out.items():
        res[k] = np.concatenate(parts)
        res[k + "_idx"] = np.cumsum([0] + [len(p) for p in parts])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **res)
    return res


def lite0_crops(size: int = preprocess.INPUT_SIZE):
    """crop_fn for the content detector: K augmented training crops, and each view's inference crops."""
    def fn(img, rng):
        out = {"train": np.stack([preprocess.train_crop(img, rng, size) for _ in range(TRAIN_CROPS)])}
        for k, v in views(img, size).items():
            out[k] = preprocess.inference_crops(v, size)
        return out
    return fn


def lite0_embedder(size: int = preprocess.INPUT_SIZE, batch: int = 32):
    """embed(batch) with the frozen multi-depth feature model (traced once)."""
    import tensorflow as tf

    model = feature_model(size)
    fwd = tf.function(lambda x: model(x, training=False), reduce_retracing=True,
                      input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)])

    def embed(x):
        return np.concatenate([fwd(x[i:i + batch].astype(np.float32)).numpy() for i in range(0, len(x), batch)])
    return embed
