"""Source-held-out cross-validation: how designs are chosen, and where the shipped thresholds come from.

    python -m models.crossval [--designs content,lowlevel,ensemble,shortcuts] [--json models/crossval.json]

Each of the folds of ``models.folds`` holds out whole source families of both classes; a design is
trained on the other folds and scores what was held out (the upload and its JPEG q75 / 0.5x
versions). Per held-out source it prints the AUC against the held-out images of the other class
of its fold, and the shares called fake / uncertain / real at thresholds chosen on the other
folds' held-out scores only (cross-fitted). The summary gives the mean source-held-out AUC and the
share of held-out genuine photos called fake. ``--json`` keeps every figure (the model card's table).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from models import data, folds, metrics

FAKE_MAX_FPR = 0.02  # at most 2 % of held-out genuine photos called fake ...
FAMILY_MAX_FPR = 0.05  # ... and at most 5 % of any one family of them (>= MIN_FAMILY images)
MIN_FAMILY = 20
REAL_MAX_FNR = 0.03  # at most 3 % of held-out AI images called real (the real-side levels)
CAMERA_MAX_FNR = 0.20  # at most 20 % of held-out AI images score at or below the camera-original level's threshold


def log(msg: str) -> None:
    """Timestamped progress line on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def all_items(extra: bool = True) -> list[data.Item]:
    """../shared/datasets/train plus the ComfyUI template outputs (models.extra_data)."""
    items = data.list_items(data.default_data_dir())
    if extra:
        from models import extra_data

        items += data.list_items(extra_data.prepare())
    return items


def thresholds(z: np.ndarray, y: np.ndarray, fam: np.ndarray) -> dict[str, float]:
    """Fake / real thresholds (on logits) from held-out scores: the rules at the top of this module."""
    real_z, fake_z = np.sort(z[y == 0]), np.sort(z[y == 1])
    hi = real_z[len(real_z) - int(np.floor(FAKE_MAX_FPR * len(real_z))) - 1]
    for f in np.unique(fam[y == 0]):
        fz = np.sort(z[(y == 0) & (fam == f)])
        if len(fz) >= MIN_FAMILY:
            hi = max(hi, fz[len(fz) - int(np.floor(FAMILY_MAX_FPR * len(fz))) - 1])
    lo = fake_z[int(np.floor(REAL_MAX_FNR * len(fake_z)))]
    cam = fake_z[int(np.floor(CAMERA_MAX_FNR * len(fake_z)))]
    hi = float(hi) + 1e-6
    real = float(min(lo - 1e-6, hi))
    return {"fake": hi, "real": real, "camera": float(min(max(cam - 1e-6, real), hi))}


def calls(z: np.ndarray, th: dict[str, float]) -> np.ndarray:
    """'fake' / 'real' / 'uncertain' per logit."""
    return np.where(z >= th["fake"], "fake", np.where(z <= th["real"], "real", "uncertain"))


