"""The detector designs cross-validation compares, each as held-out logits per image and view.

- ``content-top``: logistic head on the 1280 top features of frozen ImageNet Lite0 (the README's baseline).
- ``content``: the same head on the mean and mean square of six earlier layers as well (``models.features``).
- ``content-taps``: the head on those six earlier layers' statistics only (no top features).
- ``lowlevel``: a small CNN on neighbouring-pixel residuals of the most textured patches at the
  image's own resolution (``models.lowlevel``), trained from scratch in every fold.
- ``ensemble``: the mean of the ``content`` and ``lowlevel`` logits (no weight fitted on held-out data).
- ``frozen-crops``: today's frozen head (the 2240 ``content`` features, native crops) on the fine-tuning
  cache and its views, so it is compared with the fine-tuned designs image for image.
- ``frozen-multiview``: the same frozen head trained on native crops and global views, scoring their mean.
- ``frozen-texture``: ``frozen-multiview`` with the texture statistics of the block-10 maps (their channel
  Gram matrix, ``models.texture``) beside the content features.
- ``frozen-balanced``: ``frozen-multiview`` with class weights balanced within content clusters
  (``logreg.content_balance``); ``frozen-texture-balanced``: both.
- ``frozen-early-balanced``: ``frozen-texture-balanced`` with the Gram matrices of blocks 2 and 4 as well
  (finer texture, nearer the pixels; ``texture.GROUPS["early"]``).
- ``finetune-<rule>``: ImageNet Lite0 whose blocks 11-15 and head are fine-tuned (``models.finetune``),
  each image's logit from its global view and native crops by ``rule`` (``finetune.AGGREGATES``):
  ``global`` and ``crops`` are each view alone, ``mean``, ``half`` and ``max`` combine them.
- ``finetune15-<rule>``: the same with block 15 and the head trained only (``finetune.SCHEDULES``).
- ``ensemble-multiview``, ``ensemble-texture``, ``ensemble-early``: the mean of the ``frozen-multiview``
  (``frozen-texture-balanced``, ``frozen-early-balanced``) and ``finetune15-mean`` logits (no weight
  fitted on held-out data).
- ``shortcut-geometry``: a probe trained on aspect ratio and size alone: how much a model could
  learn from the shape of the file instead of its pixels.
- ``shortcut-style``: a probe on global colour and smoothness statistics alone (saturation,
  colourfulness, share of flat pixels, edge density): the "painting / illustration = AI" shortcut.
"""

from __future__ import annotations

import numpy as np

from models import finetune, frozen, logreg

FINETUNE = ("finetune-global", "finetune-crops", "finetune-mean", "finetune-half", "finetune-max",
            "finetune15-global", "finetune15-crops", "finetune15-mean", "finetune15b-mean")
# an ensemble of the frozen multi-view head and the gentler fine-tuned network: the mean of their logits
ENSEMBLES = {"ensemble-multiview": ("frozen-multiview", "finetune15-mean"),
             "ensemble-texture": ("frozen-texture-balanced", "finetune15-mean"),
             "ensemble-early": ("frozen-early-balanced", "finetune15-mean"),
             "ensemble-early-b": ("frozen-early-balanced", "finetune15b-mean")}
FROZEN = tuple(frozen.FROZEN)  # logistic heads on the fine-tuning cache
MEAN_OF = {"ensemble": ("content", "lowlevel"), **ENSEMBLES}  # every ensemble design and its members
ALL = ("shortcut-geometry", "shortcut-style", "content-top", "content-taps", "content", "lowlevel", "ensemble",
       *FROZEN, *FINETUNE, *ENSEMBLES)
PROBES = {"shortcut-geometry": "geometry", "shortcut-style": "style"}
# the table of the model card: the fine-tuning cache's designs and the cheap shortcut probes
DEFAULT = ("shortcut-geometry", "shortcut-style", *FROZEN, *FINETUNE, *ENSEMBLES)
# Bumped when a design's code changes what it scores, so cached held-out scores are not reused.
REVISION = {"content": 1, "content-top": 1, "content-taps": 1, "lowlevel": 2, "ensemble": 2,
            **{d: 1 for d in FROZEN}, **{d: 1 for d in FINETUNE}, **{d: 1 for d in ENSEMBLES}}
CONTENT_L2 = 30.0
TOP = 1280  # the first TOP features are the top layer's (models.features.feature_model)


