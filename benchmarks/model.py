"""Raw model figures: forward passes on pre-decoded 224x224 crops, no I/O and no preprocessing.

Two ways of calling the same Keras model are timed, interleaved so background load hits both:
``compiled`` (``model(x)`` inside one ``tf.function``: the forward pass itself, the physical
limit) and ``predict`` (``Detector.predict``, i.e. ``model.predict`` as the worker calls it).
"""
from __future__ import annotations

import statistics
import time

import numpy as np


def crop_pool(det, paths: list[str], n: int = 64) -> np.ndarray:
    """Real inference crops (uint8, n x 224 x 224 x 3) from the first files of the set."""
    from worker import decode

    crops: list[np.ndarray] = []
    for p in paths:
        crops.extend(det.crops(decode.load_image(p, 10**9)))
        if len(crops) >= n:
            break
    return np.stack(crops[:n])


def callers(det):
    """{'compiled': f, 'predict': f}: each takes a uint8 batch and returns probabilities as numpy."""
    import tensorflow as tf

    s = det.input_size
    fwd = tf.function(lambda x: det.model(x, training=False),
                      input_signature=[tf.TensorSpec([None, s, s, 3], tf.float32)])  # one graph for every batch size
    return {
        "compiled": lambda b: fwd(tf.convert_to_tensor(b, dtype=tf.float32)).numpy(),
        "predict": det.predict,
    }


def _rate(call, batch: np.ndarray, seconds: float) -> tuple[float, list[float]]:
    """Images/s over about `seconds` of back-to-back calls, and the per-call times."""
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 3:
        t = time.perf_counter()
        call(batch)
        times.append(time.perf_counter() - t)
    return len(batch) * len(times) / sum(times), times


def measure(det, crops: np.ndarray, batch_sizes: tuple[int, ...], seconds: float = 2.0,
            rounds: int = 3) -> dict:
    """Median images/s and median per-call ms per (caller, batch size), over interleaved rounds."""
    fns = callers(det)
    for fn in fns.values():  # build graphs and warm caches outside the timed part
        for bs in batch_sizes:
            fn(crops[:bs])
            fn(crops[:bs])
    rates: dict = {}
    for _ in range(rounds):
        for name, fn in fns.items():
            for bs in batch_sizes:
                ips, times = _rate(fn, _batch(crops, bs), seconds)
                rates.setdefault((name, bs), {"ips": [], "ms": []})
                rates[(name, bs)]["ips"].append(ips)
                rates[(name, bs)]["ms"].extend(t * 1000 for t in times)
    out: dict = {}
    for (name, bs), r in rates.items():
        out.setdefault(name, {})[str(bs)] = {
            "ips": round(statistics.median(r["ips"]), 2), "ips_rounds": [round(x, 2) for x in r["ips"]],
            "ms_per_call_p50": round(statistics.median(r["ms"]), 2), "calls": len(r["ms"])}
    return out


def _batch(crops: np.ndarray, bs: int) -> np.ndarray:
    reps = -(-bs // len(crops))
    return np.concatenate([crops] * reps)[:bs] if reps > 1 else crops[:bs]