def report(items, fold: np.ndarray, scores: dict[str, np.ndarray]) -> dict:
    """Every figure of one design from its held-out logits (scores[view], one per image)."""
    y = np.array([i.label for i in items])
    src = np.array([i.source for i in items])
    fam = np.array([folds.family(s) for s in src])
    z = scores["original"]
    verdict = np.empty(len(items), dtype=object)
    below_camera = np.zeros(len(items), bool)
    fold_th = {}
    for k in np.unique(fold):
        out = fold != k
        th = thresholds(z[out], y[out], fam[out])
        fold_th[int(k)] = th
        verdict[fold == k] = calls(z[fold == k], th)
        below_camera[fold == k] = z[fold == k] <= th["camera"]

    def row(mask):
        lab = y[mask][0]
        k = fold[mask][0]
        sel = mask | ((fold == k) & (y != lab))
        r = {"n": int(mask.sum()), "label": "fake" if lab else "real", "fold": int(k),
             "auc": metrics.roc_auc(y[sel], z[sel]),
             # against every held-out image of the other class (all folds): less tied to one fold's pairing
             "auc_vs_all": metrics.roc_auc(y[mask | (y != lab)], z[mask | (y != lab)])}
        for view in scores:
            if view != "original":  # a robustness view may score a sample of each source only (nan elsewhere)
                ok = sel & np.isfinite(scores[view])
                r[f"auc_{view}"] = metrics.roc_auc(y[ok], scores[view][ok])
                r[f"auc_{view}_same_images"] = metrics.roc_auc(y[ok], z[ok])  # the unperturbed AUC it is compared with
        for c in ("fake", "uncertain", "real"):
            r[f"called_{c}"] = float((verdict[mask] == c).mean())
        return r

    per_family = {f: row(fam == f) for f in sorted(set(fam))}
    per_source = {s: row(src == s) for s in sorted(set(src))}
    fam_auc = np.array([v["auc"] for v in per_family.values()])
    res = {
        "n": len(items), "n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum()),
        "mean_family_auc": float(np.nanmean(fam_auc)),
        "mean_source_auc": float(np.nanmean([v["auc"] for v in per_source.values()])),
        "mean_family_auc_vs_all": float(np.nanmean([v["auc_vs_all"] for v in per_family.values()])),
        "min_family_auc": float(np.nanmin(fam_auc)),
        "pooled_auc": metrics.roc_auc(y, z),
        "real_called_fake": float((verdict[y == 0] == "fake").mean()),
        "real_called_real": float((verdict[y == 0] == "real").mean()),
        "real_called_uncertain": float((verdict[y == 0] == "uncertain").mean()),
        "fake_called_uncertain": float((verdict[y == 1] == "uncertain").mean()),
        # at or below the camera-original level's threshold (that level also needs camera-original evidence)
        "real_below_camera": float(below_camera[y == 0].mean()),
        "fake_below_camera": float(below_camera[y == 1].mean()),
        "fake_called_fake": float((verdict[y == 1] == "fake").mean()),
        "fake_called_real": float((verdict[y == 1] == "real").mean()),
        "fold_thresholds": fold_th, "per_family": per_family, "per_source": per_source,
    }
    for view in scores:
        if view != "original":
            m = float(np.nanmean([v[f"auc_{view}"] for v in per_family.values()]))
            base = float(np.nanmean([v[f"auc_{view}_same_images"] for v in per_family.values()]))
            res[f"mean_family_auc_{view}"] = m
            res[f"drop_{view}"] = base - m  # on the same images, unperturbed vs perturbed
    th = thresholds(z, y, fam)
    res["shipped_thresholds_logit"] = th
    res["shipped_thresholds"] = {k: float(metrics.sigmoid(v)) for k, v in th.items()}
    return res


def print_report(name: str, res: dict, file=sys.stdout) -> None:
    """The table of one design."""
    p = lambda *a: print(*a, file=file)  # noqa: E731
    p(f"\n== {name}: {res['n']} images ({res['n_real']} real, {res['n_fake']} AI), "
      f"{len(res['fold_thresholds'])} source-held-out folds")
    p(f"{'held-out family / source':44s} {'fold':>4s} {'n':>5s} {'AUC':>6s} {'q75':>6s} {'x0.5':>6s} "
      f"{'fake':>6s} {'unsure':>6s} {'real':>6s}")
    for title, rows in (("families", res["per_family"]), ("folders", res["per_source"])):
        p(f"-- {title}")
        for s, v in rows.items():
            p(f"{s:44s} {v['fold']:4d} {v['n']:5d} {v['auc']:6.3f} {v.get('auc_jpeg_q75', float('nan')):6.3f} "
              f"{v.get('auc_scale_0.5', float('nan')):6.3f} {v['called_fake']:6.1%} {v['called_uncertain']:6.1%} "
              f"{v['called_real']:6.1%}")
    p(f"mean source-held-out AUC: {res['mean_family_auc']:.3f} over families, {res['mean_source_auc']:.3f} over "
      f"folders (worst family {res['min_family_auc']:.3f}); against all held-out images of the other class "
      f"{res['mean_family_auc_vs_all']:.3f}; pooled held-out AUC {res['pooled_auc']:.3f}")
    for view in ("jpeg_q75", "scale_0.5"):
        if f"drop_{view}" in res:
            p(f"after {view}: mean family AUC {res[f'mean_family_auc_{view}']:.3f} (drop {res[f'drop_{view}']:+.3f})")
    p(f"held-out genuine photos called fake {res['real_called_fake']:.1%} (called real {res['real_called_real']:.1%}); "
      f"AI images called fake {res['fake_called_fake']:.1%}, called real {res['fake_called_real']:.1%} "
      f"(cross-fitted thresholds)")
    th = res["shipped_thresholds"]
    p(f"thresholds from all held-out scores: fake >= {th['fake']:.4f}, real <= {th['real']:.4f}")


