"""Train the shipped detectors on everything, with thresholds from source-held-out cross-validation.

    python -m models.train [--crossval models/crossval.json] [--out models]

1. Cross-validation by source (``models.crossval``; reused from ``--crossval`` when that file
   exists and lists the designs) gives every design's held-out scores.
2. The shipped combination is the design with the best mean source-held-out AUC among
   ``content``, ``lowlevel`` and ``ensemble`` (an ensemble ships only if it beats both members).
3. Its members are trained on all the data and saved beside ``ensemble.json``, which holds their
   weights and the thresholds chosen on the held-out scores (``models.crossval.thresholds``):
   at most 2 % of held-out genuine photos (5 % of any family) called fake, at most 5 % of
   held-out AI images called real.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from models import crossval, designs, features, lowlevel, preprocess

HERE = Path(__file__).resolve().parent
CANDIDATES = ("content", "lowlevel", "ensemble")
MEMBERS = {"content": ("content",), "lowlevel": ("lowlevel",), "ensemble": ("content", "lowlevel")}
log = crossval.log


def content_model(head, size: int = preprocess.INPUT_SIZE):
    """Frozen-feature Lite0 with the logistic head as its last Dense layer (standardisation folded in)."""
    import keras
    from keras import layers

    feat = features.feature_model(size)
    out = layers.Dense(1, activation="sigmoid", name="fake_probability")(feat.output)
    model = keras.Model(feat.input, out, name="detector_content")
    w, b = head.raw_weights()
    model.get_layer("fake_probability").set_weights([w.reshape(-1, 1).astype(np.float32), np.array([b], np.float32)])
    return model


def train_member(name: str, items, out: Path) -> str:
    """Train one member on all items; write NAME.keras and its sidecar; return the file name."""
    everything = np.ones(len(items), bool)
    if name == "content":
        head = designs.fit_head(designs.content_features(items), items, everything, slice(None))
        model, size, crops = content_model(head), preprocess.INPUT_SIZE, "grid"
        what = "frozen ImageNet EfficientNet-Lite0, mean and mean square of 6 layers + top features, logistic head"
    else:
        model = lowlevel.fit_on(lowlevel.patch_cache(items), items, everything, log=log)
        size, crops = preprocess.PATCH, "textured"
        what = "6-layer CNN on 2x2-block residuals of the most textured 128 px patches, trained from scratch"
    path = out / f"{name}.keras"
    model.save(path)
    path.with_suffix(".json").write_text(json.dumps({
        "name": name, "architecture": what, "input_size": size, "crops": crops,
        "input": "raw RGB 0..255 float crops; scaling inside the model",
        "calibration": {"applied_in_model": True, "method": "none beyond the head's own logistic fit"},
    }, indent=2) + "\n")
    log(f"wrote {path}")
    return path.name


def main(argv=None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description="train the shipped detectors")
    ap.add_argument("--crossval", default=str(HERE / "crossval.json"), help="cross-validation figures (made if absent)")
    ap.add_argument("--out", default=str(HERE))
    args = ap.parse_args(argv)
    t0 = time.time()
    items = crossval.all_items()
    cv_path = Path(args.crossval)
    cv = json.loads(cv_path.read_text()) if cv_path.is_file() else {}
    if not all(d in cv.get("results", {}) for d in CANDIDATES):
        log("running the source-held-out cross-validation first")
        crossval.main(["--designs", ",".join(designs.ALL), "--json", os.path.relpath(cv_path)])
        cv = json.loads(cv_path.read_text())
    results = cv["results"]
    best = max(CANDIDATES, key=lambda d: results[d]["mean_family_auc"])
    r = results[best]
    log(f"shipping {best}: mean source-held-out AUC {r['mean_family_auc']:.3f} "
        "(" + ", ".join(f"{d} {results[d]['mean_family_auc']:.3f}" for d in CANDIDATES) + ")")
    out = Path(args.out)
    members = [{"name": m, "file": train_member(m, items, out), "weight": 1.0 / len(MEMBERS[best])}
               for m in MEMBERS[best]]
    spec = {
        "design": best, "members": members, "bias": 0.0,
        "combine": "P = sigmoid(bias + sum(weight * logit(member P))); member P = sigmoid(mean crop logit)",
        "thresholds": r["shipped_thresholds"],
        "threshold_rule": f"fake: <= {crossval.FAKE_MAX_FPR:.0%} of held-out genuine photos (and <= "
                          f"{crossval.FAMILY_MAX_FPR:.0%} of any family of >= {crossval.MIN_FAMILY}) called fake; "
                          f"real: <= {crossval.REAL_MAX_FNR:.0%} of held-out AI images called real",
        "threshold_rates_cross_fitted": {k: r[k] for k in ("real_called_fake", "real_called_real",
                                                            "fake_called_fake", "fake_called_real")},
        "source_held_out": {k: r[k] for k in ("mean_family_auc", "mean_source_auc", "min_family_auc", "pooled_auc",
                                               "mean_family_auc_jpeg_q75", "mean_family_auc_scale_0.5")},
        "training": {"images": len(items), "sources": len({i.source for i in items}),
                     "minutes": round((time.time() - t0) / 60, 1), "crossval": cv.get("command")},
    }
    (out / "ensemble.json").write_text(json.dumps(spec, indent=2) + "\n")
    log(f"wrote {out / 'ensemble.json'}; total {(time.time() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    raise SystemExit(main())
