"""The frozen logistic heads on the fine-tuning cache (``models.finetune.cache``): which views they train on,
which texture statistics sit beside the content features, and how their rows are weighted.

They share the cache, the views and the scoring rules with the fine-tuned designs, so both are compared
image for image; the head is ``models.logreg`` (Newton's method), the texture projections ``models.texture``.
"""

from __future__ import annotations

import numpy as np

from models import logreg, texture
from models.finetune import EVAL_VIEWS, cache, content_balance, image_scores, train_rows

# The frozen logistic heads cross-validation compares (on the same cache): which training views they fit
# (the native crops, or every view), texture statistics beside the content features (``models.texture``:
# "texture", the block-10 Gram matrix; "early", those of blocks 2 and 4), and class weights balanced within
# content clusters (``logreg.content_balance``).
FROZEN = {
    "frozen-crops": {"native_only": True, "texture": False, "early": False, "balanced": False},
    "frozen-multiview": {"native_only": False, "texture": False, "early": False, "balanced": False},
    "frozen-texture": {"native_only": False, "texture": True, "early": False, "balanced": False},
    "frozen-balanced": {"native_only": False, "texture": False, "early": False, "balanced": True},
    "frozen-texture-balanced": {"native_only": False, "texture": True, "early": False, "balanced": True},
    "frozen-early-balanced": {"native_only": False, "texture": True, "early": True, "balanced": True},
}


def texture_groups(design: str) -> list[str]:
    """The ``texture.GROUPS`` a frozen design reads, in the order of its head's inputs."""
    return [g for g in texture.GROUPS if FROZEN[design][g]]


def texture_blocks(c: dict, rows: np.ndarray, design: str, block10: np.ndarray | None = None) -> list[np.ndarray]:
    """Per texture group of the design, the cached rows' Gram entries (``block10``: the block-10 Gram of
    every cache row, when the caller has it already)."""
    out = []
    for group in texture_groups(design):
        if group == "texture":
            out.append(block10[rows] if block10 is not None else texture.gram(c["maps"][rows]))
        else:
            out.append(np.asarray(c["early"][rows], np.float32))
    return out


def frozen_inputs(c: dict, rows: np.ndarray, blocks=(), projs=()) -> np.ndarray:
    """The frozen head's inputs for cached rows: the content features, and beside them each texture
    group's projected Gram entries (``blocks`` of those rows, ``projs`` as ``fit_frozen`` returns them)."""
    return np.hstack([np.asarray(c["feats"][rows])] + [p(b) for (_, p), b in zip(projs, blocks)])


def fit_frozen(c: dict, items, rows: np.ndarray, design: str, blocks=()):
    """(logistic head, [(texture group, its projection)]) of a ``FROZEN`` design on the cached ``rows``
    (``blocks``: their ``texture_blocks``)."""
    from models.designs import CONTENT_L2

    spec = FROZEN[design]
    y = np.array([i.label for i in items])[c["image"][rows]]
    s = np.array([i.source for i in items])[c["image"][rows]]
    w = logreg.source_weights(s, y)
    if spec["balanced"]:
        w = w * content_balance(c, items, rows)
    projs = [(g, texture.fit_projection(b, texture.COMPONENTS[g])) for g, b in zip(texture_groups(design), blocks)]
    return logreg.fit(frozen_inputs(c, rows, blocks, projs), y, w, l2=CONTENT_L2), projs


def frozen_held_out(items, fold: np.ndarray, design: str) -> dict[str, np.ndarray]:
    """Held-out logits of a ``FROZEN`` design: a logistic head on the frozen features of the cache.

    frozen-crops: trained on the native crops, scoring the grid crops (the shipped ``content`` until
    2026-12); the others: trained on every training view, scoring the mean over global view and crops
    (for the texture designs, the projections fitted on each fold's training views only)."""
    c = cache(items)
    spec = FROZEN[design]
    g = texture.gram(c["maps"]) if spec["texture"] else None
    tr_rows = c["key"] == "train"
    use_train = np.zeros(len(c["key"]), bool)
    use_train[train_rows(c, native_only=spec["native_only"])] = True
    out = {v: np.full(len(items), np.nan) for v in EVAL_VIEWS}
    for k in np.unique(fold):
        rows = np.flatnonzero(use_train & (fold != k)[c["image"]])
        head, projs = fit_frozen(c, items, rows, design, texture_blocks(c, rows, design, g))
        ev = np.flatnonzero(~tr_rows & (fold == k)[c["image"]])
        per = image_scores(head.logit(frozen_inputs(c, ev, texture_blocks(c, ev, design, g), projs)), c, ev,
                           len(items))["crops" if spec["native_only"] else "mean"]
        for v in EVAL_VIEWS:
            m = ~np.isnan(per[v])
            out[v][m] = per[v][m]
    return out
