"""Train the shipped detector on everything, with thresholds and level rates from source-held-out cross-validation.

    python -m models.train [--crossval models/crossval.json] [--out models]

1. Cross-validation by source (``models.crossval``; reused from ``--crossval`` when that file
   exists and lists the candidates) gives every design's held-out scores.
2. The shipped design is the candidate with the best mean source-held-out AUC whose AUC drops by at
   most ``MAX_DROP`` under JPEG q75 and a 0.5x downscale (``CANDIDATES``: the frozen heads and the
   fine-tuned network under each aggregation rule).
3. It is trained on all the data and saved beside ``ensemble.json``, which holds the thresholds
   chosen on the held-out scores (``models.crossval.thresholds``: at most 2 % of held-out genuine
   photos, 5 % of any family, called fake; at most 3 % of held-out AI images called real) and each
   level's cross-fitted rates (``shared.levels``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from models import crossval, designs, features, finetune, folds, frozen, lowlevel, preprocess, texture

HERE = Path(__file__).resolve().parent
CANDIDATES = (*designs.FROZEN, *designs.FINETUNE, *designs.ENSEMBLES)
LEGACY = ("content", "lowlevel", "ensemble")  # the designs of earlier models, trained when asked by name
MEMBERS = {"content": ("content",), "lowlevel": ("lowlevel",), "ensemble": ("content", "lowlevel")}
MAX_DROP = 0.03  # the most a shipped design's mean family AUC may fall under JPEG q75 or a 0.5x downscale
log = crossval.log


def content_model(head, size: int = preprocess.INPUT_SIZE, projs=()):
    """Frozen-feature Lite0 with the logistic head as its last Dense layer (standardisation folded in);
    given ``[(texture group, texture.Projection)]`` (as ``frozen.fit_frozen`` returns them), the head also
    reads the Gram matrices of the groups' layers (``models.texture``), the projections folded into the same
    Dense layer."""
    import keras
    from keras import layers

    feat = features.feature_model(size)
    x = feat.output
    if projs:
        names = [name for group, _ in projs for name in texture.GROUPS[group]]
        grams = [texture.gram_layer(feat.get_layer(n).output, name=f"texture_{n}") for n in names]
        x = layers.Concatenate(name="content_and_texture")([x, *grams])
        wf, wg, b = texture.fold_head(head, list(projs), feat.output.shape[-1])
        w = np.concatenate([wf, *wg])
    else:
        w, b = head.raw_weights()
    out = layers.Dense(1, activation="sigmoid", name="fake_probability")(x)
    model = keras.Model(feat.input, out, name="detector_content")
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


def train_design(name: str, items, out: Path, log=log) -> str:
    """Train a design of ``CANDIDATES`` on all items from the fine-tuning cache; write its .keras and
    sidecar; return the file name."""
    c = finetune.cache(items)
    everything = np.ones(len(items), bool)
    if name.split("-")[0] in finetune.SCHEDULES:
        schedule, rule = name.split("-")
        sch = finetune.SCHEDULES[schedule]
        log(f"fine-tuning on all {len(items)} images, {sch['ship_steps']} steps")
        upper = finetune.fit(c, items, everything, steps=sch["ship_steps"], seed=0, log=log, lr=sch["lr"],
                             train_from=sch["train_from"], balanced=sch.get("balanced", False))
        model, file = finetune.build_full(upper), "finetuned"
        balance = ", views drawn by content-balance weight" if sch.get("balanced") else ""
        what = (f"ImageNet EfficientNet-Lite0, blocks {sch['train_from']}-15 and head fine-tuned "
                f"({sch['ship_steps']} steps of {finetune.BATCH}, balanced by source and class{balance}), blocks 0-"
                f"{sch['train_from'] - 1} frozen")
        crops, aggregate = "multiview", rule
    else:
        spec = frozen.FROZEN[name]
        rows = finetune.train_rows(c, native_only=spec["native_only"])
        head, projs = frozen.fit_frozen(c, items, rows, name, frozen.texture_blocks(c, rows, name))
        model, file = content_model(head, projs=projs), "content"
        what = "frozen ImageNet EfficientNet-Lite0, mean and mean square of 6 layers + top features"
        for group, proj in projs:
            layers = texture.GROUPS[group]
            what += (f", the Gram matri{'x' if len(layers) == 1 else 'ces'} of {' and '.join(layers)} "
                     f"({len(proj.basis)} principal components)")
        what += ", logistic head" + (" (class weights balanced within content clusters)" if spec["balanced"] else "")
        crops, aggregate = ("grid", "crops") if name == "frozen-crops" else ("multiview", "mean")
    path = out / f"{file}.keras"
    model.save(path)
    path.with_suffix(".json").write_text(json.dumps({
        "name": file, "design": name, "architecture": what, "input_size": preprocess.INPUT_SIZE, "crops": crops,
        "aggregate": aggregate, "input": "raw RGB 0..255 float crops; scaling inside the model",
        "calibration": {"applied_in_model": True, "method": "none beyond the network's own logistic output"},
    }, indent=2) + "\n")
    log(f"wrote {path}")
    return path.name


def level_rates(r: dict) -> dict[str, dict[str, float]]:
    """Each detector level's cross-fitted shares of held-out AI images and genuine photos (crossval.report)."""
    band = {"likely-ai": "called_fake", "inconclusive": "called_uncertain", "no-sign-of-ai": "called_real",
            "camera-original": "below_camera"}  # the last also needs camera-original evidence
    return {lv: {"ai": r[f"fake_{b}"], "real": r[f"real_{b}"]} for lv, b in band.items()}


