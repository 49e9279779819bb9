"""Evaluate the detector on a folder holding real/ and fake/ (any nesting).

    python -m models.evaluate DIR [DIR...] [--model models/ensemble.json] [--split val] [--robustness]
                              [--plot roc.png] [--json out.json]
    python -m models.evaluate --labels labels.csv --files UPLOAD_DIR [...]   # reviewed files (models/labelset.py)

Prints accuracy, ROC-AUC, FPR/TPR at the shipped thresholds and a per-subfolder breakdown, and
writes a ROC plot PNG.  Scores come from worker.detector, i.e. the very path the worker uses.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image, ImageDraw

from models import data, labelset, metrics, preprocess

CHUNK = 64


def _progress(done, total, label):
    print(f"\r  {label}: {done}/{total}", end="", file=sys.stderr, flush=True)
    if done == total:
        print(file=sys.stderr)


def score_items(det, items, robust: bool = False, label="scoring") -> dict:
    """Per-image probabilities through the worker's own path (``Ensemble.score``): 'p' combined,
    'member:<name>' per detector and, with robust, the combined P of each perturbed version."""
    from worker.detector import PERTURBATIONS, perturbed

    out: dict[str, list] = {"p": []}

    def prep(item):
        return perturbed(preprocess.load_image(item.path), det.input_size)

    with ThreadPoolExecutor(2) as ex:
        for start in range(0, len(items), CHUNK):
            variants = list(ex.map(prep, items[start:start + CHUNK]))
            for s in det.score(variants):
                out["p"].append(s.fake_probability)
                for d in s.detectors:
                    out.setdefault(f"member:{d['name']}", []).append(d["fake_probability"])
            if robust:
                for k in PERTURBATIONS[1:]:
                    out.setdefault(k, []).extend(det.score_images([v[k] for v in variants]))
            _progress(min(start + CHUNK, len(items)), len(items), label)
    return {k: np.array(v) for k, v in out.items()}


def summarise(items, p, thresholds) -> dict:
    """Overall and per-source figures for scores p at the given thresholds."""
    y = np.array([i.label for i in items])
    src = np.array([i.source for i in items])
    res = {"n": len(items), "n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum()),
           "roc_auc": metrics.roc_auc(y, p), "at_fake_threshold": metrics.rates(y, p, thresholds["fake"]),
           "at_real_threshold": metrics.rates(y, p, thresholds["real"]), "at_0.5": metrics.rates(y, p, 0.5),
           "ece": metrics.ece(y, p), "per_source": {}}
    for s in sorted(set(src)):
        m = src == s
        other = y != y[m][0]
        sel = m | other
        lab = int(y[m][0])
        called_fake = p[m] >= thresholds["fake"]
        called_real = p[m] <= thresholds["real"]
        res["per_source"][s] = {
            "n": int(m.sum()), "label": "fake" if lab else "real",
            "roc_auc_vs_other_class": metrics.roc_auc(y[sel], p[sel]),
            "accuracy_at_fake_threshold": float((called_fake == bool(lab)).mean()),
            "called_fake": float(called_fake.mean()), "called_real": float(called_real.mean()),
            "uncertain": float((~called_fake & ~called_real).mean()), "mean_p": float(p[m].mean())}
    return res


def plot_roc(curves: dict, path: str, size: int = 480) -> None:
    """ROC curves {label: (y, p)} drawn with Pillow to a PNG."""
    img = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(img)
    m = 40
    box = (m, m // 2, size - m // 2, size - m)
    d.rectangle(box, outline="black")
    d.line([(box[0], box[3]), (box[2], box[1])], fill=(180, 180, 180))
    colours = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14)]
    for n, (label, (y, p)) in enumerate(curves.items()):
        fpr, tpr, _ = metrics.roc_curve(y, p)
        pts = [(box[0] + f * (box[2] - box[0]), box[3] - t * (box[3] - box[1])) for f, t in zip(fpr, tpr)]
        pts.append((box[2], box[1]))
        c = colours[n % len(colours)]
        d.line(pts, fill=c, width=2)
        d.text((box[0] + 150, box[3] - 16 * (n + 1) - 4), f"{label} AUC {metrics.roc_auc(y, p):.3f}", fill=c)
    d.text((size // 2 - 40, size - m + 12), "false positive rate", fill="black")
    d.text((4, m // 2), "TPR", fill="black")
    img.save(path)


def print_report(res: dict, title: str) -> None:
    """Human-readable summary of summarise() output."""
    f, r = res["at_fake_threshold"], res["at_real_threshold"]
    print(f"== {title}: {res['n']} images ({res['n_real']} real, {res['n_fake']} AI)")
    print(f"ROC-AUC {res['roc_auc']:.4f}  accuracy@0.5 {res['at_0.5']['accuracy']:.4f}  ECE {res['ece']:.4f}")
    print(f"fake threshold {f['threshold']:.4f}: accuracy {f['accuracy']:.4f} "
          f"FPR {f.get('fpr', float('nan')):.4f} TPR {f.get('tpr', float('nan')):.4f}")
    print(f"real threshold {r['threshold']:.4f}: FPR {r.get('fpr', float('nan')):.4f} "
          f"TPR {r.get('tpr', float('nan')):.4f}")
    print(f"{'source':42s} {'n':>5s} {'AUC':>7s} {'acc':>7s} {'fake':>6s} {'unsure':>6s} {'real':>6s}")
    for s, v in res["per_source"].items():
        print(f"{s:42s} {v['n']:5d} {v['roc_auc_vs_other_class']:7.4f} {v['accuracy_at_fake_threshold']:7.4f} "
              f"{v['called_fake']:6.3f} {v['uncertain']:6.3f} {v['called_real']:6.3f}")


def main(argv=None) -> int:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="*", help="folder(s) with real/ and/or fake/ subfolders, pooled")
    ap.add_argument("--labels", default=None, help="a labels export (CSV or JSONL from /api/v1/labels/export): "
                    "its real and fake records join the set")
    ap.add_argument("--files", default=None, help="with --labels: where the files are, found by sha256 (storage "
                    "layout ab/cd/<sha256>, or <sha256>) or by file name with a matching sha256")
    ap.add_argument("--model", default=None, help="ensemble .json or a .keras detector (default $MODEL_PATH or "
                    "models/ensemble.json)")
    ap.add_argument("--split", choices=["all", "val", "train"], default="all",
                    help="only the held-out (val) or training part of the deterministic split")
    ap.add_argument("--robustness", action="store_true", help="also score JPEG/downscaled variants")
    ap.add_argument("--plot", default="roc.png", help="ROC plot PNG path")
    ap.add_argument("--json", default=None, help="write the figures as JSON here")
    args = ap.parse_args(argv)
    if not args.dir and not args.labels:
        ap.error("give DIR(s), --labels EXPORT --files DIR, or both")
    if args.labels and not args.files:
        ap.error("--labels needs --files DIR (where the labelled files are)")
    items = [it for d in args.dir for it in data.list_items(d)]
    if args.labels:
        reviewed = labelset.load(args.labels, args.files)
        print(f"labels: {len(reviewed.items)} files found, {len(reviewed.missing)} not found under {args.files}, "
              f"{reviewed.skipped} unsure skipped", file=sys.stderr)
        items += reviewed.items

    from worker.detector import load

    det = load(args.model)
    if args.split != "all":
        items = [i for i in items if data.is_val(i) == (args.split == "val")]
    if not items:
        print(f"no images under real/ or fake/ of {' '.join(args.dir)} nor labelled files found", file=sys.stderr)
        return 2
    print(f"model {det.version[:16]}…  thresholds {det.thresholds}", file=sys.stderr)
    s = score_items(det, items, robust=args.robustness)
    res = summarise(items, s["p"], det.thresholds)
    print_report(res, f"{' '.join(args.dir + ([args.labels] if args.labels else []))} ({args.split})")
    y = np.array([i.label for i in items])
    res["detectors"] = {k.split(":", 1)[1]: metrics.roc_auc(y, v) for k, v in s.items() if k.startswith("member:")}
    print("per detector ROC-AUC: " + "  ".join(f"{k} {v:.4f}" for k, v in res["detectors"].items()))
    curves = {"original": (y, s["p"])}
    if args.robustness:
        res["robustness_auc"] = {k: metrics.roc_auc(y, v) for k, v in s.items() if not k.startswith("member:")}
        print("robustness ROC-AUC: " + "  ".join(f"{k} {v:.4f}" for k, v in res["robustness_auc"].items()))
        curves.update({k: (y, s[k]) for k in ("jpeg_q75", "scale_0.5")})
    plot_roc(curves, args.plot)
    print(f"ROC plot written to {args.plot}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"model_sha256": det.version, **res}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