def _per_image(z_crops: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Mean crop logit per image, from flat crop logits and offsets."""
    return np.array([z_crops[a:b].mean() for a, b in zip(idx[:-1], idx[1:])])


def _labels(items):
    return np.array([i.label for i in items]), np.array([i.source for i in items])


def fit_head(feats: dict, items, train: np.ndarray, dims: slice, l2: float = CONTENT_L2) -> logreg.LogReg:
    """Logistic head on the training images' augmented crops (source- and class-balanced weights)."""
    y, src = _labels(items)
    x = feats["train"][train][:, :, dims]
    k = x.shape[1]
    w = np.repeat(logreg.source_weights(src[train], y[train]), k)
    return logreg.fit(x.reshape(-1, x.shape[-1]), np.repeat(y[train], k), w, l2=l2)


def _head_scores(feats: dict, items, fold: np.ndarray, dims: slice) -> dict[str, np.ndarray]:
    from models.features import VIEWS

    out = {v: np.zeros(len(items)) for v in VIEWS}
    for k in np.unique(fold):
        head = fit_head(feats, items, fold != k, dims)
        for v in VIEWS:
            z = _per_image(head.logit(feats[v][:, dims]), feats[v + "_idx"])
            out[v][fold == k] = z[fold == k]
    return out


def content_features(items) -> dict:
    """The frozen Lite0 features of every item (cached under data/cache)."""
    from models import features

    return features.extract(items, features.lite0_crops(), features.lite0_embedder(), "lite0")


def geometry(items) -> np.ndarray:
    """Shape-only features of the files as stored: log aspect ratio, its size, log short and long side."""
    from PIL import Image

    rows = []
    for it in items:
        with Image.open(it.path) as im:
            w, h = im.size
        a = np.log(w / h)
        rows.append([a, abs(a), float(w == h), np.log(min(w, h)), np.log(max(w, h))])
    return np.array(rows)


def style(items) -> np.ndarray:
    """Global colour and smoothness statistics of the normalised image."""
    from models import preprocess

    rows = []
    for it in items:
        a = np.asarray(preprocess.normalise(preprocess.load_image(it.path))).astype(np.float32)
        r, g, b = a[..., 0], a[..., 1], a[..., 2]
        mx, mn = a.max(2), a.min(2)
        sat = (mx - mn) / (mx + 1)
        rg, yb = r - g, 0.5 * (r + g) - b
        gray = a.mean(2)
        grad = np.abs(np.diff(gray, axis=0))[:, :-1] + np.abs(np.diff(gray, axis=1))[:-1]
        rows.append([sat.mean(), sat.std(), np.hypot(rg.std(), yb.std()), (grad < 2).mean(), (grad > 30).mean(),
                     gray.std()])
    return np.array(rows)


def held_out_scores(name: str, items, fold: np.ndarray, done: dict) -> dict[str, np.ndarray]:
    """Held-out logits of design ``name`` for every item (each scored by the model of its fold)."""
    if name in ("content", "content-top", "content-taps"):
        dims = {"content-top": slice(0, TOP), "content-taps": slice(TOP, None)}.get(name, slice(None))
        return _head_scores(content_features(items), items, fold, dims)
    if name == "lowlevel":
        from models import lowlevel

        return lowlevel.held_out_scores(items, fold)
    if name in MEAN_OF:  # an ensemble: the mean of its members' logits
        members = [done[m] if m in done else held_out_scores(m, items, fold, done) for m in MEAN_OF[name]]
        return {v: np.mean([m[v] for m in members], axis=0) for v in members[0]}
    if name in FROZEN:
        return frozen.frozen_held_out(items, fold, name)
    if name in FINETUNE:
        # one fine-tuning run per fold and schedule scores every rule: the others are kept in `done`
        schedule, rule = name.split("-")
        key = "_" + schedule
        if key not in done:
            sch = finetune.SCHEDULES[schedule]
            done[key] = finetune.held_out(items, fold, steps=sch["cv_steps"], lr=sch["lr"],
                                          train_from=sch["train_from"], balanced=sch.get("balanced", False))
        return done[key][rule]
    if name in PROBES:
        x = globals()[PROBES[name]](items)
        y, src = _labels(items)
        z = np.zeros(len(items))
        for k in np.unique(fold):
            tr = fold != k
            z[~tr] = logreg.fit(x[tr], y[tr], logreg.source_weights(src[tr], y[tr]), l2=1e-2).logit(x[~tr])
        return {"original": z}
    raise ValueError(f"unknown design {name!r}; known: {', '.join(ALL)}")
