"""The low-level detector: a small CNN on neighbouring-pixel residuals of the most textured patches.

It looks at traces, not content: each patch is taken at the image's own resolution (after the
shared normalisation, never resized to a model size), the network first subtracts every 2x2
block's mean (the residual that upsampling in generators leaves periodic: the idea of NPR, CVPR
2024), and patches are chosen where the image is most textured (flat sky carries no trace: the
idea of AIDE / SPAI). Standard Keras layers only, so the shipped file loads without custom code.
"""

from __future__ import annotations

import time

import numpy as np
from PIL import Image

from models import logreg, preprocess

PATCH = preprocess.PATCH
TRAIN_SIZE = 64  # trained on random 64 px windows of the patches (4x cheaper on CPU); scores whole 128 px patches
EPOCHS = 3
BATCH = 64
LR = 2e-3


def build_model(patch: int | None = PATCH):
    """Residual (pixel minus its 2x2 block mean) -> 6 conv layers -> P(AI-generated).

    Fully convolutional up to a global average: it is trained on 64 px windows and applied to
    whole patches (``patch`` None accepts any even size)."""
    import keras
    from keras import layers

    inp = keras.Input((patch, patch, 3), name="patch")
    x = layers.Rescaling(1.0 / 255.0, name="scale")(inp)
    block_mean = layers.UpSampling2D(2, interpolation="nearest", name="up")(layers.AveragePooling2D(2, name="down")(x))
    h = layers.Rescaling(16.0, name="gain")(layers.Subtract(name="residual")([x, block_mean]))
    for i, (ch, stride) in enumerate(((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2))):
        h = layers.Conv2D(ch, 3, strides=stride, padding="same", use_bias=False, name=f"conv{i}")(h)
        h = layers.ReLU(name=f"relu{i}")(layers.BatchNormalization(name=f"bn{i}")(h))
    h = layers.GlobalAveragePooling2D(name="pool")(h)
    h = layers.Dropout(0.3, name="dropout")(h)
    out = layers.Dense(1, activation="sigmoid", name="fake_probability")(h)
    return keras.Model(inp, out, name="lowlevel_npr")


def crop_fn(img: Image.Image, rng: np.random.Generator) -> dict:
    """features.extract crop function: training patches, and each view's scored patches."""
    from models.features import views

    out = {"train": preprocess.train_patches(img, rng)}
    for k, v in views(img).items():
        out[k] = preprocess.textured_patches(v)
    return out


def patch_cache(items) -> dict:
    """uint8 patches of every item (cached under data/cache)."""
    from models import features

    return features.extract(items, crop_fn, lambda x: x, "lowlevel-patches")


def train(x: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int = 1, epochs: int = EPOCHS, log=None):
    """Fit a fresh model on uint8 patches x (labels y, row weights w); Adam with cosine decay."""
    import keras

    keras.utils.set_random_seed(seed)
    train_model = build_model(TRAIN_SIZE)
    steps = epochs * (len(x) // BATCH)
    train_model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(LR, steps, alpha=0.05)),
                        keras.losses.BinaryCrossentropy())
    rng = np.random.default_rng(seed)
    p = w / w.sum()
    t0 = time.time()
    for s in range(steps):
        idx = rng.choice(len(x), BATCH, p=p)  # weighted sampling = balanced classes and sources
        oy, ox = 2 * rng.integers(0, (x.shape[1] - TRAIN_SIZE) // 2 + 1, 2)  # even: keeps the 2x2 grid
        win = x[idx, oy:oy + TRAIN_SIZE, ox:ox + TRAIN_SIZE].astype(np.float32)
        loss = train_model.train_on_batch(win, y[idx].astype(np.float32))
        if log and (s + 1) % 100 == 0:
            log(f"  lowlevel step {s + 1}/{steps} loss {float(np.ravel(loss)[0]):.4f} {(time.time() - t0) / 60:.1f} min")
    model = build_model(x.shape[1])  # the same weights on whole patches
    model.set_weights(train_model.get_weights())
    return model


def predict_logits(model, x: np.ndarray, batch: int = 256) -> np.ndarray:
    """Logit of the model's probability for uint8 patches."""
    from models.metrics import logit

    p = np.concatenate([np.asarray(model(x[i:i + batch].astype(np.float32), training=False)).ravel()
                        for i in range(0, len(x), batch)])
    return logit(p)


def fit_on(cache: dict, items, train_mask: np.ndarray, log=None, seed: int = 1, epochs: int = EPOCHS):
    """A model trained on the training patches of items[train_mask]."""
    y = np.array([i.label for i in items])
    src = np.array([i.source for i in items])
    x = cache["train"][train_mask]
    k = x.shape[1]
    w = np.repeat(logreg.source_weights(src[train_mask], y[train_mask]), k)
    return train(x.reshape(-1, *x.shape[2:]), np.repeat(y[train_mask], k), w, seed=seed, epochs=epochs, log=log)


def held_out_scores(items, fold: np.ndarray) -> dict[str, np.ndarray]:
    """Per fold: train on the other folds, score the held-out images' views (mean patch logit)."""
    from models.crossval import log
    from models.designs import _per_image
    from models.features import VIEWS

    cache = patch_cache(items)
    out = {v: np.zeros(len(items)) for v in VIEWS}
    for k in np.unique(fold):
        log(f"lowlevel: fold {k}")
        model = fit_on(cache, items, fold != k, log=log)
        for v in VIEWS:
            idx = cache[v + "_idx"]
            sel = np.flatnonzero(fold == k)
            crops = np.concatenate([cache[v][idx[i]:idx[i + 1]] for i in sel])
            z = predict_logits(model, crops)
            counts = np.array([idx[i + 1] - idx[i] for i in sel])
            out[v][sel] = _per_image(z, np.r_[0, np.cumsum(counts)])
    return out