def pick(results: dict, candidates=CANDIDATES) -> str:
    """The best mean source-held-out AUC among the candidates that hold up under JPEG q75 and 0.5x."""
    have = [d for d in candidates if d in results]
    robust = [d for d in have if max(results[d].get("drop_jpeg_q75", 0), results[d].get("drop_scale_0.5", 0))
              <= MAX_DROP]
    for d in have:
        r = results[d]
        log(f"  {d:20s} mean family AUC {r['mean_family_auc']:.3f}, drop q75 {r.get('drop_jpeg_q75', 0):+.3f}, "
            f"x0.5 {r.get('drop_scale_0.5', 0):+.3f}{'' if d in robust else '  (drops too much)'}")
    return max(robust or have, key=lambda d: results[d]["mean_family_auc"])


def main(argv=None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description="train the shipped detectors")
    ap.add_argument("--crossval", default=str(HERE / "crossval.json"), help="cross-validation figures (made if absent)")
    ap.add_argument("--out", default=str(HERE))
    ap.add_argument("--designs", default="", help="choose among these designs only (comma list; default: CANDIDATES)")
    args = ap.parse_args(argv)
    t0 = time.time()
    items = crossval.all_items()
    cv_path = Path(args.crossval)
    cv = json.loads(cv_path.read_text()) if cv_path.is_file() else {}
    if not all(d in cv.get("results", {}) for d in CANDIDATES):
        log("running the source-held-out cross-validation first")
        crossval.main(["--designs", ",".join(designs.DEFAULT), "--json", os.path.relpath(cv_path)])
        cv = json.loads(cv_path.read_text())
    results = cv["results"]
    best = pick(results, args.designs.split(",") if args.designs else CANDIDATES)
    r = results[best]
    log(f"shipping {best}: mean source-held-out AUC {r['mean_family_auc']:.3f}")
    out = Path(args.out)
    if best in LEGACY:
        members = [{"name": m, "file": train_member(m, items, out), "weight": 1.0 / len(MEMBERS[best])}
                   for m in MEMBERS[best]]
    else:
        parts = designs.ENSEMBLES.get(best, (best,))
        files = [train_design(d, items, out) for d in parts]
        # each member under its sidecar's name; the ensemble's logit is the mean of theirs, as cross-validated
        members = [{"name": Path(f).stem, "file": f, "weight": 1.0 / len(parts)} for f in files]
    spec = {
        "design": best, "members": members, "bias": 0.0,
        "combine": "P = sigmoid(bias + sum(weight * logit(member P))); member P = sigmoid(its crops' logits "
                   "aggregated by its sidecar's rule, models.preprocess.aggregate)",
        "thresholds": r["shipped_thresholds"],
        "levels": level_rates(r),
        "levels_rule": "each level's shares of held-out AI images and genuine photos: cross-fitted (every image "
                       "scored by the model of the fold that held it out, at thresholds chosen on the other folds)",
        "threshold_rule": f"fake: <= {crossval.FAKE_MAX_FPR:.0%} of held-out genuine photos (and <= "
                          f"{crossval.FAMILY_MAX_FPR:.0%} of any family of >= {crossval.MIN_FAMILY}) called fake; "
                          f"real: <= {crossval.REAL_MAX_FNR:.0%} of held-out AI images called real; camera (with "
                          f"camera-original evidence): <= {crossval.CAMERA_MAX_FNR:.0%} of held-out AI images that low",
        "threshold_rates_cross_fitted": {k: r[k] for k in ("real_called_fake", "real_called_real",
                                                            "fake_called_fake", "fake_called_real")},
        "source_held_out": {k: r[k] for k in ("mean_family_auc", "mean_source_auc", "min_family_auc", "pooled_auc",
                                               "mean_family_auc_jpeg_q75", "mean_family_auc_scale_0.5")},
        "folds": [list(f) for f in folds.FOLDS],
        "training": {"images": len(items), "sources": len({i.source for i in items}),
                     "minutes": round((time.time() - t0) / 60, 1), "crossval": cv.get("command")},
    }
    (out / "ensemble.json").write_text(json.dumps(spec, indent=2) + "\n")
    log(f"wrote {out / 'ensemble.json'}; total {(time.time() - t0) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    raise SystemExit(main())