def _oof_cache(name: str, items, fold: np.ndarray) -> Path:
    """Where a design's held-out scores are kept: keyed by the data, the folds and the design's revision
    (``models.designs.REVISION``: bump it when a design's code changes what it scores)."""
    import hashlib

    from models import designs, features

    key = [name, designs.REVISION.get(name, 0), [(i.path, i.label) for i in items], fold.tolist()]
    return features.CACHE / f"heldout-{name}-{hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]}.npz"


def run_designs(names: list[str], items, fold: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """Held-out logits per design (the ensemble needs its members first), cached under data/cache."""
    from models import designs

    out: dict[str, dict[str, np.ndarray]] = {}
    for name in names:
        path = _oof_cache(name, items, fold)
        if path.is_file():
            with np.load(path) as z:
                out[name] = dict(z)
            log(f"design {name}: held-out scores from {path.name}")
            continue
        log(f"design {name}")
        out[name] = designs.held_out_scores(name, items, fold, out)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **out[name])
    return out


def main(argv=None) -> int:
    """CLI entry point."""
    from models import designs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", default=",".join(designs.DEFAULT), help=f"comma list of {', '.join(designs.ALL)}")
    ap.add_argument("--json", default=None, help="write every figure here (the card reads models/crossval.json)")
    ap.add_argument("--no-extra", action="store_true", help="without the ComfyUI template outputs")
    ap.add_argument("--merge", action="store_true",
                    help="keep the other designs of an existing --json (same data and folds) beside these")
    args = ap.parse_args(argv)
    items = all_items(not args.no_extra)
    src = [i.source for i in items]
    if folds.unlisted(src):
        log(f"families not placed in models.folds.FOLDS (put in the last fold): {folds.unlisted(src)}")
    fold = np.array([folds.fold_of(s) for s in src])
    names = args.designs.split(",")
    scores = run_designs(names, items, fold)
    results = {}
    for name in names:
        results[name] = report(items, fold, scores[name])
        print_report(name, results[name])
    print("\n== summary (source-held-out)")
    print(f"{'design':28s} {'meanAUC':>8s} {'worst':>6s} {'q75 drop':>8s} {'x0.5 drop':>9s} {'real→fake':>9s} "
          f"{'AI→fake':>8s} {'AI→real':>8s}")
    for name, r in results.items():
        print(f"{name:28s} {r['mean_family_auc']:8.3f} {r['min_family_auc']:6.3f} {r.get('drop_jpeg_q75', float('nan')):+8.3f} "
              f"{r.get('drop_scale_0.5', float('nan')):+9.3f} {r['real_called_fake']:9.1%} {r['fake_called_fake']:8.1%} "
              f"{r['fake_called_real']:8.1%}")
    if args.json:
        command = "python -m models.crossval " + " ".join(argv or sys.argv[1:])
        commands = {name: command for name in names}
        if args.merge and Path(args.json).is_file():
            old = json.loads(Path(args.json).read_text())
            if [list(f) for f in old["folds"]] != [list(f) for f in folds.FOLDS] or any(
                    old["results"][d]["n"] != len(items) for d in old["results"]):
                raise SystemExit(f"{args.json} was measured on other folds or data: run every design again")
            kept = {d: old["results"][d] for d in designs.ALL if d in old["results"] and d not in results}
            commands.update({d: old.get("commands", {}).get(d, old["command"]) for d in kept})
            results = {d: results.get(d) or kept[d] for d in designs.ALL if d in results or d in kept}  # card order
        Path(args.json).write_text(json.dumps({"command": command, "commands": commands, "folds": folds.FOLDS,
                                               "results": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    raise SystemExit(main())
