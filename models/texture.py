"""Texture statistics of a frozen Lite0 map: its channel Gram matrix, beside the content features.

Why: the frozen head's features are means (and mean squares) of single channels, so they describe
*what* is in the crop; a generator leaves its trace as well in *how channels co-occur* across the
image, the texture statistics that style transfer matches and that Gram-matrix detectors of GAN faces
use (Liu et al., "Global Texture Enhancement for Fake Face Detection in the Wild", CVPR 2020).
Held out, those statistics do not carry the "a face is a real photo" shortcut the content features
learn from our data.

- ``gram(maps)``: per crop, the uncentred second moments of the block-10 map's channels averaged over
  positions (the upper triangle of the 112 x 112 matrix; the mean is already a content feature).
- ``Projection``: standardised Gram entries projected on their first principal components (fitted on
  training crops only), which keeps the logistic head's Newton steps affordable.
- ``fold_head``: the head over [content features, projected Gram] folded into one weight vector over
  [content features, every Gram entry], so the served model is standard Keras layers (``gram_layer``).
- ``GROUPS``: block 10 alone ("texture"), or the early blocks 2 and 4 ("early"), each with its projection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.finetune import SPLIT as LAYER, SPLIT_SHAPE  # the last frozen block: its maps are in the cache

CHANNELS = SPLIT_SHAPE[-1]
# earlier layers, nearer the pixels (24 channels at 56 x 56, 40 at 28 x 28 on a 224 crop): the cache keeps the
# upper triangles of their Gram matrices (300 + 820 entries), the statistics of finer texture than block 10's
EARLY = ("block2_add", "block4_add")
N_COMPONENTS = 384  # measured: 128 gave +0.002 mean family AUC over the content features alone, 384 +0.010
FIT_ROWS = 6000  # training crops the projection is fitted on (a seeded sample)
_IU = np.triu_indices(CHANNELS)


def gram(maps: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """(n, h, w, 112) maps -> (n, 6328) float32: mean over positions of x_c * x_d, for c <= d."""
    out = np.empty((len(maps), len(_IU[0])), np.float32)
    for a in range(0, len(maps), chunk):
        m = np.asarray(maps[a:a + chunk], np.float32)
        m = m.reshape(len(m), -1, CHANNELS)
        g = np.einsum("npc,npd->ncd", m, m) / m.shape[1]
        out[a:a + chunk] = g[:, _IU[0], _IU[1]]
    return out


def gram_tf(x):
    """TensorFlow: (n, h, w, c) map -> (n, c(c+1)/2) upper triangle of its position-mean Gram matrix
    (the same entries, in the same order, as ``gram``)."""
    import tensorflow as tf

    c = int(x.shape[-1])
    flat = tf.reshape(x, (tf.shape(x)[0], -1, c))
    g = tf.einsum("npc,npd->ncd", flat, flat) / tf.cast(tf.shape(flat)[1], x.dtype)
    iu = np.triu_indices(c)
    return tf.gather(tf.reshape(g, (-1, c * c)), iu[0] * c + iu[1], axis=1)


@dataclass
class Projection:
    """p = ((g - mu) / sd) @ basis.T"""

    mu: np.ndarray
    sd: np.ndarray
    basis: np.ndarray  # (N_COMPONENTS, 6328)

    def __call__(self, g: np.ndarray) -> np.ndarray:
        return ((np.asarray(g, np.float32) - self.mu) / self.sd) @ self.basis.T


def fit_projection(g: np.ndarray, n: int = N_COMPONENTS, rows: int = FIT_ROWS, seed: int = 0) -> Projection:
    """Principal components of the standardised Gram entries of (a seeded sample of) training crops."""
    rng = np.random.default_rng(seed)
    sub = np.sort(rng.choice(len(g), min(rows, len(g)), replace=False))
    x = np.asarray(g[sub], np.float32)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    x = (x - mu) / sd
    # randomized SVD (Halko et al. 2011) with two power iterations: the full SVD of 6000 x 6328 takes
    # minutes per fold on 2 cores, this a few seconds, and the leading components agree
    q = np.linalg.qr(x @ rng.standard_normal((x.shape[1], n + 32)).astype(np.float32))[0]
    for _ in range(2):
        q = np.linalg.qr(x @ (x.T @ q))[0]
    _, _, vt = np.linalg.svd(q.T @ x, full_matrices=False)
    return Projection(mu, sd, vt[:n].astype(np.float32))


# the texture groups a frozen design can add (``frozen.FROZEN``'s flags of the same names): the layers whose
# Gram triangles one projection reads (concatenated in this order), and its number of components
GROUPS = {"texture": (LAYER,), "early": EARLY}
COMPONENTS = {"texture": N_COMPONENTS, "early": 256}  # early: 1120 entries


def fold_head(head, projs: list[tuple[str, Projection]], n_content: int) -> tuple[np.ndarray, list[np.ndarray], float]:
    """(w_content, [w over the full c x c matrix of each layer of each group, in order], b) with
    head.logit([f, proj_1(g_1), ...]) == f @ w_content + sum_l flat_gram_l(x) @ w_l + b, where flat_gram_l is
    the row-major c x c matrix of layer l's position means (only its upper triangle carries weight)."""
    w, b = head.raw_weights()  # over [f, p_1, p_2, ...]
    wf, at, per_layer = w[:n_content], n_content, []
    for group, proj in projs:
        wp = w[at:at + len(proj.basis)]
        at += len(proj.basis)
        v = proj.basis.T.astype(np.float64) @ wp / proj.sd  # over the group's triangles, concatenated
        b = b - float(proj.mu @ v)
        for name in GROUPS[group]:
            c = _channels(name)
            iu = np.triu_indices(c)
            full = np.zeros((c, c))
            full[iu], v = v[:len(iu[0])], v[len(iu[0]):]
            per_layer.append(full.reshape(-1))
    assert at == len(w), "the head's inputs are the content features and every projection"
    return wf, per_layer, float(b)


def _channels(layer: str) -> int:
    from models import lite0

    i, n = int(layer.removeprefix("block").split("_")[0]), 0
    for repeats, *_, out_ch in lite0.STAGES:
        n += repeats
        if i < n:
            return out_ch
    raise ValueError(layer)


def gram_layer(x, name: str = "texture"):
    """Keras: (None, h, w, c) -> (None, c * c) position means of channel products (row-major)."""
    from keras import layers

    h, w, ch = x.shape[1:]
    flat = layers.Reshape((h * w, ch), name=f"{name}_positions")(x)
    g = layers.Dot(axes=1, name=f"{name}_gram")([flat, flat])  # sums over positions
    g = layers.Rescaling(1.0 / (h * w), name=f"{name}_mean")(g)
    return layers.Flatten(name=name)(g)
