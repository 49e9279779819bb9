"""ROC, AUC, calibration and threshold selection in plain numpy (no scikit-learn needed)."""

from __future__ import annotations

import numpy as np

EPS = 1e-6


def _ranks(x):
    """1-based ranks with ties averaged."""
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    avg = np.cumsum(counts) - (counts - 1) / 2.0
    return avg[inv]


def roc_auc(y, p) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half); nan with one class."""
    y, p = np.asarray(y), np.asarray(p, dtype=float)
    n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r_pos = _ranks(p)[y == 1].sum()
    return float((r_pos - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_curve(y, p):
    """(fpr, tpr, thresholds) with 'p >= threshold' called positive, thresholds descending."""
    y, p = np.asarray(y), np.asarray(p, dtype=float)
    thr = np.unique(p)[::-1]
    P, N = max((y == 1).sum(), 1), max((y == 0).sum(), 1)
    tpr = np.array([((p >= t) & (y == 1)).sum() / P for t in thr])
    fpr = np.array([((p >= t) & (y == 0)).sum() / N for t in thr])
    return np.r_[0.0, fpr], np.r_[0.0, tpr], np.r_[np.inf, thr]


def rates(y, p, threshold: float) -> dict:
    """FPR/TPR/accuracy when p >= threshold is called AI-generated."""
    y, p = np.asarray(y), np.asarray(p, dtype=float)
    pred = p >= threshold
    out = {"threshold": float(threshold), "accuracy": float((pred == (y == 1)).mean())}
    if (y == 0).any():
        out["fpr"] = float(pred[y == 0].mean())
    if (y == 1).any():
        out["tpr"] = float(pred[y == 1].mean())
    return out


def logit(p):
    """Inverse sigmoid with clipping."""
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def sigmoid(z):
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def fit_platt(z, y, iters: int = 100, l2: float = 1e-3) -> tuple[float, float]:
    """Platt scaling: (a, b) minimising log-loss of sigmoid(a*z + b), by Newton's method."""
    z, y = np.asarray(z, dtype=float), np.asarray(y, dtype=float)
    a, b = 1.0, 0.0
    for _ in range(iters):
        p = sigmoid(a * z + b)
        g = np.array([((p - y) * z).sum() + l2 * (a - 1), (p - y).sum()])
        w = p * (1 - p)
        H = np.array([[(w * z * z).sum() + l2, (w * z).sum()], [(w * z).sum(), w.sum() + EPS]])
        step = np.linalg.solve(H, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-8:
            break
    return float(a), float(b)


def log_loss(y, p) -> float:
    """Mean binary cross-entropy."""
    y, p = np.asarray(y, dtype=float), np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def ece(y, p, bins: int = 10) -> float:
    """Expected calibration error over equal-width probability bins."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(abs(y[idx == b].mean() - p[idx == b].mean()) * (idx == b).mean()
                     for b in range(bins) if (idx == b).any()))


def choose_thresholds(y, p, max_fpr: float = 0.05, max_fnr: float = 0.05) -> dict:
    """Three-state thresholds from the ROC: 'fake' keeps FPR <= max_fpr on real photos,
    'real' keeps the share of AI images called real <= max_fnr; real <= fake always."""
    y, p = np.asarray(y), np.asarray(p, dtype=float)
    real_p, fake_p = np.sort(p[y == 0]), np.sort(p[y == 1])
    # smallest threshold with FPR <= max_fpr: just above the (1-max_fpr) quantile of real scores
    k = int(np.floor(max_fpr * len(real_p)))
    hi = float(real_p[len(real_p) - k - 1] + 1e-6) if len(real_p) else 0.5
    # largest threshold with miss rate <= max_fnr: at the max_fnr quantile of AI scores
    m = int(np.floor(max_fnr * len(fake_p)))
    lo = float(fake_p[m] - 1e-6) if len(fake_p) else 0.5
    hi = min(max(hi, 1e-6), 1 - 1e-6)
    lo = min(max(lo, 1e-6), hi)
    return {"fake": hi, "real": lo}
