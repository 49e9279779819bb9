"""The fine-tuned detector: Lite0 whose top blocks learn what generated images look like, scoring
several views of each image.

Why this shape, on two CPU cores:
- Blocks 0-10 of ImageNet Lite0 stay frozen; their output (14x14x112 at 224 px) is computed once
  per training view and cached. Blocks 11-15, the 1280-channel head convolution and the logistic
  layer are trained. A training step then costs the top of the network only (0.65 s for 32 views
  against about 2 s end to end), so each fold of the cross-validation trains in minutes.
- The cache holds a fixed set of augmented views per image (random downscale, JPEG q60-95 and
  flips applied alike to both classes; native-resolution random crops and random resized global
  views). Fewer, fixed augmentations are the price of the cache.
- Batches are balanced: half real, half AI, a source drawn with probability proportional to the
  square root of its size, so no big folder (ImageNet, the 2022 generators) sets the boundary.
- The logistic layer starts from a logistic regression on the frozen top features of the same
  training views (the frozen design), so a short schedule starts where the frozen head ends.
- Every image is scored on its global view (the whole image at 224 px) and its native-resolution
  grid crops; ``AGGREGATES`` are the candidate rules, and cross-validation picks one.

The shipped model (``build_full``) is the whole network with the fine-tuned top: one standard
Keras model scoring 224 px crops, so the worker's ``predict(batch)`` is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from models import logreg, preprocess

SPLIT = "block10_add"  # output of the last frozen block
FIRST_TRAINED = 11  # blocks FIRST_TRAINED.. and the head are trained
SPLIT_SHAPE = (14, 14, 112)
N_NATIVE, N_GLOBAL = 3, 1  # augmented training views per image
EVAL_VIEWS = ("original", "jpeg_q75", "scale_0.5")
ROBUST_PER_SOURCE = 60  # images per source also scored after JPEG q75 and 0.5x (the robustness check)
BATCH = 32
LR = 1e-4
CV_STEPS = 450  # per fold in cross-validation (about 3 min on 2 cores)
SHIP_STEPS = 900  # the shipped model, trained on every fold
# The fine-tuning schedules cross-validation compares: which blocks above the cache train, and how long.
# "finetune" trains blocks 11-15 and the head; "finetune15" block 15 and the head only (the gentler one:
# with about 60 sources, training more of the network learns the sources).
SCHEDULES = {
    "finetune": {"train_from": FIRST_TRAINED, "lr": LR, "cv_steps": CV_STEPS, "ship_steps": SHIP_STEPS},
    "finetune15": {"train_from": 15, "lr": LR, "cv_steps": 300, "ship_steps": 600},
    # finetune15 with each source's views drawn in proportion to their content-balance multipliers
    # (``logreg.content_balance``, as the frozen "balanced" heads weight their rows)
    "finetune15b": {"train_from": 15, "lr": LR, "cv_steps": 300, "ship_steps": 600, "balanced": True},
}
DROPOUT = 0.2
HEAD_L2 = 30.0
REVISION = 2  # bump when anything here changes what is cached or scored
CACHE = Path(__file__).resolve().parents[1] / "data" / "cache"
AGGREGATES = preprocess.AGGREGATES


def log(msg: str) -> None:
    """Timestamped progress line on stderr (the training log)."""
    import sys

    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- the network ---------------------------------------------------------------------------------
def lower_model(size: int = preprocess.INPUT_SIZE):
    """Frozen ImageNet Lite0 -> (block-10 map, the frozen content features of ``models.features``,
    the early layers' maps whose texture statistics the cache keeps: ``models.texture.EARLY``)."""
    import keras

    from models import features, texture

    feat = features.feature_model(size)
    early = [feat.get_layer(name).output for name in texture.EARLY]
    return keras.Model(feat.input, [feat.get_layer(SPLIT).output, feat.output, *early], name="lite0_lower")


def _top(x, dropout: float = DROPOUT):
    """Blocks FIRST_TRAINED.., head conv, pooling and the logistic layer, named as in ``models.lite0``."""
    from keras import layers

    from models import lite0

    i = 0
    for repeats, k, stride, expand, out_ch in lite0.STAGES:
        for r in range(repeats):
            if i >= FIRST_TRAINED:
                x = lite0._block(x, i, k, stride if r == 0 else 1, expand, out_ch)
            i += 1
    x = layers.Conv2D(1280, 1, use_bias=False, name="head")(x)
    x = lite0._relu6("head_relu")(lite0._bn("head_bn")(x))
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    return layers.Dense(1, name="fake_logit")(x)


def upper_model(pretrained=None):
    """The trained part on the cached block-10 maps; weights from ImageNet Lite0.

    Batch normalisation stays in inference mode with ImageNet statistics (trainable=False in Keras 3):
    batches of 32 mixed sources would give noisy statistics, and serving must match training."""
    import keras
    from keras import layers

    from models import lite0

    inp = keras.Input(SPLIT_SHAPE, name="block10_map")
    model = keras.Model(inp, _top(inp), name="lite0_top")
    _copy_weights(pretrained or lite0.pretrained_backbone(), model)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False
    return model


def _copy_weights(src, dst) -> None:
    """Weights of every layer of dst that src has under the same name."""
    names = {layer.name for layer in src.layers}
    for layer in dst.layers:
        if layer.weights and layer.name in names:
            layer.set_weights(src.get_layer(layer.name).get_weights())


def build_full(upper, size: int = preprocess.INPUT_SIZE):
    """The shipped network: raw 0..255 RGB crops in, P(AI-generated) out (standard layers only)."""
    import keras
    from keras import layers

    from models import lite0

    trunk = lite0.pretrained_backbone(size)
    x = _top(trunk.get_layer(SPLIT).output, dropout=0.0)
    out = layers.Activation("sigmoid", name="fake_probability")(x)
    model = keras.Model(trunk.input, out, name="detector_finetuned")
    _copy_weights(trunk, model)
    _copy_weights(upper, model)
    return model


# --- the cache of frozen activations -------------------------------------------------------------
def _views(img, rng, robust: bool) -> dict[str, np.ndarray]:
    out = {"train": np.stack([preprocess.train_crop(img, rng) for _ in range(N_NATIVE)]
                             + [preprocess.train_global(img, rng) for _ in range(N_GLOBAL)])}
    from models.features import views as scored_views

    for name, v in scored_views(img).items():
        if name in EVAL_VIEWS and (name == "original" or robust):
            out[f"{name}:global"] = preprocess.global_view(v)[None]
            out[f"{name}:crops"] = preprocess.inference_crops(v)
    return out


def robust_subset(items) -> np.ndarray:
    """Which images are also scored after JPEG q75 and 0.5x: a seeded sample of each source."""
    src = np.array([i.source for i in items])
    keep = np.zeros(len(items), bool)
    rng = np.random.default_rng(11)
    for s in np.unique(src):
        idx = np.flatnonzero(src == s)
        keep[rng.permutation(idx)[:ROBUST_PER_SOURCE]] = True
    return keep


def cache(items, chunk: int = 48) -> dict:
    """{"maps": (R,14,14,112) float16, "feats": (R, 2240) float32, "early": (R, 1120) float32 (the Gram
    entries of ``models.texture.EARLY``), "image": (R,), "key": (R,) str}: every view's frozen
    activations, computed once and kept under data/cache."""
    from models import texture

    key = json.dumps([REVISION, SPLIT, texture.EARLY, N_NATIVE, N_GLOBAL, EVAL_VIEWS, ROBUST_PER_SOURCE,
                      [(i.path, i.label) for i in items]])
    folder = CACHE / f"finetune-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    if (folder / "done").is_file():
        return {k: np.load(folder / f"{k}.npy", mmap_mode="r" if k == "maps" else None)
                for k in ("maps", "feats", "early", "image", "key")}
    import tensorflow as tf

    lower = lower_model()

    def run(x):
        m, f, *early = lower(x, training=False)
        return m, f, tf.concat([texture.gram_tf(e) for e in early], axis=1)

    fwd = tf.function(run, reduce_retracing=True,
                      input_signature=[tf.TensorSpec([None, preprocess.INPUT_SIZE, preprocess.INPUT_SIZE, 3],
                                                     tf.float32)])
    robust = robust_subset(items)
    maps, feats, grams, image, keys = [], [], [], [], []
    t0 = time.time()

    def prep(k):
        return _views(preprocess.load_image(items[k].path), np.random.default_rng([5, k]), bool(robust[k]))

    with ThreadPoolExecutor(2) as ex:
        for start in range(0, len(items), chunk):
            sets = list(ex.map(prep, range(start, min(start + chunk, len(items)))))
            flat = np.concatenate([v for s in sets for v in s.values()]).astype(np.float32)
            for a in range(0, len(flat), BATCH):
                m, f, g = fwd(flat[a:a + BATCH])
                maps.append(m.numpy().astype(np.float16))
                feats.append(f.numpy())
                grams.append(g.numpy())
            for j, s in enumerate(sets):
                for name, v in s.items():
                    image += [start + j] * len(v)
                    keys += [name] * len(v)
            done = min(start + chunk, len(items))
            el = time.time() - t0
            log(f"frozen activations {done}/{len(items)} images, {len(image)} views, {el / 60:.1f} min, "
                f"eta {el / done * (len(items) - done) / 60:.1f} min")
    folder.mkdir(parents=True, exist_ok=True)
    out = {"maps": np.concatenate(maps), "feats": np.concatenate(feats), "early": np.concatenate(grams),
           "image": np.array(image), "key": np.array(keys)}
    for k, v in out.items():
        np.save(folder / f"{k}.npy", v)
    (folder / "done").write_text(f"{len(items)} images, {time.time() - t0:.0f} s\n")
    return out


# --- training and scoring ------------------------------------------------------------------------
def _sampler(items, train: np.ndarray, rows: np.ndarray, image: np.ndarray, rng, weight: np.ndarray | None = None):
    """Batches of row indices: half real, half AI; a source with probability ~ sqrt(its size), then an
    image of it and one of its views uniformly, or, given ``weight`` (per row of ``rows``), one of the
    source's views with probability ~ its weight."""
    y = np.array([i.label for i in items])
    src = np.array([i.source for i in items])
    by_image: dict[int, list[int]] = {}
    for r in rows:
        by_image.setdefault(int(image[r]), []).append(int(r))
    row_src = src[image[rows]]
    pools = []
    for c in (0, 1):
        sources = sorted({s for s, t, lab in zip(src, train, y) if t and lab == c})
        members = [np.flatnonzero(train & (src == s) & (y == c)) for s in sources]
        p = np.sqrt([len(m) for m in members])
        if weight is not None:  # a source's views, and the probability of each
            masks = [row_src == s for s in sources]
            members = [(rows[m], weight[m] / weight[m].sum()) for m in masks]
        pools.append((members, p / p.sum()))

    def batch(n: int = BATCH):
        out, lab = [], []
        for c, (members, p) in enumerate(pools):
            for s in rng.choice(len(members), n // 2, p=p):
                if weight is not None:
                    out.append(rng.choice(members[s][0], p=members[s][1]))
                else:
                    out.append(rng.choice(by_image[int(rng.choice(members[s]))]))
                lab.append(c)
        return np.array(out), np.array(lab, np.float32)
    return batch


def content_balance(c: dict, items, rows: np.ndarray) -> np.ndarray:
    """``logreg.content_balance`` of cached rows: clustered by their top features, their images' labels."""
    from models.designs import TOP

    return logreg.content_balance(c["feats"][rows, :TOP], np.array([i.label for i in items])[c["image"][rows]])


def warm_head(c: dict, items, train: np.ndarray) -> logreg.LogReg:
    """Logistic regression on the frozen top features (first 1280) of the training views."""
    from models.designs import TOP

    rows = np.flatnonzero((c["key"] == "train") & train[c["image"]])
    y = np.array([i.label for i in items])[c["image"][rows]]
    src = np.array([i.source for i in items])[c["image"][rows]]
    return logreg.fit(c["feats"][rows, :TOP], y, logreg.source_weights(src, y), l2=HEAD_L2)


def fit(c: dict, items, train: np.ndarray, steps: int = CV_STEPS, seed: int = 0, log=log, lr: float = LR,
        train_from: int = FIRST_TRAINED, balanced: bool = False):
    """Fine-tune the top on the cached training views of the images where ``train`` is True; blocks
    before ``train_from`` (of those above the cache) stay frozen too; ``balanced``: views drawn by their
    content-balance multipliers (``_sampler``)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    model = upper_model()
    for layer in model.layers:
        if layer.name.startswith("block") and int(layer.name[5:].split("_")[0]) < train_from:
            layer.trainable = False
    head = warm_head(c, items, train)
    w, b = head.raw_weights()
    model.get_layer("fake_logit").set_weights([w.reshape(-1, 1).astype(np.float32), np.array([b], np.float32)])
    rows = np.flatnonzero((c["key"] == "train") & train[c["image"]])
    weight = content_balance(c, items, rows) if balanced else None
    draw = _sampler(items, train, rows, c["image"], np.random.default_rng(seed), weight)
    opt = keras.optimizers.Adam(lr)
    variables = model.trainable_variables

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            z = model(x, training=True)[:, 0]
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(y, z))
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    t0, run = time.time(), []
    for k in range(steps):
        idx, y = draw()
        run.append(float(step(np.asarray(c["maps"][np.sort(idx)], np.float32), y[np.argsort(idx)])))
        if (k + 1) % 50 == 0:
            log(f"  step {k + 1}/{steps}: loss {np.mean(run[-50:]):.3f}, {(time.time() - t0) / 60:.1f} min")
    return model


def view_logits(model, c: dict, rows: np.ndarray) -> np.ndarray:
    """The model's logit for each cached row."""
    import tensorflow as tf

    fwd = tf.function(lambda x: model(x, training=False)[:, 0], reduce_retracing=True)
    out = [fwd(np.asarray(c["maps"][rows[a:a + 128]], np.float32)).numpy() for a in range(0, len(rows), 128)]
    return np.concatenate(out) if out else np.zeros(0)


def image_scores(z_rows: np.ndarray, c: dict, rows: np.ndarray, n_images: int) -> dict[str, dict[str, np.ndarray]]:
    """{aggregate: {view: logit per image (nan where not scored)}} from per-row logits."""
    img, key = c["image"][rows], c["key"][rows]
    out = {a: {v: np.full(n_images, np.nan) for v in EVAL_VIEWS} for a in AGGREGATES}
    for v in EVAL_VIEWS:
        g_rows = key == f"{v}:global"
        crops = {}
        for i, z in zip(img[key == f"{v}:crops"], z_rows[key == f"{v}:crops"]):
            crops.setdefault(int(i), []).append(z)
        for i, g in zip(img[g_rows], z_rows[g_rows]):
            cz = np.array(crops[int(i)])
            for a, rule in AGGREGATES.items():
                out[a][v][int(i)] = rule(g, cz)
    return out


def held_out(items, fold: np.ndarray, steps: int = CV_STEPS, log=log, **kw) -> dict[str, dict[str, np.ndarray]]:
    """Per aggregate and view, the logit of every image from the model of the fold that held it out."""
    c = cache(items)
    n = len(items)
    res = {a: {v: np.full(n, np.nan) for v in EVAL_VIEWS} for a in AGGREGATES}
    for k in np.unique(fold):
        t0 = time.time()
        log(f"fine-tune fold {k}: {int((fold != k).sum())} training images, {steps} steps")
        model = fit(c, items, fold != k, steps=steps, seed=int(k), log=log, **kw)
        rows = np.flatnonzero((c["key"] != "train") & (fold == k)[c["image"]])
        per = image_scores(view_logits(model, c, rows), c, rows, n)
        for a in AGGREGATES:
            for v in EVAL_VIEWS:
                m = ~np.isnan(per[a][v])
                res[a][v][m] = per[a][v][m]
        log(f"fold {k} done in {(time.time() - t0) / 60:.1f} min")
    return res


def train_rows(c: dict, native_only: bool = False) -> np.ndarray:
    """Rows of the cache's training views; with native_only, the native-resolution crops only (each
    image's first N_NATIVE training views: ``_views`` puts them before the global ones)."""
    tr = np.flatnonzero(c["key"] == "train")
    if not native_only:
        return tr
    img = c["image"][tr]
    first = np.r_[0, np.flatnonzero(np.diff(img)) + 1]  # rows of one image are contiguous
    pos = np.arange(len(tr)) - np.repeat(first, np.diff(np.r_[first, len(tr)]))
    return tr[pos < N_NATIVE]
